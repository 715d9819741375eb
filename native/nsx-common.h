/*
 * What nsx-exec, nsx-session and nsx do alike, once. Each program is built
 * from several .c files (programs.json lists them; esbuild.mjs compiles them
 * with the same flags), and any of them may include this: so everything here
 * is static inline, and a file that uses none of a function gets no code for
 * it and no unused-function warning under -Werror.
 *
 * How a program fails differs: nsx-exec and nsx-session write "E<message>"
 * to a status fd and exit 125 (die_status, below); nsx hands off to the Node
 * client. So the rest here only says whether it worked, and the caller fails
 * its own way.
 */
#ifndef NSX_COMMON_H
#define NSX_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* The longest "E<message>" a helper writes to its status fd, the E included. */
#define STATUS_MAX 512

/*
 * A failure as nsxd reads it from a helper's status fd: "E" and the message,
 * cut to fit msg. Returns the bytes to write (the NUL after them is not
 * sent); msg + 1 is the message alone, as a C string.
 */
static inline int format_status(char msg[STATUS_MAX], const char *fmt, va_list ap)
{
	int n;

	msg[0] = 'E';
	n = vsnprintf(msg + 1, STATUS_MAX - 1, fmt, ap);
	if (n < 0) n = 0;
	if (n > STATUS_MAX - 2) n = STATUS_MAX - 2;
	return n + 1;
}

/*
 * The end of nsx-exec and nsx-session before their work starts: the failure
 * to nsxd on status_fd, and exit 125. With a name, a failure that cannot be
 * written there goes to stderr with that name before it (nsx-exec's stderr
 * is a pipe nsxd reads, or the session's terminal); with NULL, it goes
 * nowhere (nsx-session's stderr is nobody's: nsxd gives it none).
 */
static inline void __attribute__((noreturn, format(printf, 3, 0)))
die_status(int status_fd, const char *name, const char *fmt, va_list ap)
{
	char msg[STATUS_MAX];
	int n = format_status(msg, fmt, ap);

	if ((status_fd < 0 || write(status_fd, msg, n) < 0) && name) dprintf(2, "%s: %s\n", name, msg + 1);
	_exit(125);
}

/* A decimal number from 0 to max, the whole of s; 0 if s is anything else. */
static inline int parse_number(const char *s, long max, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return !errno && *s != '\0' && *end == '\0' && *v >= 0 && *v <= max;
}

/* A pidfd (always close-on-exec) of pid; -1 and errno if there is none. */
static inline int pidfd_of_pid(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* The code a shell reports for a wait status: its exit code, or 128 + the signal that killed it. */
static inline int exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The address of the Unix socket at path; 0 if path does not fit in one. */
static inline int unix_address(struct sockaddr_un *addr, const char *path)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(addr->sun_path)) return 0;
	strcpy(addr->sun_path, path);
	return 1;
}

#endif
