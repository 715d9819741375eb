/*
 * What the files of nsx-exec share: the request nsxd made, the namespace
 * types, and the two fds every step may need. nsx-exec.c reads the request
 * and runs the steps in their order; exec-namespaces.c joins and unshares,
 * exec-process.c holds what it keeps open and the processes it forks,
 * exec-user.c becomes the user and execs the shell.
 */
#ifndef NSX_EXEC_H
#define NSX_EXEC_H

#include <limits.h>
#include <sched.h>
#include <sys/types.h>

#include "nsx-common.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

struct nstype {
	const char *name;
	int flag;
};

/* In the order util-linux nsenter joins in; NTYPES of them. */
extern const struct nstype nstypes[];
#define NTYPES 8

/* Where failures go before exec (-1 until --status-fd is read); it closes on exec. */
extern int status_fd;
/* A pidfd of our parent: it becomes readable when the parent exits. */
extern int parent_pidfd;

struct identity {
	int set;
	uid_t uid;
	gid_t gid;
	gid_t groups[NGROUPS_MAX];
	size_t ngroups;
};

/* What nsxd asked for, from the command line. */
struct request {
	int join_fds[NTYPES];
	int unshare_flags;
	int map_root, mount_proc, hold, pty, builtin_cat;
	const char *hostname, *home;
	const char *shells[8];
	size_t nshells;
	struct identity id;
	char **command; /* NULL: a login shell */
};

void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
long number(const char *s, long max);

/* exec-namespaces.c */
int type_index(const char *name);
int join_namespaces(struct request *req);
void unshare_namespaces(struct request *req);

/* exec-process.c */
void exit_with_parent(void);
void close_inherited(const struct request *req);
void hold(void) __attribute__((noreturn));
void fork_into_namespaces(const struct request *req, int joined_other);

/* exec-user.c */
void parse_groups(struct identity *id, const char *list);
void become(const struct identity *id);
void become_session_user(const struct request *req);
void exec_shell(const struct request *req) __attribute__((noreturn));

#endif
