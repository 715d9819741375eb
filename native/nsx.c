/*
 * nsx, the front of the command-line client. `nsx list` is what people type
 * most, and lsns answers it in about 15 ms where Node alone takes 60 to
 * start; so this program answers
 *
 *   nsx [--socket PATH] list [-t TYPE,...] [--rescan] [--json]
 *
 * itself, and
 *
 *   nsx [--socket PATH] bridge
 *
 * (cli-bridge.c), which ssh or kubectl exec runs for a client elsewhere; a
 * --host or NSX_HOST goes to the Node client, which reaches the host. The
 * table: nsxd writes it (namespaces/print, with the Node client's own
 * functions), and any notice for under it (what its scan left unread), and
 * this copies them out. The JSON: nsxd's namespaces/list answer, written as
 * the Node client writes it (cli-list.c). Every other
 * command line goes, unchanged, to the Node client beside it (nsx.js), and so
 * does any failure before output starts (no nsxd, a refusal, another protocol
 * version, a type written other than nsxd spells it, an answer not as nsxd
 * writes one): the Node client does
 * the whole thing again and says what went wrong in its usual words. All but
 * one: a socket served by someone other than root, see only_root() in
 * cli-rpc.c.
 *
 * It speaks JSON-RPC with Content-Length framing, as every client does, and
 * reads only the answers nsxd writes: cli-json.c knows just enough JSON to
 * find a member, decode a string and tell a value written as JSON.stringify
 * writes one, and checks every bound as it goes.
 * What nsx received is never NUL-terminated, so nothing reads it with the
 * C library's string functions (strtol and the like): every parse of it is
 * given the end of the bytes it may read.
 *
 * It believes only root (SO_PEERCRED), and makes visible the control
 * characters in what it prints, as the Node client does (printable() in
 * helper/common/format.ts; cli-print.c): nsxd has done so already, but whatever answers
 * on a socket is judged here, not trusted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifndef NSX_PROTOCOL_VERSION
#error "esbuild.mjs builds this with -DNSX_PROTOCOL_VERSION=N, N from helper/common/protocol.ts"
#endif

#ifndef NSX_DEFAULT_SOCKET
#error "esbuild.mjs builds this with -DNSX_DEFAULT_SOCKET=\"PATH\", PATH from helper/common/deployment.ts"
#endif
/* The longest -t this front sends itself: all eight types are 47 characters. */
#define MAX_TYPES 64

/* Runs the Node client with the command line as it came; never returns. */
static void __attribute__((noreturn)) hand_off(char **argv)
{
	char path[PATH_MAX];
	/* Room is left for "nsx.js" in place of this program's own name. */
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 8);
	char *slash = n > 0 ? memrchr(path, '/', n) : NULL;

	if (slash) {
		strcpy(slash + 1, "nsx.js");
		execv(path, argv);
	}
	fprintf(stderr, "nsx: cannot start the Node client (nsx.js beside %s): %s\n", n > 0 ? path : "this program",
		strerror(errno));
	exit(1);
}

/* What was asked. */
struct request {
	const char *socket;
	const char *types;
	int rescan, json;
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
	r->rescan = r->json = 0;
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
		} else if (!strcmp(a, "--json")) {
			r->json = 1;
		} else {
			return 0;
		}
	}
	if (!r->socket) {
		const char *env = getenv("NSX_SOCKET");

		r->socket = env && *env ? env : NSX_DEFAULT_SOCKET;
	}
	return verbs == 1 && *r->socket && (!r->types || (plain_types(r->types) && (!r->json || list_types(r->types))));
}

