/*
 * nsx-exec: the single-threaded launcher of every session (started by the
 * session's supervisor, nsx-session) and of what nsxd does inside namespaces
 * for one request alone (namespaces/create, --cat: started by nsxd itself).
 *
 * nsxd is a Node process, so it is multi-threaded and may never setns() or
 * unshare() itself (setns into a mnt or user namespace fails with EINVAL in a
 * multi-threaded process, and any switch would move one thread only). It
 * opens and checks the namespace fds, then hands them to this program, which
 * does the privileged steps in the careful order util-linux nsenter/unshare
 * use, drops to the requesting user, and execs the shell.
 *
 * Only nsxd runs it, itself or through nsx-session, which hands nsxd's
 * arguments and fds on unchanged; it trusts its arguments but still checks them.
 * Errors before exec are written to --status-fd as "E<message>" and exit 125;
 * a successful exec closes that fd with nothing written (it is O_CLOEXEC).
 *
 *   nsx-exec [--cgroup-procs FD] [--join TYPE:FD]... [--unshare TYPE]...
 *            [--map-root] [--hostname NAME] [--mount-proc] [--hold]
 *            [--uid N --gid N --groups G,G,...] [--pty] [--home DIR]
 *            [--shell PATH]... --status-fd FD [-- COMMAND ARGS...]
 *            [--cat -- FILE...]   (print files from inside, with no binary needed there)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nsx-common.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

struct nstype {
	const char *name;
	int flag;
};

/* The order util-linux nsenter joins in: user first (when it grants what the rest need), mnt late. */
static const struct nstype nstypes[] = {
	{"user", CLONE_NEWUSER}, {"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
	{"net", CLONE_NEWNET},	 {"pid", CLONE_NEWPID},	      {"mnt", CLONE_NEWNS},  {"time", CLONE_NEWTIME},
};
#define NTYPES (sizeof(nstypes) / sizeof(nstypes[0]))

static int status_fd = -1;
/* A pidfd of our parent: it becomes readable when the parent exits. */
static int parent_pidfd = -1;

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	char msg[STATUS_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = format_status(msg, fmt, ap);
	va_end(ap);
	if (status_fd < 0 || write(status_fd, msg, n) < 0) dprintf(2, "nsx-exec: %s\n", msg + 1);
	_exit(125);
}

static int type_index(const char *name)
{
	for (size_t i = 0; i < NTYPES; i++)
		if (strcmp(nstypes[i].name, name) == 0) return (int)i;
	die("unknown namespace type %s", name);
}

static long number(const char *s, long max)
{
	long v;

	if (!parse_number(s, max, &v)) die("bad number %s", s);
	return v;
}

static int pidfd_of(pid_t pid)
{
	int fd = pidfd_of_pid(pid);

	if (fd < 0) die("pidfd_open: %s", strerror(errno));
	return fd;
}

/* Every process nsx-exec makes dies with its parent, so that nothing outlives
 * whoever started it: nsxd, for what lasts one request, or the session's
 * supervisor nsx-session, which outlives nsxd and ends the session when it
 * goes. The parent-death signal is not inherited by fork and is cleared by
 * every credential change (setns into a user namespace, unshare of one,
 * setresuid), so it is set again after each; the parent may have gone just
 * before, which its pidfd tells (getppid cannot: across a pid namespace it is 0). */
static void exit_with_parent(void)
{
	struct pollfd p = {.fd = parent_pidfd, .events = POLLIN};

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) die("parent-death signal: %s", strerror(errno));
	if (poll(&p, 1, 0) != 0) die("parent gone");
}

/* fork, with the child's parent-death signal armed against this process. */
static pid_t fork_or_die(void)
{
	int self = pidfd_of(getpid());
	pid_t pid = fork();

	if (pid < 0) die("fork: %s", strerror(errno));
	if (pid > 0) {
		close(self);
		return pid;
	}
	close(parent_pidfd);
	parent_pidfd = self;
	exit_with_parent();
	return 0;
}

