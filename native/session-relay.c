/*
 * nsx-session's side of nsxd: one connection at a time, of root alone; the
 * hello and the output to it, the frames from it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "session.h"

static void free_in(struct session *s)
{
	free(s->in);
	s->in = NULL;
	s->in_cap = s->in_start = s->in_len = 0;
}

static void detach(struct session *s)
{
	close_fd(&s->conn_fd);
	free_in(s);
	s->pending_len = 0;
	free(s->hello);
	s->hello = NULL;
	/* A frame half written to the nsxd that went is whole for the next one. */
	s->out.sent = 0;
	if (s->adopted) s->orphan_at = now_ms() + s->orphan_ms;
	s->adopted = 0;
	trim_scrollback(s);
	/* It may wait alone for minutes: the heap gives back what the connection freed. */
	malloc_trim(0);
}

/* A connection of root's (nsxd), if none is there yet: it gets the hello first. */
static int greet(struct session *s, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0 || s->conn_fd >= 0) {
		close(fd);
		return 0;
	}
	s->conn_fd = fd;
	s->hello_len = 5 + 4 + s->info_len;
	s->hello_off = 0;
	s->hello = malloc(s->hello_len);
	if (!s->hello) abort();
	s->hello[0] = 'H';
	put_u32(s->hello + 1, (uint32_t)(4 + s->info_len));
	put_u32(s->hello + 5, (uint32_t)s->child);
	if (s->info_len) memcpy(s->hello + 9, s->info, s->info_len);
	return 1;
}

void on_attach(struct session *s)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd >= 0) greet(s, fd);
}

/* The connection of the nsxd that opened the session, inherited as fd: that nsxd has it from the start. */
void on_connected(struct session *s, int fd)
{
	if (greet(s, fd)) s->adopted = s->ever_adopted = 1;
}

void flush_queue(struct session *s)
{
	/* Until a client has the session, nsxd gets the hello only: a refused attach takes no output away. */
	while (s->conn_fd >= 0 && (s->hello || (s->adopted && s->out.queued))) {
		const unsigned char *p;
		size_t len;
		ssize_t n;

		if (s->hello) {
			p = s->hello + s->hello_off;
			len = s->hello_len - s->hello_off;
		} else {
			/* The rest of the first frame, up to the ring's end. */
			size_t at = (s->out.head + s->out.sent) % OUT_RING;

			p = s->out.buf + at;
			len = 5 + ring_frame_len(&s->out, 0) - s->out.sent;
			if (len > OUT_RING - at) len = OUT_RING - at;
		}
		n = send(s->conn_fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) return;
			detach(s);
			return;
		}
		if (s->hello) {
			s->hello_off += (size_t)n;
			if (s->hello_off == s->hello_len) {
				free(s->hello);
				s->hello = NULL;
			}
		} else if ((s->out.sent += (size_t)n) == 5 + ring_frame_len(&s->out, 0)) {
			ring_drop_head(&s->out);
		}
	}
}

/* Keeps what an S frame says, to say again in every hello; a longer one is not kept. */
static void keep_info(struct session *s, const unsigned char *p, uint32_t len)
{
	if (len > MAX_INFO) return;
	free(s->info);
	s->info = malloc(len ? len : 1);
	if (!s->info) abort();
	memcpy(s->info, p, len);
	s->info_len = len;
}

/* One whole frame from nsxd, its payload len bytes at p; 0 if nsxd sends no such frame (it is detached then). */
static int run_frame(struct session *s, unsigned char type, unsigned char *p, uint32_t len)
{
	switch (type) {
	case 'S': keep_info(s, p, len); break;
	case 'A': s->adopted = s->ever_adopted = 1; break;
	case 'D':
		s->pending_off = (size_t)(p - s->in);
		s->pending_len = len;
		write_pending(s);
		break;
	case 'C': close_fd(&s->in_fd); break;
	case 'W':
		if (len == 4) set_window(s, p);
		break;
	case 'K': kill_tree(s); break;
	default: detach(s); return 0;
	}
	return 1;
}

/* Runs the frames from nsxd that have arrived whole, until one's input must wait for the shell. */
void run_frames(struct session *s)
{
	while (s->pending_len == 0 && s->conn_fd >= 0 && s->in_len - s->in_start >= 5) {
		unsigned char type = s->in[s->in_start];
		uint32_t len = get_u32(s->in + s->in_start + 1);
		unsigned char *p = s->in + s->in_start + 5;

		if (len > MAX_FRAME - 5) {
			detach(s);
			return;
		}
		if (s->in_len - s->in_start < 5 + len) break;
		s->in_start += 5 + len;
		if (!run_frame(s, type, p, len)) return;
	}
	/* Input still pending is in s->in: it stays where it is until written. */
	if (s->pending_len > 0 || s->in_start == 0) return;
	s->in_len -= s->in_start;
	memmove(s->in, s->in + s->in_start, s->in_len);
	s->in_start = 0;
	/* Nothing left, nothing held: a pasted megabyte would otherwise stay as long as the session. */
	if (!s->in_len) free_in(s);
}

/*
 * Up to MAX_FRAME of frames wait here unread, as ever; but the buffer grows
 * only as they arrive (to the whole of a frame once its header is in, else a
 * chunk more when full), and goes once they are run.
 */
void read_frames(struct session *s)
{
	size_t want = s->in_len == s->in_cap ? s->in_cap + IN_CHUNK : s->in_cap;
	ssize_t n;

	if (s->in_len - s->in_start >= 5) {
		uint32_t len = get_u32(s->in + s->in_start + 1);

		if (len <= MAX_FRAME - 5 && s->in_start + 5 + len > want) want = s->in_start + 5 + len;
	}
	if (want > MAX_FRAME) want = MAX_FRAME;
	if (want > s->in_cap) {
		unsigned char *in = realloc(s->in, want);

		if (!in) abort();
		s->in = in;
		s->in_cap = want;
	}
	if (s->in_len == s->in_cap) return;
	n = recv(s->conn_fd, s->in + s->in_len, s->in_cap - s->in_len, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		detach(s);
		return;
	}
	if (n > 0) {
		s->in_len += (size_t)n;
		run_frames(s);
	}
}

/* Closing a Unix socket with frames of nsxd's still unread in it would reset
 * the connection, and nsxd could lose the exit before it: say we are done,
 * and close once nsxd has closed its end too (or a second has passed). */
void close_gracefully(struct session *s)
{
	long long until = now_ms() + 1000;
	char buf[4096];

	if (s->conn_fd < 0) return;
	shutdown(s->conn_fd, SHUT_WR);
	for (;;) {
		struct pollfd p = {.fd = s->conn_fd, .events = POLLIN};
		long long left = until - now_ms();

		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0) break;
		n = recv(s->conn_fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
	}
	close_fd(&s->conn_fd);
}
