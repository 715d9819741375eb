/*
 * nsx-session's life once started: one poll over its fds, what each event
 * does, the deadlines (orphan, drain, kill), and its end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "session.h"

/* The session is over for good: nothing of it stays. */
static void __attribute__((noreturn)) finish(struct session *s)
{
	close_gracefully(s);
	kill_tree(s);
	unlink(s->socket_path);
	if (s->cgroup_path) {
		for (int i = 0; i < 100 && rmdir(s->cgroup_path) < 0 && errno == EBUSY; i++) usleep(10000);
	}
	_exit(0);
}

static int loop_timeout(struct session *s)
{
	long long now = now_ms(), next = -1;
	/* The drain deadline counts while output may still come; once its fds are closed, a past one would spin the
	 * loop. */
	int draining = s->exited && (s->master >= 0 || s->out_fd >= 0 || s->err_fd >= 0);
	long long deadlines[] = {!s->adopted ? s->orphan_at : -1, draining ? s->drain_at : -1,
				 s->kill_at > 0 ? s->kill_at : -1};

	for (size_t i = 0; i < sizeof(deadlines) / sizeof(deadlines[0]); i++)
		if (deadlines[i] >= 0 && (next < 0 || deadlines[i] < next)) next = deadlines[i];
	if (next < 0) return -1;
	return next <= now ? 0 : (int)(next - now);
}

static void deadlines(struct session *s)
{
	long long now = now_ms();

	if (s->kill_at > 0 && now >= s->kill_at) {
		s->kill_at = 0;
		if (!s->exited) {
			kill(s->child, SIGKILL);
			kill(-s->child, SIGKILL);
		}
	}
	if (!s->adopted && now >= s->orphan_at) {
		/* Nobody came back for it: it ends, and with nobody to tell, at once once reaped. */
		kill_tree(s);
		if (s->exited) finish(s);
	}
	if (s->exited && now >= s->drain_at) {
		close_fd(&s->master);
		close_fd(&s->out_fd);
		close_fd(&s->err_fd);
	}
}

/* What one poll waits for; each index is -1 when its fd is not in the set. */
struct poll_set {
	struct pollfd p[7];
	int n, listen, conn, master, in, out, err, child;
	/* Before its first client the scrollback is all the room there is; after, an orphan's keeps the newest. */
	int room;
};

static int poll_add(struct poll_set *ps, int fd, short events)
{
	ps->p[ps->n] = (struct pollfd){.fd = fd, .events = events};
	return ps->n++;
}

/* The signalfd is always p[0]. */
static void build_poll_set(struct session *s, struct poll_set *ps)
{
	ps->n = 0;
	ps->conn = ps->master = ps->in = ps->out = ps->err = ps->child = -1;
	ps->room = s->adopted ? s->out.queued < QUEUE_HIGH : s->ever_adopted || s->out.queued < SCROLLBACK;
	poll_add(ps, s->signal_fd, POLLIN);
	ps->listen = poll_add(ps, s->listen_fd, POLLIN);
	if (s->conn_fd >= 0)
		ps->conn = poll_add(ps, s->conn_fd,
				    (s->pending_len ? 0 : POLLIN) |
					    (s->hello || (s->adopted && s->out.queued) ? POLLOUT : 0));
	/* A master whose shell is gone polls as hung up at once: left out while there is no room to read it. */
	if (s->master >= 0 && (ps->room || s->pending_len))
		ps->master = poll_add(ps, s->master, (ps->room ? POLLIN : 0) | (s->pending_len ? POLLOUT : 0));
	if (s->in_fd >= 0 && s->pending_len) ps->in = poll_add(ps, s->in_fd, POLLOUT);
	if (s->out_fd >= 0 && ps->room) ps->out = poll_add(ps, s->out_fd, POLLIN);
	if (s->err_fd >= 0 && ps->room) ps->err = poll_add(ps, s->err_fd, POLLIN);
	if (s->pidfd >= 0) ps->child = poll_add(ps, s->pidfd, POLLIN);
}

/* The events poll returned for index i, none if that fd was not polled. */
static short revents(const struct poll_set *ps, int i)
{
	return i >= 0 ? ps->p[i].revents : 0;
}

static void dispatch(struct session *s, const struct poll_set *ps)
{
	if (revents(ps, 0)) {
		struct signalfd_siginfo si;

		if (read(s->signal_fd, &si, sizeof(si)) > 0) finish(s);
	}
	if (revents(ps, ps->listen)) on_attach(s);
	if (revents(ps, ps->child)) on_child_exit(s);
	if (revents(ps, ps->master) & POLLOUT) write_pending(s);
	if (revents(ps, ps->in)) write_pending(s);
	if ((revents(ps, ps->master) & (POLLIN | POLLHUP | POLLERR)) && ps->room) read_output(s, &s->master, 'O');
	if (revents(ps, ps->out)) read_output(s, &s->out_fd, 'O');
	if (revents(ps, ps->err)) read_output(s, &s->err_fd, 'E');
	if (s->conn_fd >= 0 && (revents(ps, ps->conn) & (POLLIN | POLLHUP | POLLERR))) read_frames(s);
}

/* Until the session ends: wait, then do what came, in this order. */
void run(struct session *s)
{
	struct poll_set ps;

	for (;;) {
		build_poll_set(s, &ps);
		if (poll(ps.p, (nfds_t)ps.n, loop_timeout(s)) < 0 && errno != EINTR) _exit(125);
		dispatch(s, &ps);
		run_frames(s);
		deadlines(s);
		queue_exit(s);
		flush_queue(s);
		/* The exit is nsxd's (a closed socket still delivers what was sent): nothing is left to do. */
		if (s->exit_queued && !s->out.queued && s->adopted) finish(s);
	}
}
