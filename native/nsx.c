/*
 * nsx, the front of the command-line client. `nsx list` is what people type
 * most, and lsns answers it in about 15 ms where Node alone takes 60 to
 * start; so this program answers
 *
 *   nsx [--socket PATH] list [-t TYPE,...] [--rescan]
 *
 * itself, with the one request namespaces/print: nsxd writes the table (with
 * the Node client's own functions), and any notice for under it (what its
 * scan left unread), and this copies them out. Every other
 * command line goes, unchanged, to the Node client beside it (nsx.js), and so
 * does any failure before output starts (no nsxd, a refusal, another protocol
 * version, a type written other than nsxd spells it): the Node client does
 * the whole thing again and says what went wrong in its usual words. All but
 * one: a socket served by someone other than root, see only_root().
 *
 * It speaks JSON-RPC with Content-Length framing, as every client does, and
 * reads only the answers nsxd writes: the walker below knows just enough JSON
 * to find a member and decode a string, and checks every bound as it goes.
 * What nsx received is never NUL-terminated, so nothing reads it with the
 * C library's string functions (strtol and the like): every parse here is
 * given the end of the bytes it may read.
 *
 * It believes only root (SO_PEERCRED), and makes visible the control
 * characters in what it prints, as the Node client does (printable() in
 * helper/common/format.ts): nsxd has done so already, but whatever answers
 * on a socket is judged here, not trusted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "nsx-common.h"

#ifndef NSX_PROTOCOL_VERSION
#error "esbuild.mjs builds this with -DNSX_PROTOCOL_VERSION=N, N from helper/common/protocol.ts"
#endif

#ifndef NSX_DEFAULT_SOCKET
#error "esbuild.mjs builds this with -DNSX_DEFAULT_SOCKET=\"PATH\", PATH from helper/common/deployment.ts"
#endif
#define MAX_HEADER 1024
/* The longest -t this front sends itself: all eight types are 47 characters. */
#define MAX_TYPES 64
/* An answer bigger than this is not one nsxd writes. */
#define MAX_ANSWER (1024UL * 1024 * 1024)

static char **command_line;

/* Runs the Node client with the command line as it came; never returns. */
static void __attribute__((noreturn)) hand_off(void)
{
	char path[PATH_MAX];
	/* Room is left for "nsx.js" in place of this program's own name. */
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 8);
	char *slash = n > 0 ? memrchr(path, '/', n) : NULL;

	if (slash) {
		strcpy(slash + 1, "nsx.js");
		execv(path, command_line);
	}
	fprintf(stderr, "nsx: cannot start the Node client (nsx.js beside %s): %s\n", n > 0 ? path : "this program",
		strerror(errno));
	exit(1);
}

/* ---- what was asked ------------------------------------------------------ */

struct request {
	const char *socket;
	const char *types;
	int rescan;
};

/* Types as nsxd spells them, comma-separated; anything else is the Node client's to read. */
static int plain_types(const char *s)
{
	if (!*s || strlen(s) > MAX_TYPES) return 0;
	for (; *s; s++)
		if ((*s < 'a' || *s > 'z') && !(*s == ',' && s[1] && s[1] != ',')) return 0;
	return 1;
}

/* The command line, if it is `list` with the options this front knows; else 0. */
static int parse(int argc, char **argv, struct request *r)
{
	int verbs = 0;

	r->socket = NULL;
	r->types = NULL;
	r->rescan = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--socket") || !strcmp(a, "--type") || !strcmp(a, "-t")) {
			if (++i == argc) return 0;
			if (!strcmp(a, "--socket"))
				r->socket = argv[i];
			else
				r->types = argv[i];
		} else if (!strncmp(a, "--socket=", 9)) {
			r->socket = a + 9;
		} else if (!strncmp(a, "--type=", 7)) {
			r->types = a + 7;
		} else if (!strncmp(a, "-t", 2)) {
			r->types = a + 2;
		} else if (!strcmp(a, "list")) {
			verbs++;
		} else if (!strcmp(a, "--rescan")) {
			r->rescan = 1;
		} else {
			return 0;
		}
	}
	if (!r->socket) {
		const char *env = getenv("NSX_SOCKET");

		r->socket = env && *env ? env : NSX_DEFAULT_SOCKET;
	}
	return verbs == 1 && *r->socket && (!r->types || plain_types(r->types));
}

