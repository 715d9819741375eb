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

/* cli-rpc.c */
int connect_to(struct connection *c, const char *path);
void only_root(const struct connection *c, const char *path);
int say(struct connection *c, const char *body);
char *answer(struct connection *c, unsigned long id, char **end);

/* cli-json.c */
char *member(char *p, char *e, const char *key);
int is_number(const char *p, const char *e, unsigned long n);
ssize_t decode(char *p, char *e);

/* cli-bridge.c */
int bridge(const char *path);

/* cli-print.c */
int print(const char *text, const char *end);

#endif
