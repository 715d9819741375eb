/*
 * What the files of nsx's C front share. nsx.c reads the command line and
 * runs the one request; cli-rpc.c is the connection to nsxd and its framing;
 * cli-json.c reads just enough JSON; cli-print.c writes the table as the
 * Node client would.
 */
#ifndef NSX_CLI_H
#define NSX_CLI_H

#include <stddef.h>
#include <sys/types.h>

#include "nsx-common.h"

/* The connection to nsxd and what it sent: `used` bytes of `in` are a message already read. */
struct connection {
	int sock;
	char *in;
	size_t in_len, in_cap, used;
};

/* Where nsx writes: a file (fd), buffered, or memory (fd -1), grown as it fills. */
struct output {
	int fd;
	/* errno of the first write that failed (ENOMEM for memory): nothing is written after it. */
	int failed;
	char *buf;
	size_t len, cap;
};

/* cli-rpc.c */
int connect_to(struct connection *c, const char *path);
void only_root(const struct connection *c, const char *path);
int say(struct connection *c, const char *body);
char *answer(struct connection *c, unsigned long id, char **end);

/* cli-json.c */
char *member(char *p, char *e, const char *key);
int is_number(const char *p, const char *e, unsigned long n);
ssize_t decode(char *p, char *e);
char *value_end(char *p, char *e);
char *canonical(char *p, char *e, int depth);

/* cli-list.c: an answer to namespaces/list, read to be written as `nsx list --json`. */
struct list {
	char *namespaces, *containers, *engines, *end;
	struct process *processes;
	size_t count;
	/* The texts of the processes made so far. */
	struct output made;
};
int list_types(const char *types);
int list_read(struct list *l, char *result, char *end);
int list_write(struct list *l, const char *types, struct output *o);
void list_done(struct list *l);

/* cli-bridge.c */
int bridge(const char *path);

/* cli-print.c */
void out_put(struct output *o, const void *p, size_t n);
int out_flush(struct output *o);
long utf8(const unsigned char **p, const unsigned char *e);
int reorders(long c);
int print(const char *text, const char *end);

#endif