/* ---- the connection ------------------------------------------------------ */

static int sock = -1;
/* What nsxd sent: `used` bytes of it are a message already read. */
static char *in;
static size_t in_len, in_cap, used;

static int connect_to(const char *path)
{
	struct sockaddr_un addr;

	if (!unix_address(&addr, path)) return 0;
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return sock >= 0 && connect(sock, (struct sockaddr *)&addr, sizeof(addr)) == 0;
}

/*
 * nsxd runs as root: a server of anyone else (a user's own, on a path given
 * by --socket or NSX_SOCKET) is not it, and nothing it says is printed. This
 * is the one failure not handed to the Node client, which does not ask who
 * answers and would print what that server says after all; so it is said
 * here, before a word is sent, and nsx stops.
 */
static void only_root(const char *path)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		fprintf(stderr, "nsx: cannot tell who serves %s: %s\n", path, strerror(errno));
		exit(1);
	}
	if (cred.uid != 0) {
		fprintf(stderr, "nsx: %s is served by uid %u, not root: it is not nsxd, and nsx does not believe it\n",
			path, cred.uid);
		exit(1);
	}
}

static int send_all(const char *p, size_t n)
{
	while (n > 0) {
		/* MSG_NOSIGNAL: an nsxd that hung up is an error here, not a SIGPIPE. */
		ssize_t w = send(sock, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) return 0;
		p += w;
		n -= w;
	}
	return 1;
}

/* One message, its header and body in one write. */
static int say(const char *body)
{
	char message[512];
	int n = snprintf(message, sizeof(message), "Content-Length: %zu\r\n\r\n%s", strlen(body), body);

	return n > 0 && (size_t)n < sizeof(message) && send_all(message, n);
}

/* Reads more of what nsxd sends; 0 at its end or on an error. */
static int more(void)
{
	if (in_len == in_cap) {
		size_t cap = in_cap ? in_cap * 2 : 64 * 1024;
		char *bigger = cap <= MAX_ANSWER + MAX_HEADER ? realloc(in, cap) : NULL;

		if (!bigger) return 0;
		in = bigger;
		in_cap = cap;
	}
	ssize_t n;

	do n = read(sock, in + in_len, in_cap - in_len);
	while (n < 0 && errno == EINTR);
	if (n <= 0) return 0;
	in_len += n;
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
static int next_message(char **body, char **end)
{
	char *blank, *eol;
	unsigned long long length = ULLONG_MAX;

	if (used) {
		memmove(in, in + used, in_len - used);
		in_len -= used;
		used = 0;
	}
	while (!(blank = in_len ? memmem(in, in_len, "\r\n\r\n", 4) : NULL)) {
		if (in_len > MAX_HEADER || !more()) return 0;
	}
	if (blank - in > MAX_HEADER) return 0;
	/* Header lines end in CRLF, the last one at the blank line. */
	for (char *line = in; line < blank; line = eol + 2) {
		eol = memmem(line, blank - line, "\r\n", 2);
		if (!eol) eol = blank;
		if (eol - line < 15 || strncasecmp(line, "Content-Length:", 15)) continue;
		/* A length given twice, or not as plain digits, is refused rather than guessed. */
		if (length != ULLONG_MAX || (length = content_length(line + 15, eol)) == ULLONG_MAX) return 0;
	}
	if (length > MAX_ANSWER) return 0;
	used = blank + 4 - in + length;
	while (in_len < used)
		if (!more()) return 0;
	*body = in + (used - length);
	*end = in + used;
	return 1;
}

/* ---- just enough JSON ---------------------------------------------------- */

static char *space(char *p, char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
	return p;
}

/* Past the JSON value at p; NULL if it is not one. */
static char *skip(char *p, char *e, int depth)
{
	p = space(p, e);
	if (p >= e || depth > 64) return NULL;
	if (*p == '"') {
		/* An escape's backslash steps over the character after it, when there is one. */
		for (p++; p < e; p++) {
			if (*p == '"') return p + 1;
			if (*p == '\\' && ++p == e) break;
		}
		return NULL;
	}
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';

		p = space(p + 1, e);
		if (p < e && *p == close) return p + 1;
		for (;;) {
			if (close == '}') {
				if (p >= e || *p != '"' || !(p = skip(p, e, depth + 1))) return NULL;
				p = space(p, e);
				if (p >= e || *p++ != ':') return NULL;
			}
			if (!(p = skip(p, e, depth + 1))) return NULL;
			p = space(p, e);
			if (p < e && *p == close) return p + 1;
			if (p >= e || *p != ',') return NULL;
			p = space(p + 1, e);
		}
	}
	char *start = p;

	while (p < e && (*p == '-' || *p == '+' || *p == '.' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
			 *p == 'E'))
		p++;
	return p > start ? p : NULL;
}