static int compare_fds(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Closes every fd but those listed (and 0-2): whatever nsxd may have let slip
 * through (its own inherited fds, another session's pty) never reaches a
 * process a user controls, not even for the instant before exec. */
static void close_all_but(int *keep, size_t n)
{
	unsigned int from = 3;

	if (n > 0) qsort(keep, n, sizeof(*keep), compare_fds);
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < (int)from) continue;
		if ((unsigned int)keep[i] > from && syscall(SYS_close_range, from, keep[i] - 1, 0) < 0)
			die("close_range: %s", strerror(errno));
		from = keep[i] + 1;
	}
	if (syscall(SYS_close_range, from, ~0U, 0) < 0) die("close_range: %s", strerror(errno));
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(text);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len) die("write %s: %s", path, strerror(errno));
	close(fd);
}

static ino_t fd_inode(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0) die("fstat: %s", strerror(errno));
	return st.st_ino;
}

static int same_namespace(int fd, const char *own)
{
	struct stat a, b;

	if (fstat(fd, &a) < 0 || stat(own, &b) < 0) die("stat %s: %s", own, strerror(errno));
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Two passes, as nsenter: entering a user namespace first can deprive us of
 * the rights to enter the others (or be needed for them), so everything but
 * user goes first and whatever failed is retried after user. */
static void join_all(int fds[NTYPES])
{
	int self_user = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);

	if (fds[0] >= 0 && self_user >= 0 && fd_inode(fds[0]) == fd_inode(self_user)) {
		/* setns into one's own user namespace is EINVAL; it is a no-op anyway */
		close(fds[0]);
		fds[0] = -1;
	}
	if (self_user >= 0) close(self_user);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = pass ? 0 : 1; i < NTYPES; i++) {
			if (fds[i] < 0) continue;
			if (setns(fds[i], nstypes[i].flag) < 0) {
				if (pass == 1) die("setns(%s): %s", nstypes[i].name, strerror(errno));
				continue;
			}
			close(fds[i]);
			fds[i] = -1;
		}
	}
}

static void loopback_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0) die("socket: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) die("SIOCGIFFLAGS lo: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) die("bring lo up: %s", strerror(errno));
	close(s);
}

struct identity {
	int set;
	uid_t uid;
	gid_t gid;
	gid_t groups[NGROUPS_MAX];
	size_t ngroups;
};

static void parse_groups(struct identity *id, const char *list)
{
	char *copy = strdup(list), *save = NULL, *tok;

	if (!copy) die("out of memory");
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (id->ngroups >= NGROUPS_MAX) die("too many groups");
		id->groups[id->ngroups++] = (gid_t)number(tok, 0xfffffffe);
	}
	free(copy);
}

/* Become the requesting user (its groups are already set): gid, uid, then no
 * way back. A non-root user keeps no capability in any set (bounding set
 * dropped while we still may). The ids are those of the user namespace we are
 * in by now; nsxd translated them through the joined one's maps. */
static void become(const struct identity *id)
{
	if (id->uid != 0) {
		/* Past the kernel's last capability PR_CAPBSET_DROP says EINVAL: up to 63 covers any kernel. */
		for (int cap = 0; cap < 64; cap++)
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
				die("drop capability %d: %s", cap, strerror(errno));
	}
	if (setresgid(id->gid, id->gid, id->gid) < 0)
		die("setgid(%u): %s%s", id->gid, strerror(errno),
		    errno == EINVAL ? " (the gid has no mapping in the target's user namespace)" : "");
	if (setresuid(id->uid, id->uid, id->uid) < 0)
		die("setuid(%u): %s%s", id->uid, strerror(errno),
		    errno == EINVAL ? " (the uid has no mapping in the target's user namespace)" : "");
	if (id->uid != 0) {
		struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
		struct __user_cap_data_struct data[2];

		memset(data, 0, sizeof(data));
		if (syscall(SYS_capset, &hdr, data) < 0) die("capset: %s", strerror(errno));
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
			die("clear ambient capabilities: %s", strerror(errno));
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("no_new_privs: %s", strerror(errno));
	}
}

/* "0 UID 1": the caller is root inside, nobody else is mapped (unshare -r). */
static void map_root(uid_t uid, gid_t gid)
{
	char map[64];

	snprintf(map, sizeof(map), "0 %u 1", uid);
	write_file("/proc/self/uid_map", map);
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1", gid);
	write_file("/proc/self/gid_map", map);
}

