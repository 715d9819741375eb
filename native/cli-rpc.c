/*
 * nsx's connection to nsxd: the socket, who serves it, and JSON-RPC messages
 * with Content-Length framing both ways, every bound checked as it is read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"

#define MAX_HEADER 1024
/* An answer bigger than this is not one nsxd writes. */
#define MAX_ANSWER (1024UL * 1024 * 1024)

int connect_to(struct connection *c, const char *path)
{
	struct sockaddr_un addr;

	if (!unix_address(&addr, path)) return 0;
	c->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return c->sock >= 0 && connect(c->sock, (struct sockaddr *)&addr, sizeof(addr)) == 0;
}

/*
 * nsxd runs as root: a server of anyone else (a user's own, on a path given
 * by --socket or NSX_SOCKET) is not it, and nothing it says is printed. This
 * is the one failure not handed to the Node client, which does not ask who
 * answers and would print what that server says after all; so it is said
 * here, before a word is sent, and nsx stops.
 */
void only_root(const struct connection *c, const char *path)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(c->sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		fprintf(stderr, "nsx: cannot tell who serves %s: %s\n", path, strerror(errno));
		exit(1);
	}
	if (cred.uid != 0) {
		fprintf(stderr, "nsx: %s is served by uid %u, not root: it is not nsxd, and nsx does not believe it\n",
			path, cred.uid);
		exit(1);
	}
}

static int send_all(struct connection *c, const char *p, size_t n)
{
	while (n > 0) {
		/* MSG_NOSIGNAL: an nsxd that hung up is an error here, not a SIGPIPE. */
		ssize_t w = send(c->sock, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) return 0;
		p += w;
		n -= w;
	}
	return 1;
}

/* One message, its header and body in one write. */
int say(struct connection *c, const char *body)
{
	char message[512];
	int n = snprintf(message, sizeof(message), "Content-Length: %zu\r\n\r\n%s", strlen(body), body);

	return n > 0 && (size_t)n < sizeof(message) && send_all(c, message, n);
}

/* Reads more of what nsxd sends; 0 at its end or on an error. */
static int more(struct connection *c)
{
	if (c->in_len == c->in_cap) {
		size_t cap = c->in_cap ? c->in_cap * 2 : 64 * 1024;
		char *bigger = cap <= MAX_ANSWER + MAX_HEADER ? realloc(c->in, cap) : NULL;

		if (!bigger) return 0;
		c->in = bigger;
		c->in_cap = cap;
	}
	ssize_t n;

	do n = read(c->sock, c->in + c->in_len, c->in_cap - c->in_len);
	while (n < 0 && errno == EINTR);
	if (n <= 0) return 0;
	c->in_len += n;
	return 1;
}

/* The value of a Content-Length header, [p, e) after its colon: digits alone, up to MAX_ANSWER; else ULLONG_MAX. */
static unsigned long long content_length(const char *p, const char *e)
{
	unsigned long long length = 0;
	const char *digits;

	while (p < e && (*p == ' ' || *p == '\t')) p++;
	for (digits = p; p < e && *p >= '0' && *p <= '9'; p++) {
		length = length * 10 + (*p - '0');
		if (length > MAX_ANSWER) return ULLONG_MAX;
	}
	while (p < e && (*p == ' ' || *p == '\t')) p++;
	return p > digits && p == e ? length : ULLONG_MAX;
}

/* The body of nsxd's next message, [*body, *end); 0 if none comes whole, or its header is not one nsxd writes. */
static int next_message(struct connection *c, char **body, char **end)
{
	char *blank, *eol;
	unsigned long long length = ULLONG_MAX;

	if (c->used) {
		memmove(c->in, c->in + c->used, c->in_len - c->used);
		c->in_len -= c->used;
		c->used = 0;
	}
	while (!(blank = c->in_len ? memmem(c->in, c->in_len, "\r\n\r\n", 4) : NULL)) {
		if (c->in_len > MAX_HEADER || !more(c)) return 0;
	}
	if (blank - c->in > MAX_HEADER) return 0;
	/* Header lines end in CRLF, the last one at the blank line. */
	for (char *line = c->in; line < blank; line = eol + 2) {
		eol = memmem(line, blank - line, "\r\n", 2);
		if (!eol) eol = blank;
		if (eol - line < 15 || strncasecmp(line, "Content-Length:", 15)) continue;
		/* A length given twice, or not as plain digits, is refused rather than guessed. */
		if (length != ULLONG_MAX || (length = content_length(line + 15, eol)) == ULLONG_MAX) return 0;
	}
	if (length > MAX_ANSWER) return 0;
	c->used = blank + 4 - c->in + length;
	while (c->in_len < c->used)
		if (!more(c)) return 0;
	*body = c->in + (c->used - length);
	*end = c->in + c->used;
	return 1;
}

/* The result of the answer to request `id`, skipping any notification before it; NULL if an error came. */
char *answer(struct connection *c, unsigned long id, char **end)
{
	char *body, *e;

	while (next_message(c, &body, &e)) {
		char *got = member(body, e, "id");

		if (!got || !is_number(got, e, id)) continue;
		*end = e;
		return member(body, e, "result");
	}
	return NULL;
}
