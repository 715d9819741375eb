/*
 * nsx-session's side of the shell: its pty or pipes, what it prints and is
 * given to read, its window, its exit, and the end of its whole tree.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "session.h"

/* A pty of size ws: the master is ours, the peer is the child's 0-2. */
static void open_pty(struct session *s, const struct winsize *ws, int child_fds[3])
{
	int unlock = 0;

	s->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s->master < 0 || ioctl(s->master, TIOCSPTLCK, &unlock) < 0) die("open a pty: %s", strerror(errno));
	child_fds[0] = child_fds[1] = child_fds[2] = ioctl(s->master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (child_fds[0] < 0 || ioctl(s->master, TIOCSWINSZ, ws) < 0) die("pty peer: %s", strerror(errno));
	if (fcntl(s->master, F_SETFL, O_NONBLOCK) < 0) die("pty: %s", strerror(errno));
}

/* Three pipes, for the child's stdin, stdout and stderr. */
static void open_pipes(struct session *s, int child_fds[3])
{
	int p[3][2];

	for (int i = 0; i < 3; i++)
		if (pipe2(p[i], O_CLOEXEC) < 0) die("pipe: %s", strerror(errno));
	child_fds[0] = p[0][0];
	s->in_fd = p[0][1];
	child_fds[1] = p[1][1];
	s->out_fd = p[1][0];
	child_fds[2] = p[2][1];
	s->err_fd = p[2][0];
	if (fcntl(s->in_fd, F_SETFL, O_NONBLOCK) < 0) die("pipe: %s", strerror(errno));
}

/* The pty, or three pipes; the child's ends for its 0-2 in child_fds. */
void open_stdio(struct session *s, const struct winsize *ws, int child_fds[3])
{
	if (ws)
		open_pty(s, ws, child_fds);
	else
		open_pipes(s, child_fds);
}

void close_fd(int *fd)
{
	if (*fd >= 0) close(*fd);
	*fd = -1;
}

/* Output from the shell, as a frame for nsxd (kept as scrollback while detached). */
void read_output(struct session *s, int *fd, char type)
{
	unsigned char buf[READ_CHUNK];
	ssize_t n = read(*fd, buf, sizeof(buf));

	if (n > 0) {
		ring_enqueue(&s->out, type, buf, (size_t)n);
		trim_scrollback(s);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
	/* End of file, or EIO from a pty master once the last peer is closed. */
	close_fd(fd);
}

void write_pending(struct session *s)
{
	int fd = s->master >= 0 ? s->master : s->in_fd;

	if (fd < 0) {
		s->pending_len = 0;
		return;
	}
	while (s->pending_len > 0) {
		ssize_t n = write(fd, s->in + s->pending_off, s->pending_len);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) return;
			s->pending_len = 0; /* the shell is gone; its exit follows */
			return;
		}
		s->pending_off += (size_t)n;
		s->pending_len -= (size_t)n;
	}
}

/* The pty's window from a W frame's payload: rows u16, cols u16 (pipes have none). */
void set_window(struct session *s, const unsigned char *p)
{
	struct winsize ws = {.ws_row = (unsigned short)(p[0] << 8 | p[1]),
			     .ws_col = (unsigned short)(p[2] << 8 | p[3])};

	/* A size the pty refuses leaves the one it has: nothing to tell nsxd. */
	if (s->master >= 0) ioctl(s->master, TIOCSWINSZ, &ws);
}

void on_child_exit(struct session *s)
{
	int status;

	if (waitpid(s->child, &status, WNOHANG) != s->child) return;
	s->exited = 1;
	s->code = exit_code(status);
	s->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	close_fd(&s->pidfd);
	/* The session ends with its shell: what it left running goes too. */
	kill_tree(s);
	s->drain_at = now_ms() + DRAIN_MS;
}

void kill_tree(struct session *s)
{
	if (s->cgroup_fd >= 0) {
		int k = openat(s->cgroup_fd, "cgroup.kill", O_WRONLY | O_CLOEXEC);

		if (k >= 0) {
			if (write(k, "1", 1) < 0) { /* the cgroup may be empty already */
			}
			close(k);
		}
	}
	if (!s->exited && !s->killed) {
		/* An interactive shell ignores SIGTERM: SIGKILL follows (nsx-exec's own supervisor forwards SIGTERM).
		 */
		kill(s->child, SIGTERM);
		s->kill_at = now_ms() + KILL_GRACE_MS;
	}
	s->killed = 1;
}

/* Once the shell has exited and its last output is read, its exit follows that output. */
void queue_exit(struct session *s)
{
	unsigned char x[8];

	if (!s->exited || s->exit_queued || s->master >= 0 || s->out_fd >= 0 || s->err_fd >= 0) return;
	put_u32(x, (uint32_t)s->code);
	put_u32(x + 4, (uint32_t)s->signal);
	ring_enqueue(&s->out, 'X', x, sizeof(x));
	s->exit_queued = 1;
}