/* A supervisor or an init lives as long as the session, as the session's user
 * when that is not root: it holds the pty as 0-2 and nothing else (its
 * parent-death signal is armed; the status fd is the exec'ing child's). */
static void keep_only_stdio(void)
{
	close_all_but(NULL, 0);
	status_fd = parent_pidfd = -1;
}

static pid_t child;

static void forward(int sig)
{
	if (child > 0) {
		kill(child, SIGKILL);
		kill(-child, SIGKILL);
	}
	(void)sig;
	_exit(128 + SIGKILL);
}

/* The parent of a session that changed pid (or time) namespace waits for its
 * child, which is the first process in the new view. Closing a session
 * (SIGTERM from the session's supervisor nsx-session, or SIGHUP) kills that
 * child and its process group. */
static void supervise(void)
{
	int status;

	keep_only_stdio();

	signal(SIGTERM, forward);
	signal(SIGHUP, forward);
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGTSTP, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR) _exit(125);
	_exit(exit_code(status));
}

/* pid 1 of a new pid namespace: reap every orphan until the shell ends; the
 * kernel then kills what is left in the namespace when we exit. */
static void be_init(pid_t shell)
{
	int status, shell_status = 0;
	pid_t pid;

	keep_only_stdio();

	for (;;) {
		pid = wait(&status);
		if (pid == shell) {
			shell_status = status;
			break;
		}
		if (pid < 0 && errno != EINTR) break;
	}
	_exit(exit_code(shell_status));
}

static int cat(char **files)
{
	char buf[65536];
	ssize_t n;

	for (; *files; files++) {
		int fd = open(*files, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			dprintf(2, "%s: %s\n", *files, strerror(errno));
			return 1;
		}
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (write(1, buf, n) != n) return 1;
		close(fd);
	}
	return 0;
}

/* What nsxd asked for, from the command line. */
struct request {
	int join_fds[NTYPES];
	int unshare_flags;
	int cgroup_fd;
	int map_root, mount_proc, hold, pty, builtin_cat;
	const char *hostname, *home;
	const char *shells[8];
	size_t nshells;
	struct identity id;
	char **command; /* NULL: a login shell */
};

static void parse_args(int argc, char **argv, struct request *req)
{
	static const struct option opts[] = {
		{"cgroup-procs", required_argument, 0, 'c'},
		{"join", required_argument, 0, 'j'},
		{"unshare", required_argument, 0, 'n'},
		{"map-root", no_argument, 0, 'r'},
		{"hostname", required_argument, 0, 'h'},
		{"mount-proc", no_argument, 0, 'p'},
		{"hold", no_argument, 0, 'H'},
		{"uid", required_argument, 0, 'u'},
		{"gid", required_argument, 0, 'g'},
		{"groups", required_argument, 0, 'G'},
		{"pty", no_argument, 0, 't'},
		{"home", required_argument, 0, 'd'},
		{"shell", required_argument, 0, 's'},
		{"status-fd", required_argument, 0, 'S'},
		{"cat", no_argument, 0, 'C'},
		{0, 0, 0, 0},
	};
	int opt, have_uid = 0, have_gid = 0;

	memset(req, 0, sizeof(*req));
	req->cgroup_fd = -1;
	req->home = "/";
	for (size_t i = 0; i < NTYPES; i++) req->join_fds[i] = -1;
	while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': req->cgroup_fd = (int)number(optarg, 1 << 20); break;
		case 'j': {
			char *colon = strchr(optarg, ':');

			if (!colon) die("--join wants TYPE:FD");
			*colon = '\0';
			req->join_fds[type_index(optarg)] = (int)number(colon + 1, 1 << 20);
			break;
		}
		case 'n': req->unshare_flags |= nstypes[type_index(optarg)].flag; break;
		case 'r': req->map_root = 1; break;
		case 'h': req->hostname = optarg; break;
		case 'p': req->mount_proc = 1; break;
		case 'H': req->hold = 1; break;
		case 'u':
			req->id.uid = (uid_t)number(optarg, 0xfffffffe);
			have_uid = 1;
			break;
		case 'g':
			req->id.gid = (gid_t)number(optarg, 0xfffffffe);
			have_gid = 1;
			break;
		case 'G': parse_groups(&req->id, optarg); break;
		case 't': req->pty = 1; break;
		case 'd': req->home = optarg; break;
		case 's':
			if (req->nshells < sizeof(req->shells) / sizeof(req->shells[0]))
				req->shells[req->nshells++] = optarg;
			break;
		case 'S': status_fd = (int)number(optarg, 1 << 20); break;
		case 'C': req->builtin_cat = 1; break;
		default: die("bad arguments");
		}
	}
	if (have_uid != have_gid) die("--uid and --gid go together");
	req->id.set = have_uid;
	if (req->id.set && req->id.uid != 0)
		for (size_t i = 0; i < req->id.ngroups; i++)
			if (req->id.groups[i] == 0) die("group 0 is root's: it never reaches a non-root shell");
	if (req->map_root && (!req->id.set || !(req->unshare_flags & CLONE_NEWUSER)))
		die("--map-root needs --uid and --unshare user");
	req->command = optind < argc ? argv + optind : NULL;
}

