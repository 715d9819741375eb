/*
 * nsx-connect: makes TCP connections inside one net namespace for a port
 * forward of nsxd, and hands each connected socket back over SCM_RIGHTS (a
 * socket stays in the namespace where it was made, as RootlessKit's port
 * driver relies on). One per forward, for as long as the forward lasts:
 * nsxd (multi-threaded Node) never calls setns itself.
 *
 *   nsx-connect          fd 3: a SOCK_SEQPACKET socket to nsxd, where each
 *                        connected socket goes; fd 4: the net namespace,
 *                        opened and checked by nsxd; stdin: requests, one a
 *                        line, "ID ADDRESS PORT"; stdout: "ready", then one
 *                        answer a request, in order: "ID ok" (the socket was
 *                        sent on fd 3 just before) or "ID err ERRNO".
 *
 * It joins the namespace, then drops to nobody (a connect needs no
 * privilege) with no_new_privs, and dies with nsxd (parent-death signal).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nsx-common.h"

#define FD_CHANNEL 3
#define FD_NETNS   4
/* How long one connect may take: a loopback one answers at once, a filtered address never. */
#define CONNECT_TIMEOUT_MS 5000
#define NOBODY		   65534

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* stdout is nsxd's pipe; its reader takes any line but ready or an answer as the reason. */
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	va_end(ap);
	_exit(125);
}

/* The namespace, then nobody: nothing after this needs root. The parent-death signal is set again after setresuid
 * clears it. */
static void enter(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent) die("nsxd went away");
	if (setns(FD_NETNS, CLONE_NEWNET) < 0) die("setns(net): %s", strerror(errno));
	close(FD_NETNS);
	if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 || setresuid(NOBODY, NOBODY, NOBODY) < 0)
		die("cannot drop to nobody: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		die("prctl: %s", strerror(errno));
	if (getppid() != parent) _exit(0);
	if (fcntl(FD_CHANNEL, F_SETFD, FD_CLOEXEC) < 0) die("fd 3 is not open: %s", strerror(errno));
}

/* A connected socket to address:port, or -errno. */
static int dial(const struct sockaddr *addr, socklen_t len)
{
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int err = 0;
	socklen_t errlen = sizeof(err);
	struct pollfd p = {.fd = fd, .events = POLLOUT};

	if (fd < 0) return -errno;
	if (connect(fd, addr, len) == 0) return fd;
	if (errno != EINPROGRESS)
		err = errno;
	else if (poll(&p, 1, CONNECT_TIMEOUT_MS) == 0)
		err = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0)
		err = errno;
	if (err) {
		close(fd);
		return -err;
	}
	return fd;
}

/* The socket to nsxd with its request's id as the data; 0 or -errno. */
static int hand_over(int fd, unsigned long id)
{
	char control[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = &id, .iov_len = sizeof(id)};
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)};
	struct cmsghdr *c;

	memset(control, 0, sizeof(control));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(FD_CHANNEL, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* One request line: "ID ADDRESS PORT". 0 for one that does not parse. */
static int parse_request(char *line, unsigned long *id, struct sockaddr_storage *ss, socklen_t *len)
{
	char address[INET6_ADDRSTRLEN];
	unsigned port;
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	if (sscanf(line, "%lu %45s %u", id, address, &port) != 3 || port < 1 || port > 65535) return 0;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, address, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*len = sizeof(*in4);
		return 1;
	}
	if (inet_pton(AF_INET6, address, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 1;
	}
	return 0;
}

int main(void)
{
	char line[128];
	pid_t parent = getppid();

	signal(SIGPIPE, SIG_IGN);
	enter(parent);
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		unsigned long id;
		struct sockaddr_storage ss;
		socklen_t len;
		int fd, err;

		if (!strchr(line, '\n') || !parse_request(line, &id, &ss, &len)) die("a request that does not parse");
		fd = dial((struct sockaddr *)&ss, len);
		err = fd < 0 ? -fd : 0;
		if (fd >= 0) {
			err = -hand_over(fd, id);
			close(fd);
			if (err) die("cannot hand the socket to nsxd: %s", strerror(err));
		}
		if (err)
			printf("%lu err %d\n", id, err);
		else
			printf("%lu ok\n", id);
		if (fflush(stdout) != 0) return 0;
	}
	return 0;
}
