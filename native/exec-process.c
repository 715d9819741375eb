/*
 * nsx-exec's processes: what stays open, the parent each dies with, and the
 * supervisor and init that a pid or time namespace needs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"

int parent_pidfd = -1;

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
void exit_with_parent(void)
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

/* A supervisor or an init lives as long as the session, as the session's user
 * when that is not root: it holds the pty as 0-2 and nothing else (its
 * parent-death signal is armed; the status fd is the exec'ing child's). */
static void keep_only_stdio(void)
{
	close_all_but(NULL, 0);
	status_fd = parent_pidfd = -1;
}

/* The child supervise() waits for, here for forward(): a signal handler is given no arguments. */
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

/* First of all, before any privilege is dropped or any process forked:
 * nothing but what nsxd handed on by name stays open, and we die with our
 * parent (nsxd, or the session's supervisor nsx-session). */
void close_inherited(const struct request *req)
{
	int keep[NTYPES + 1];
	size_t nkeep = 0;

	for (size_t i = 0; i < NTYPES; i++)
		if (req->join_fds[i] >= 0) keep[nkeep++] = req->join_fds[i];
	if (status_fd >= 0) keep[nkeep++] = status_fd;
	close_all_but(keep, nkeep);
	if (status_fd >= 0 && fcntl(status_fd, F_SETFD, FD_CLOEXEC) < 0) die("status fd: %s", strerror(errno));
	if (getppid() == 1) die("parent gone");
	parent_pidfd = pidfd_of(getppid());
	exit_with_parent();
}

/* namespaces/create: say ready, and hold the namespaces while nsxd opens
 * /proc/<us>/ns/TYPE and pins it; nsxd closes our stdin when done. */
void hold(void)
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
void fork_into_namespaces(const struct request *req, int joined_other)
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