/* First of all, before any privilege is dropped or any process forked:
 * nothing but what nsxd handed on by name stays open, and we die with our
 * parent (nsxd, or the session's supervisor nsx-session). */
static void close_inherited(const struct request *req)
{
	int keep[NTYPES + 2];
	size_t nkeep = 0;

	for (size_t i = 0; i < NTYPES; i++)
		if (req->join_fds[i] >= 0) keep[nkeep++] = req->join_fds[i];
	if (status_fd >= 0) keep[nkeep++] = status_fd;
	if (req->cgroup_fd >= 0) keep[nkeep++] = req->cgroup_fd;
	close_all_but(keep, nkeep);
	if (status_fd >= 0 && fcntl(status_fd, F_SETFD, FD_CLOEXEC) < 0) die("status fd: %s", strerror(errno));
	if (getppid() == 1) die("parent gone");
	parent_pidfd = pidfd_of(getppid());
	exit_with_parent();
}

/* Into the session's cgroup while still root, so that every process the
 * session makes from here on is killed with it. */
static void enter_cgroup(struct request *req)
{
	if (req->cgroup_fd < 0) return;
	if (write(req->cgroup_fd, "0\n", 2) != 2) die("join session cgroup: %s", strerror(errno));
	close(req->cgroup_fd);
	req->cgroup_fd = -1;
}

/* Joins the namespaces nsxd opened; says whether a child must be forked to
 * be in them (a pid or time namespace applies to children only). */
static int join_namespaces(struct request *req)
{
	/* Whether a joined pid or time namespace differs from ours must be known
	 * before joining: once in the target's mount namespace, its /proc is of
	 * another pid namespace and cannot tell us about ourselves. */
	int pid_fd = req->join_fds[type_index("pid")], time_fd = req->join_fds[type_index("time")];
	int other_pid = pid_fd >= 0 && !same_namespace(pid_fd, "/proc/self/ns/pid");
	int other_time = time_fd >= 0 && !same_namespace(time_fd, "/proc/self/ns/time");

	/* Supplementary groups are set while still root in our own user namespace:
	 * a joined one may deny setgroups, and then nothing would drop root's. */
	if (req->id.set && setgroups(req->id.ngroups, req->id.groups) < 0) die("setgroups: %s", strerror(errno));
	join_all(req->join_fds);
	exit_with_parent();
	return other_pid || other_time;
}

/* Fresh namespaces, set up as unshare(1) leaves them: loopback up, the
 * hostname set, mounts private. With --map-root the user (not root) makes
 * the user namespace and is root in it alone, as `unshare -r` does. */
static void unshare_namespaces(struct request *req)
{
	int flags = req->unshare_flags;

	if (!flags) return;
	if (req->map_root) {
		become(&req->id);
		exit_with_parent();
		/* The maps under /proc/self are writable by a dumpable process only. */
		if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0) die("dumpable: %s", strerror(errno));
	}
	if (unshare(flags) < 0) die("unshare: %s", strerror(errno));
	if (req->map_root) {
		map_root(req->id.uid, req->id.gid);
		req->id.set = 0; /* already the user; root inside */
	}
	exit_with_parent();
	if (flags & CLONE_NEWNET) loopback_up();
	if (req->hostname && sethostname(req->hostname, strlen(req->hostname)) < 0)
		die("sethostname: %s", strerror(errno));
	if ((flags & CLONE_NEWNS) && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("make mounts private: %s", strerror(errno));
}

