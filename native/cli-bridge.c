/*
 * nsx bridge: this program's stdin and stdout joined to the local nsxd
 * socket, byte for byte both ways, so that a client elsewhere speaks to nsxd
 * through ssh or kubectl exec as if it were here. nsxd takes who is asking
 * from SO_PEERCRED on this connection, and that is whoever runs the bridge
 * (the ssh login user): the bridge adds no way around it, and reads nothing
 * it carries. The end of stdin is passed on as a half-close (shutdown); the
 * end of nsxd's side ends the bridge. One thread, one buffer each way: a
 * side that does not read holds the other back (poll waits on it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"

#define CHUNK 65536

/* One direction: bytes read from `from` and not yet written to `to`. */
struct pipe_half {
	int from, to, eof;
	char buf[CHUNK];
	size_t len, off;
};

/* Reads what is there; at the end, or on an error, eof is set. */
static void fill(struct pipe_half *h)
{
	ssize_t n = read(h->from, h->buf, sizeof(h->buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
	if (n <= 0) {
		h->eof = 1;
		return;
	}
	h->len = n;
	h->off = 0;
}

/* Writes what is held; -1 when the other side is gone. */
static int drain(struct pipe_half *h)
{
	ssize_t w = send(h->to, h->buf + h->off, h->len - h->off, MSG_NOSIGNAL);

	if (w < 0 && errno == ENOTSOCK) w = write(h->to, h->buf + h->off, h->len - h->off);
	if (w < 0) return errno == EINTR || errno == EAGAIN ? 0 : -1;
	h->off += w;
	if (h->off == h->len) h->len = h->off = 0;
	return 0;
}

int bridge(const char *path)
{
	struct connection c = {.sock = -1};
	static struct pipe_half up, down;

	if (!connect_to(&c, path)) {
		fprintf(stderr, "nsx bridge: cannot reach nsxd at %s: %s\n", path, strerror(errno));
		return 1;
	}
	only_root(&c, path);
	signal(SIGPIPE, SIG_IGN);
	up = (struct pipe_half){.from = 0, .to = c.sock};
	down = (struct pipe_half){.from = c.sock, .to = 1};
	for (;;) {
		struct pollfd p[2] = {
			{.fd = up.len ? up.to : (up.eof ? -1 : up.from), .events = up.len ? POLLOUT : POLLIN},
			{.fd = down.len ? down.to : down.from, .events = down.len ? POLLOUT : POLLIN},
		};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR) continue;
			return 1;
		}
		if (p[0].revents) {
			if (up.len) {
				if (drain(&up) < 0) return 0;
			} else {
				fill(&up);
				/* stdin ended: nsxd is told so, and what it still sends is relayed until it closes. */
				if (up.eof) shutdown(c.sock, SHUT_WR);
			}
		}
		if (p[1].revents) {
			if (down.len) {
				if (drain(&down) < 0) return 0;
			} else {
				fill(&down);
				if (down.eof) return 0;
			}
		}
	}
}
