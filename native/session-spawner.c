/*
 * nsx-session --spawner: the one small process nsxd starts its sessions'
 * supervisors through. Node forks nsxd itself for every child it spawns,
 * and blocks until that child has exec'd: a fork of a process holding the
 * model of a 20,000-process host, with nsxd's one thread stopped meanwhile,
 * at every terminal opened. This process forks in a millisecond's fraction
 * and nsxd goes on.
 *
 * fd 3 is a SOCK_SEQPACKET socket of nsxd's (nothing else reaches it): each
 * message is one supervisor to start, the argument count and the
 * environment's (u32 each, little-endian), then as many NUL-ended strings
 * (argv[0] is the program), with its fds as SCM_RIGHTS, which become the
 * supervisor's 3, 4, ... For each, in order, the pid started (u32,
 * little-endian, 0 for none) is written to stdout. It ends when nsxd closes its end. A child that
 * cannot exec says why on its fd 3 (the status fd), as nsx-session would.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "session.h"

#define REQUESTS    3
#define MAX_REQUEST (256 * 1024)
#define MAX_FDS	    64
#define MAX_STRINGS 1024

/* One message: its strings, split in place, and its fds. */
struct request {
	char *argv[MAX_STRINGS + 2], *envp[MAX_STRINGS + 2];
	int fds[MAX_FDS];
	size_t nfds;
};

static uint32_t get_le_u32(const unsigned char *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* The strings of a message: argc then envc of them, each NUL-ended, and nothing after. */
static int parse_strings(struct request *r, char *data, size_t len)
{
	uint32_t argc, envc;
	size_t at = 8;

	if (len < 8) return 0;
	argc = get_le_u32((unsigned char *)data);
	envc = get_le_u32((unsigned char *)data + 4);
	if (argc < 1 || argc > MAX_STRINGS || envc > MAX_STRINGS) return 0;
	for (uint32_t i = 0; i < argc + envc; i++) {
		char *end = memchr(data + at, '\0', len - at);

		if (!end) return 0;
		if (i < argc)
			r->argv[i] = data + at;
		else
			r->envp[i - argc] = data + at;
		at = (size_t)(end - data) + 1;
	}
	r->argv[argc] = NULL;
	r->envp[envc] = NULL;
	return at == len;
}

/* The next message; 0 once nsxd has gone. A malformed one comes back with no argv[0]. */
static int receive(struct request *r, char *data)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
	} control;
	struct iovec iov = {.iov_base = data, .iov_len = MAX_REQUEST};
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control)};
	ssize_t n;

	do n = recvmsg(REQUESTS, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0) return 0;
	r->nfds = 0;
	r->argv[0] = NULL;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) && r->nfds < MAX_FDS; i++)
			memcpy(&r->fds[r->nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || r->nfds == 0 || !parse_strings(r, data, (size_t)n))
		r->argv[0] = NULL;
	return 1;
}

/* In the child: its fds at 3, 4, ... (above them first, so that none is overwritten), stdout /dev/null, then exec. */
static void __attribute__((noreturn)) become(struct request *r)
{
	char msg[STATUS_MAX];
	int len;

	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	if (setsid() < 0) _exit(127);
	for (size_t i = 0; i < r->nfds; i++)
		if ((r->fds[i] = fcntl(r->fds[i], F_DUPFD_CLOEXEC, STATUS_FD + (int)r->nfds)) < 0) _exit(127);
	for (size_t i = 0; i < r->nfds; i++)
		if (dup2(r->fds[i], STATUS_FD + (int)i) < 0) _exit(127);
	if (dup2(0, 1) < 0) _exit(127);
	execve(r->argv[0], r->argv, r->envp);
	len = snprintf(msg, sizeof(msg), "E%s: %s", r->argv[0], strerror(errno));
	if (write(STATUS_FD, msg, (size_t)len) < 0) { /* nsxd sees the status fd close either way */
	}
	_exit(127);
}

void spawner(void)
{
	static char data[MAX_REQUEST];
	static struct request r;

	/* Nothing but the requests' socket and stdio; not dumpable; gone with nsxd. */
	if (syscall(SYS_close_range, REQUESTS + 1, ~0U, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || prctl(PR_SET_NAME, "nsx-spawner", 0, 0, 0) < 0)
		_exit(125);
	/* The supervisors it starts are reaped as they end: nsxd watches each over its own connection. */
	signal(SIGCHLD, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	while (receive(&r, data)) {
		uint32_t pid = 0;
		unsigned char le[4];

		if (r.argv[0]) {
			pid_t child = fork();

			if (child == 0) become(&r);
			pid = child > 0 ? (uint32_t)child : 0;
		}
		for (size_t i = 0; i < r.nfds; i++) close(r.fds[i]);
		for (int i = 0; i < 4; i++) le[i] = (unsigned char)(pid >> (8 * i));
		if (write(1, le, sizeof(le)) != sizeof(le)) _exit(125);
	}
	_exit(0);
}
