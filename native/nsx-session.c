/*
 * nsx-session: the supervisor of one session, as conmon is of a podman
 * container. nsxd starts one per terminal; it holds the session's pty (or
 * pipes) and cgroup, starts nsx-exec on them, and outlives nsxd: a restarted
 * nsxd connects to it again and the client's terminal goes on where it was,
 * with what the shell printed meanwhile.
 *
 *   nsx-session --socket PATH --orphan-timeout SECONDS --pass-fds N
 *               [--connected] [--pty ROWS:COLS] [--cgroup DIR] -- LAUNCHER ARGS...
 *   nsx-session --spawner      (what nsxd starts the others through: session-spawner.c)
 *
 * Fds 3 .. 3+N-1 are nsx-exec's (its status fd and namespace fds) and are
 * handed on to it alone. Errors before that are written to fd 3 as
 * "E<message>", as nsx-exec writes its own. With --connected, fd 3+N is a
 * connection of the nsxd that opens the session, which has the session from
 * the start (as if it had said A): its hello and the first output go out as
 * soon as there are any, without a connect, an accept and an A to wait for.
 *
 * It answers on PATH, a socket in a folder only root may enter, and talks
 * only to uid 0 (nsxd), one connection at a time, in frames of a type byte,
 * a 4-byte big-endian length and the payload:
 *   to nsxd:   H (pid u32, then the info nsxd stored), O/E (output, stdout or
 *              stderr with pipes), X (exit: code i32, signal i32)
 *   from nsxd: S (info to keep: who owns the session), A (a client has the
 *              session now), D (input), C (end of input, pipes), W (window
 *              size: rows u16, cols u16), K (kill)
 * Before its first client it holds up to SCROLLBACK bytes of output and then
 * reads no more (the shell waits: nothing is lost before anyone saw it).
 * While no client has it after that, it keeps the last SCROLLBACK bytes, and
 * ends the session once the orphan timeout has passed since the last client
 * went (a connection that never said A, such as a refused attach, does not
 * count as one: nobody keeps a session alive by knocking). It ends when the shell has
 * exited and nsxd has taken the exit, or when told to: the whole cgroup is
 * killed, the socket and the cgroup removed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/sched.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "session.h"

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* Its stderr is nobody's (nsxd gives it none): the status fd is the only word there is. */
	die_status(STATUS_FD, NULL, fmt, ap);
}

long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void parse_size(const char *arg, struct winsize *ws)
{
	unsigned rows, cols;
	char end;

	if (sscanf(arg, "%u:%u%c", &rows, &cols, &end) != 2 || rows < 1 || cols < 1 || rows > 10000 || cols > 10000)
		die("bad --pty %s", arg);
	ws->ws_row = (unsigned short)rows;
	ws->ws_col = (unsigned short)cols;
}

static void listen_on(struct session *s, const char *path)
{
	struct sockaddr_un addr;
	mode_t old;

	if (!unix_address(&addr, path)) die("socket path too long: %s", path);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->listen_fd < 0) die("socket: %s", strerror(errno));
	old = umask(077);
	if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) die("bind %s: %s", path, strerror(errno));
	umask(old);
	if (listen(s->listen_fd, 4) < 0) die("listen: %s", strerror(errno));
}

/*
 * A child born in the session's cgroup (clone3 with CLONE_INTO_CGROUP), and
 * its pidfd. Moving a process in afterwards, by a write to cgroup.procs,
 * waits for an RCU grace period: tens of milliseconds, up to hundreds, on a
 * busy machine, before the shell can start. Kernels before 5.7 have no
 * CLONE_INTO_CGROUP: there the child joins by that write.
 */
static pid_t fork_into_cgroup(struct session *s)
{
	struct clone_args args = {.flags = CLONE_PIDFD, .pidfd = (uintptr_t)&s->pidfd, .exit_signal = SIGCHLD};
	pid_t pid;

	if (s->cgroup_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)s->cgroup_fd;
	}
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid >= 0 || (errno != ENOSYS && errno != EINVAL && errno != E2BIG)) return pid;
	pid = fork();
	if (pid == 0 && s->cgroup_fd >= 0) {
		int procs = openat(s->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);

		if (procs < 0 || write(procs, "0\n", 2) != 2) die("join session cgroup: %s", strerror(errno));
		close(procs);
	}
	if (pid > 0 && (s->pidfd = pidfd_of_pid(pid)) < 0) die("pidfd_open: %s", strerror(errno));
	return pid;
}