/* namespaces/create: say ready, and hold the namespaces while nsxd opens
 * /proc/<us>/ns/TYPE and pins it; nsxd closes our stdin when done. */
static void hold(void)
{
	char c;

	if (write(status_fd, "R", 1) != 1) _exit(125);
	while (read(0, &c, 1) > 0)
		;
	_exit(0);
}

/* For a new or joined pid (or time) namespace: a child is the first process
 * in it, and we stay as its supervisor. In a new pid namespace that child is
 * its init and forks once more for the shell (unshare --fork --mount-proc). */
static void fork_into_namespaces(const struct request *req, int joined_other)
{
	int new_pid = req->unshare_flags & CLONE_NEWPID;

	if (!new_pid && !(req->unshare_flags & CLONE_NEWTIME) && !joined_other) {
		if (req->mount_proc) die("--mount-proc needs a new or joined pid namespace");
		return;
	}
	child = fork_or_die();
	if (child > 0) supervise();
	if (req->mount_proc && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		die("mount /proc: %s", strerror(errno));
	if (new_pid) {
		pid_t shell = fork_or_die();

		if (shell > 0) be_init(shell);
	}
}

/* The user, home, session and terminal of the shell; then only 0-2 stay
 * (the status fd closes on exec). */
static void become_session_user(const struct request *req)
{
	if (req->id.set) become(&req->id);
	exit_with_parent();
	if (chdir(req->home) < 0 && chdir("/") < 0) die("chdir /: %s", strerror(errno));
	if (setsid() < 0) die("setsid: %s", strerror(errno));
	if (req->pty && ioctl(0, TIOCSCTTY, 0) < 0) die("controlling terminal: %s", strerror(errno));
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		for (int fd = 3; fd < 65536; fd++)
			if (fd != status_fd) close(fd);
}

/* The command, or the first login shell that exists in this mount namespace. */
static void __attribute__((noreturn)) exec_shell(const struct request *req)
{
	if (req->command) {
		if (req->builtin_cat) {
			close(status_fd);
			_exit(cat(req->command));
		}
		execvp(req->command[0], req->command);
		die("%s: %s", req->command[0], strerror(errno));
	}
	for (size_t i = 0; i < req->nshells; i++) {
		if (access(req->shells[i], X_OK) == 0) {
			const char *base = strrchr(req->shells[i], '/');
			char argv0[256];

			snprintf(argv0, sizeof(argv0), "-%s", base ? base + 1 : req->shells[i]);
			setenv("SHELL", req->shells[i], 1);
			execl(req->shells[i], argv0, (char *)NULL);
		}
	}
	die("no shell found in the target's mount namespace (tried %zu)", req->nshells);
}

/*
 * The order of the steps, and where it differs from util-linux:
 *  - fds are closed first (nsenter and unshare keep what they inherit): a
 *    session's processes may belong to the user, who can take any fd they
 *    hold with pidfd_getfd.
 *  - groups are set before joining, not after as nsenter -G does: a joined
 *    user namespace may deny setgroups, which would leave root's groups.
 *  - the parent-death signal is set again after every credential change and
 *    fork (the kernel clears it), so nothing of a session outlives its
 *    supervisor nsx-session (which itself outlives nsxd, by design).
 *  - the uid/gid drop comes after the fork, as nsenter -S does, so the
 *    supervisor of a joined session stays root and the user cannot reach it;
 *    only --map-root drops before unsharing, as unshare -r must.
 */
int main(int argc, char **argv)
{
	struct request req;
	int joined_other;

	parse_args(argc, argv, &req);
	close_inherited(&req);
	enter_cgroup(&req);
	joined_other = join_namespaces(&req);
	unshare_namespaces(&req);
	if (req.hold) hold();
	fork_into_namespaces(&req, joined_other);
	become_session_user(&req);
	exec_shell(&req);
}