/* The socket of `nsx [--socket PATH] bridge`, or NULL if the command line is not that. */
static const char *bridge_socket(int argc, char **argv)
{
	const char *socket = NULL, *env = getenv("NSX_SOCKET");

	if (argc == 4 && !strcmp(argv[1], "--socket") && !strcmp(argv[3], "bridge"))
		socket = argv[2];
	else if (argc == 3 && !strncmp(argv[1], "--socket=", 9) && !strcmp(argv[2], "bridge"))
		socket = argv[1] + 9;
	else if (argc == 2 && !strcmp(argv[1], "bridge"))
		socket = env && *env ? env : NSX_DEFAULT_SOCKET;
	return socket && *socket ? socket : NULL;
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

/* The handshake every client makes: initialize, in our protocol version, and initialized; 0 if nsxd did not take it. */
static int initialize(struct connection *c)
{
	char text[256], *result, *end, *version;

	snprintf(text, sizeof(text),
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"processId\":%d,\"clientInfo\":{"
		 "\"name\":\"nsx\"},"
		 "\"capabilities\":{},\"initializationOptions\":{\"protocolVersion\":%d}}}",
		 (int)getpid(), NSX_PROTOCOL_VERSION);
	return say(c, text) && (result = answer(c, 1, &end)) && (version = member(result, end, "protocolVersion")) &&
	       is_number(version, end, NSX_PROTOCOL_VERSION) &&
	       say(c, "{\"jsonrpc\":\"2.0\",\"method\":\"initialized\",\"params\":{}}");
}

/* What namespaces/print answered, decoded: the table, and a notice for under it (none: NULL). */
struct table {
	char *text, *notice;
	ssize_t len, notice_len;
};

/* Asks for the table and decodes the answer; 0 if there is none to print. */
static int fetch_table(struct connection *c, const struct request *r, struct table *t)
{
	char *result, *end;

	if (!say(c, print_request(r))) return 0;
	/* Both members found before either is decoded: decoding rewrites the string in place, which the walker could
	 * not read again. */
	if (!(result = answer(c, 2, &end)) || !(t->text = member(result, end, "text"))) return 0;
	t->notice = member(result, end, "notice");
	t->notice_len = 0;
	return (t->len = decode(t->text, end)) >= 0 && (!t->notice || (t->notice_len = decode(t->notice, end)) >= 0);
}

/* The namespaces/list request, with and without a rescan. */
#define LIST_REQUEST(params) "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"namespaces/list\",\"params\":" params "}"

/* Asks for the namespaces and reads the answer into L; 0 if it is not one to copy out. */
static int fetch_list(struct connection *c, const struct request *r, struct list *l)
{
	char *result, *end;

	return say(c, r->rescan ? LIST_REQUEST("{\"rescan\":true}") : LIST_REQUEST("{}")) &&
	       (result = answer(c, 2, &end)) && list_read(l, result, end);
}

/* Writes the answer as asked; 0 on an error, which errno names. */
static int write_answer(struct connection *c, const struct request *r, char **argv)
{
	struct table t;
	struct list l;
	struct output o = {.fd = 1};
	int written;

	if (!r->json) {
		if (!fetch_table(c, r, &t)) hand_off(argv);
		close(c->sock);
		signal(SIGPIPE, SIG_IGN);
		if (!print(t.text, t.text + t.len)) return 0;
		/* What the scan left unread, under the table: nsxd's sentence of digits and words; anything else in it
		 * is not let through. */
		for (ssize_t i = 0; i < t.notice_len; i++)
			fputc(t.notice[i] == '\n' || (t.notice[i] >= 0x20 && t.notice[i] < 0x7f) ? t.notice[i] : '?',
			      stderr);
		return 1;
	}
	if (!fetch_list(c, r, &l)) hand_off(argv);
	close(c->sock);
	signal(SIGPIPE, SIG_IGN);
	written = list_write(&l, r->types, &o);
	list_done(&l);
	free(o.buf);
	errno = o.failed;
	return written;
}

int main(int argc, char **argv)
{
	struct connection c = {.sock = -1};
	struct request r;
	const char *host = getenv("NSX_HOST"), *bridged = bridge_socket(argc, argv);
	int written, failed;

	if (bridged) return bridge(bridged);
	/* Another host is the Node client's to reach (ssh, kubectl). */
	if ((host && *host) || !parse(argc, argv, &r) || !connect_to(&c, r.socket)) hand_off(argv);
	only_root(&c, r.socket);
	if (!initialize(&c)) hand_off(argv);
	/* Once the answer is read, output starts: no hand-off after, and a reader that went (nsx list | head) is no
	 * error. */
	written = write_answer(&c, &r, argv);
	failed = errno;
	free(c.in);
	if (!written && failed != EPIPE) return fprintf(stderr, "nsx: writing the output: %s\n", strerror(failed)), 1;
	return 0;
}