/* nsx-exec on the child's ends, with the fds nsxd handed on; nothing else of ours reaches it. */
static void start(struct session *s, char **argv, int child_fds[3], const sigset_t *mask, int pass_fds)
{
	s->child = fork_into_cgroup(s);
	if (s->child < 0) die("fork: %s", strerror(errno));
	if (s->child == 0) {
		if (sigprocmask(SIG_UNBLOCK, mask, NULL) < 0) die("sigprocmask: %s", strerror(errno));
		signal(SIGPIPE, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		for (int i = 0; i < 3; i++)
			if (dup2(child_fds[i], i) < 0) die("dup2: %s", strerror(errno));
		execv(argv[0], argv);
		die("%s: %s", argv[0], strerror(errno));
	}
	/* The status fd goes with the rest: nsxd reads nsx-exec's word on it now. */
	if (syscall(SYS_close_range, STATUS_FD, STATUS_FD + pass_fds - 1, 0) < 0)
		die("close_range: %s", strerror(errno));
	for (int i = 0; i < 3; i++)
		if (i == 0 || child_fds[i] != child_fds[i - 1]) close(child_fds[i]);
}

/* What nsxd asked for, from the command line. */
struct options {
	struct winsize ws, *pty;
	int pass_fds, connected;
	char **launcher;
};

static void parse_args(struct session *s, int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{"socket", required_argument, 0, 's'},
		{"orphan-timeout", required_argument, 0, 'o'},
		{"pass-fds", required_argument, 0, 'p'},
		{"pty", required_argument, 0, 't'},
		{"cgroup", required_argument, 0, 'c'},
		{"connected", no_argument, 0, 'C'},
		{0, 0, 0, 0},
	};
	int opt;
	/* Up to a week, as nsxd allows; 0 until given, which the usage refuses. */
	long orphan = 0, pass_fds = 0;

	o->pty = NULL;
	o->connected = 0;
	while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (opt) {
		case 's': s->socket_path = optarg; break;
		case 'o':
			if (!parse_number(optarg, 7 * 24 * 3600, &orphan)) die("bad --orphan-timeout %s", optarg);
			break;
		case 'p':
			if (!parse_number(optarg, 64, &pass_fds)) die("bad --pass-fds %s", optarg);
			break;
		case 't':
			parse_size(optarg, &o->ws);
			o->pty = &o->ws;
			break;
		case 'c': s->cgroup_path = optarg; break;
		case 'C': o->connected = 1; break;
		default: die("bad arguments");
		}
	}
	if (!s->socket_path || orphan < 1 || pass_fds < 1 || optind >= argc)
		die("usage: nsx-session --socket PATH --orphan-timeout SECONDS --pass-fds N [--pty ROWS:COLS] "
		    "[--cgroup DIR] -- LAUNCHER ARGS...");
	s->orphan_ms = orphan * 1000LL;
	o->pass_fds = (int)pass_fds;
	o->launcher = argv + optind;
}

/* Before anything else is opened: what this root process holds and how it takes signals. */
static void lock_down(struct session *s, const struct options *o, sigset_t *mask)
{
	/* Nothing but what nsxd handed on by number; and no one may read this root process's memory. */
	if (syscall(SYS_close_range, STATUS_FD + o->pass_fds + o->connected, ~0U, 0) < 0)
		die("close_range: %s", strerror(errno));
	/* nsxd's connection is ours alone: nsx-exec, forked next, never sees it. */
	if (o->connected && (fcntl(STATUS_FD + o->pass_fds, F_SETFD, FD_CLOEXEC) < 0 ||
			     fcntl(STATUS_FD + o->pass_fds, F_SETFL, O_NONBLOCK) < 0))
		die("connection: %s", strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) die("dumpable: %s", strerror(errno));
	/*
	 * A fixed threshold: a long frame's buffer is mapped and unmapped on its
	 * own. The default one rises to the size of the first such buffer freed,
	 * and the next would stay in the heap once freed.
	 */
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigemptyset(mask);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, mask, NULL) < 0) die("sigprocmask: %s", strerror(errno));
	s->signal_fd = signalfd(-1, mask, SFD_CLOEXEC);
	if (s->signal_fd < 0) die("signalfd: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	struct session s = {
		.listen_fd = -1, .conn_fd = -1, .cgroup_fd = -1, .master = -1, .in_fd = -1, .out_fd = -1, .err_fd = -1};
	struct options o;
	int child_fds[3];
	sigset_t mask;

	if (argc == 2 && strcmp(argv[1], "--spawner") == 0) spawner();
	parse_args(&s, argc, argv, &o);
	lock_down(&s, &o, &mask);
	if (s.cgroup_path && (s.cgroup_fd = open(s.cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die("open %s: %s", s.cgroup_path, strerror(errno));
	listen_on(&s, s.socket_path);
	open_stdio(&s, o.pty, child_fds);
	start(&s, o.launcher, child_fds, &mask, o.pass_fds);
	if (o.connected) on_connected(&s, STATUS_FD + o.pass_fds);
	s.orphan_at = now_ms() + s.orphan_ms;
	run(&s);
}