/* The value of the member `key` of the object at p, whole before e; NULL if it has none. */
static char *member(char *p, char *e, const char *key)
{
	size_t n = strlen(key);

	p = space(p, e);
	if (p >= e || *p != '{') return NULL;
	p = space(p + 1, e);
	while (p < e && *p == '"') {
		char *name = p + 1, *after = skip(p, e, 0), *value;

		if (!after) return NULL;
		p = space(after, e);
		if (p >= e || *p != ':') return NULL;
		value = space(p + 1, e);
		if (!(p = skip(value, e, 0))) return NULL;
		if ((size_t)(after - 1 - name) == n && !memcmp(name, key, n)) return value;
		p = space(p, e);
		if (p >= e || *p != ',') return NULL;
		p = space(p + 1, e);
	}
	return NULL;
}

/* Whether the JSON value at p (whole before e, as member() returns it) is the number n, in digits alone. */
static int is_number(const char *p, const char *e, unsigned long n)
{
	const char *digits = p;
	unsigned long v = 0;

	/* The loop stops once v passes n, long before it could overflow. */
	for (; p < e && *p >= '0' && *p <= '9' && v <= n; p++) v = v * 10 + (*p - '0');
	return p > digits && v == n && (p == e || !((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E'));
}

static int hex4(const char *p, char *e)
{
	int v = 0;

	if (e - p < 4) return -1;
	for (int i = 0; i < 4; i++) {
		int c = p[i], d = c >= '0' && c <= '9'		       ? c - '0'
				  : (c | 32) >= 'a' && (c | 32) <= 'f' ? (c | 32) - 'a' + 10
								       : -1;

		if (d < 0) return -1;
		v = v * 16 + d;
	}
	return v;
}

/*
 * Decodes the JSON string at p in place (UTF-8 is never longer than its
 * escape) and returns its length, or -1. A lone surrogate becomes U+FFFD, as
 * Node writes one.
 */
static ssize_t decode(char *p, char *e)
{
	char *begin = p, *w = p;

	if (p >= e || *p++ != '"') return -1;
	while (p < e && *p != '"') {
		int c = (unsigned char)*p++;

		if (c != '\\') {
			*w++ = c;
			continue;
		}
		if (p >= e) return -1;
		c = *p++;
		switch (c) {
		case 'b': *w++ = '\b'; break;
		case 'f': *w++ = '\f'; break;
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		case 't': *w++ = '\t'; break;
		case '"':
		case '\\':
		case '/': *w++ = c; break;
		case 'u': {
			int u = hex4(p, e);

			if (u < 0) return -1;
			p += 4;
			if (u >= 0xd800 && u < 0xdc00 && e - p >= 6 && p[0] == '\\' && p[1] == 'u') {
				int low = hex4(p + 2, e);

				if (low >= 0xdc00 && low < 0xe000) {
					u = 0x10000 + ((u - 0xd800) << 10) + (low - 0xdc00);
					p += 6;
				}
			}
			if (u >= 0xd800 && u < 0xe000) u = 0xfffd;
			if (u < 0x80) {
				*w++ = u;
			} else if (u < 0x800) {
				*w++ = 0xc0 | u >> 6;
				*w++ = 0x80 | (u & 0x3f);
			} else if (u < 0x10000) {
				*w++ = 0xe0 | u >> 12;
				*w++ = 0x80 | (u >> 6 & 0x3f);
				*w++ = 0x80 | (u & 0x3f);
			} else {
				*w++ = 0xf0 | u >> 18;
				*w++ = 0x80 | (u >> 12 & 0x3f);
				*w++ = 0x80 | (u >> 6 & 0x3f);
				*w++ = 0x80 | (u & 0x3f);
			}
			break;
		}
		default: return -1;
		}
	}
	return p < e ? w - begin : -1;
}

/* The result of the answer to request `id`, skipping any notification before it; NULL if an error came. */
static char *answer(unsigned long id, char **end)
{
	char *body, *e;

	while (next_message(&body, &e)) {
		char *got = member(body, e, "id");

		if (!got || !is_number(got, e, id)) continue;
		*end = e;
		return member(body, e, "result");
	}
	return NULL;
}

/* The namespaces/print request; -t's letters and commas (plain_types) need no escaping in JSON. */
static const char *print_request(const struct request *r)
{
	static char body[112 + 3 * MAX_TYPES];
	char *w = stpcpy(body, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"namespaces/print\",\"params\":{");

	if (r->rescan) w = stpcpy(w, r->types ? "\"rescan\":true," : "\"rescan\":true");
	if (r->types) {
		w = stpcpy(w, "\"types\":[\"");
		for (const char *t = r->types; *t; t++) w = *t == ',' ? stpcpy(w, "\",\"") : (*w = *t, w + 1);
		w = stpcpy(w, "\"]");
	}
	strcpy(w, "}}");
	return body;
}

/* ---- what is printed ---------------------------------------------------- */

static char out[64 * 1024];
static size_t out_len;

/* Writes out what is buffered; 0 on an error, which errno names. */
static int flush(void)
{
	for (char *p = out; out_len > 0;) {
		ssize_t w = write(1, p, out_len);

		if (w < 0 && errno == EINTR) continue;
		if (w < 0) return 0;
		p += w;
		out_len -= w;
	}
	return 1;
}

static int put(const void *p, size_t n)
{
	if (out_len + n > sizeof(out) && !flush()) return 0;
	memcpy(out + out_len, p, n);
	out_len += n;
	return 1;
}

/*
 * The character whose UTF-8 starts at *p, which is moved past it; -1 for
 * bytes that are not UTF-8 (overlong, a surrogate, above U+10FFFF, cut
 * short), *p then past the longest start of a sequence that could still have
 * been one (at least a byte): each such is one U+FFFD, as in Node's (the
 * WHATWG) decoder.
 */
static long utf8(const unsigned char **p, const unsigned char *e)
{
	const unsigned char *s = *p;
	long c = *s++;
	int more;
	/* The second byte's range; it is narrower after E0, ED, F0 and F4. */
	unsigned char low = 0x80, high = 0xbf;

	if (c < 0x80) {
		*p = s;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		more = 1;
		c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		more = 2;
		low = c == 0xe0 ? 0xa0 : 0x80;
		high = c == 0xed ? 0x9f : 0xbf;
		c &= 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		more = 3;
		low = c == 0xf0 ? 0x90 : 0x80;
		high = c == 0xf4 ? 0x8f : 0xbf;
		c &= 0x07;
	} else {
		more = 0;
		c = -1;
	}
	for (; more > 0; more--, low = 0x80, high = 0xbf) {
		if (s == e || *s < low || *s > high) {
			c = -1;
			break;
		}
		c = c << 6 | (*s++ & 0x3f);
	}
	*p = s;
	return c;
}

/*
 * Writes the text [text, end) as the Node client's printable() would: C0 controls
 * but tab and newline (the table's layout), DEL and C1 as \xNN; U+061C,
 * U+200E, U+200F, U+2028 to U+202E and U+2066 to U+2069 as \uNNNN. Bytes that
 * are not UTF-8 are U+FFFD, as Node would read them: a lone C1 byte, or one
 * overlong, gets no further than a character that is. 0 on an error.
 */
static int print(const char *text, const char *end)
{
	const unsigned char *p = (const unsigned char *)text, *e = (const unsigned char *)end;

	while (p < e) {
		const unsigned char *from = p;
		long c = utf8(&p, e);
		char escape[8];

		if (c < 0) {
			if (!put("\xef\xbf\xbd", 3)) return 0;
		} else if ((c < 0x20 && c != '\t' && c != '\n') || (c >= 0x7f && c <= 0x9f)) {
			if (!put(escape, snprintf(escape, sizeof(escape), "\\x%02lx", c))) return 0;
		} else if (c == 0x61c || c == 0x200e || c == 0x200f || (c >= 0x2028 && c <= 0x202e) ||
			   (c >= 0x2066 && c <= 0x2069)) {
			if (!put(escape, snprintf(escape, sizeof(escape), "\\u%04lx", c))) return 0;
		} else if (!put(from, p - from)) {
			return 0;
		}
	}
	return flush();
}

int main(int argc, char **argv)
{
	struct request r;
	char text[256], *result, *end, *version, *start, *notice;
	ssize_t n, notice_len = 0;

	command_line = argv;
	if (!parse(argc, argv, &r) || !connect_to(r.socket)) hand_off();
	only_root(r.socket);
	snprintf(text, sizeof(text),
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"processId\":%d,\"clientInfo\":{"
		 "\"name\":\"nsx\"},"
		 "\"capabilities\":{},\"initializationOptions\":{\"protocolVersion\":%d}}}",
		 (int)getpid(), NSX_PROTOCOL_VERSION);
	if (!say(text) || !(result = answer(1, &end)) || !(version = member(result, end, "protocolVersion")) ||
	    !is_number(version, end, NSX_PROTOCOL_VERSION))
		hand_off();
	if (!say("{\"jsonrpc\":\"2.0\",\"method\":\"initialized\",\"params\":{}}") || !say(print_request(&r)))
		hand_off();
	/* Both members found before either is decoded: decoding rewrites the string in place, which the walker could
	 * not read again. */
	if (!(result = answer(2, &end)) || !(start = member(result, end, "text"))) hand_off();
	notice = member(result, end, "notice");
	if ((n = decode(start, end)) < 0 || (notice && (notice_len = decode(notice, end)) < 0)) hand_off();
	close(sock);
	/* From here on output has started: no hand-off, and a reader that went (nsx list | head) is no error. */
	signal(SIGPIPE, SIG_IGN);
	if (!print(start, start + n))
		return errno == EPIPE ? 0 : (fprintf(stderr, "nsx: writing the output: %s\n", strerror(errno)), 1);
	/* What the scan left unread, under the table: nsxd's sentence of digits and words; anything else in it is not
	 * let through. */
	for (ssize_t i = 0; i < notice_len; i++)
		fputc(notice[i] == '\n' || (notice[i] >= 0x20 && notice[i] < 0x7f) ? notice[i] : '?', stderr);
	return 0;
}
