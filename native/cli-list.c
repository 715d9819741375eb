/*
 * `nsx list --json`, written from nsxd's namespaces/list answer byte for
 * byte as the Node client writes it (listJsonParts and jsonText in
 * helper/common/format.ts): JSON.stringify's layout at two spaces, each
 * namespace with its processes spelled out, and the characters a terminal
 * acts on but stringify leaves as they are (DEL, C1, the bidirectional
 * marks) as \u escapes. At 20,000 processes that is 37 MB made from 7 MB:
 * the Node client took 340-410 ms to start, read the answer and write it,
 * and 150 MB; this takes 150-170 ms and 14 MB.
 *
 * Only an answer in the form JSON.stringify writes (canonical() in
 * cli-json.c) is copied out, so that reading it and writing it again as
 * Node would is copying its bytes; any other (and one with a scan cut,
 * whose sentence is the Node client's) is the Node client's to read.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* A process of the answer: its pid, where its object is, and its text as a member of a list, once made (len > 0). */
struct process {
	long long pid;
	char *at;
	size_t text, len;
};

#define COUNT(array) (sizeof(array) / sizeof(*(array)))

static const char *const NSTYPES[] = {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"};

static void put_text(struct output *o, const char *text)
{
	out_put(o, text, strlen(text));
}

/* A new line, indented to DEPTH as JSON.stringify(value, null, 2) does. */
static void indent(struct output *o, int depth)
{
	static const char spaces[] = "\n                                                                ";

	for (int left = 2 * depth + 1; left > 0; left -= (int)sizeof(spaces) - 1)
		out_put(o, spaces, left < (int)sizeof(spaces) - 1 ? (size_t)left : sizeof(spaces) - 1);
}

/* The canonical string at p, with what jsonText escapes beyond stringify as \u escapes; returns past it. */
static char *put_string(struct output *o, char *p)
{
	char *from = p++;

	while (*p != '"') {
		const unsigned char *u = (const unsigned char *)p;
		long c;

		if (*p == '\\') {
			p += p[1] == 'u' ? 6 : 2;
			continue;
		}
		c = utf8(&u, u + 4);
		if ((c >= 0x7f && c <= 0x9f) || reorders(c)) {
			char escape[8];

			out_put(o, from, p - from);
			out_put(o, escape, snprintf(escape, sizeof(escape), "\\u%04lx", c));
			from = (char *)u;
		}
		p = (char *)u;
	}
	out_put(o, from, p + 1 - from);
	return p + 1;
}

/* Past the canonical number, true, false or null at p: a delimiter follows it (canonical() saw to that). */
static char *scalar_end(char *p)
{
	if (*p == 't' || *p == 'n') return p + 4;
	if (*p == 'f') return p + 5;
	for (p += *p == '-'; *p >= '0' && *p <= '9';) p++;
	return p;
}

/* The canonical value at p as JSON.stringify(value, null, 2) lays it out at DEPTH; returns past it. */
static char *put_value(struct output *o, char *p, int depth)
{
	char close = *p == '{' ? '}' : ']';

	if (*p == '"') return put_string(o, p);
	if (*p != '{' && *p != '[') {
		char *end = scalar_end(p);

		out_put(o, p, end - p);
		return end;
	}
	out_put(o, p, 1);
	if (p[1] == close) {
		out_put(o, p + 1, 1);
		return p + 2;
	}
	do {
		indent(o, depth + 1);
		if (close == '}') {
			p = put_string(o, p + 1);
			put_text(o, ": ");
			p = put_value(o, p + 1, depth + 1);
		} else {
			p = put_value(o, p + 1, depth + 1);
		}
		if (*p == ',') out_put(o, ",", 1);
	} while (*p == ',');
	indent(o, depth);
	out_put(o, &close, 1);
	return p + 1;
}

static int by_pid(const void *a, const void *b)
{
	const struct process *x = a, *y = b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* The canonical integer at p. */
static long long integer(const char *p)
{
	long long v = 0;
	int negative = *p == '-';

	for (p += negative; *p >= '0' && *p <= '9'; p++) v = v * 10 + (*p - '0');
	return negative ? -v : v;
}

static struct process *find(struct list *l, long long pid)
{
	struct process key = {.pid = pid};

	return bsearch(&key, l->processes, l->count, sizeof(key), by_pid);
}

/* Whether the key at p (canonical), of LENGTH bytes between its quotes, is NAME. */
static int named(const char *p, size_t length, const char *name)
{
	return strlen(name) == length && !memcmp(p + 1, name, length);
}

/* The length of the canonical string at p (a key, or a value), whole before END, between its quotes. */
static size_t quoted_length(char *p, char *end)
{
	return value_end(p, end) - p - 2;
}

/* The first element of the canonical array at p; NULL if it has none. */
static char *first_element(char *p)
{
	return p[1] == ']' ? NULL : p + 1;
}

/* The element after the one at p, in a canonical array; NULL after the last. */
static char *next_element(char *p, char *end)
{
	p = value_end(p, end);
	return *p == ',' ? p + 1 : NULL;
}

/* The key of the member after the one whose key is at p, in a canonical object; NULL after the last. */
static char *next_member(char *p, char *end)
{
	return next_element(value_end(p, end) + 1, end);
}

/*
 * The values of KEYS (N of them) in the canonical object at p, in one walk
 * (member() walks all the members before the one it finds): VALUES[i], NULL
 * where it has none.
 */
static void members(char *p, char *end, const char *const *keys, size_t n, char **values)
{
	memset(values, 0, n * sizeof(*values));
	for (char *key = p[1] == '}' ? NULL : p + 1; key; key = next_member(key, end)) {
		size_t length = quoted_length(key, end);

		for (size_t i = 0; i < n; i++)
			if (named(key, length, keys[i])) values[i] = key + length + 3;
	}
}

/* Past the word at t in a list of words and commas. */
static const char *next_word(const char *t)
{
	t += strcspn(t, ",");
	return *t ? t + 1 : t;
}

/* Whether every element of the array at p is an integer. */
static int integers(char *p, char *end)
{
	char *v;

	for (v = first_element(p); v; v = next_element(v, end))
		if (*v != '-' && (*v < '0' || *v > '9')) return 0;
	return 1;
}

/* The processes of the answer at p, by pid; 0 if one is not an object with an integer pid, or a pid comes twice. */
static int index_processes(struct list *l, char *p)
{
	size_t cap = 0;

	for (char *v = first_element(p); v; v = next_element(v, l->end)) {
		char *pid = *v == '{' ? member(v, l->end, "pid") : NULL;

		if (!pid || (*pid != '-' && (*pid < '0' || *pid > '9'))) return 0;
		if (l->count == cap) {
			struct process *more = reallocarray(l->processes, cap = cap ? 2 * cap : 1024, sizeof(*more));

			if (!more) return 0;
			l->processes = more;
		}
		l->processes[l->count++] = (struct process){.pid = integer(pid), .at = v};
	}
	qsort(l->processes, l->count, sizeof(*l->processes), by_pid);
	for (size_t i = 1; i < l->count; i++)
		if (l->processes[i].pid == l->processes[i - 1].pid) return 0;
	return 1;
}

/* The namespaces of the answer at p, each an object whose pids are integers. */
static int namespaces_read(char *p, char *end)
{
	char *v, *pids;

	for (v = first_element(p); v; v = next_element(v, end))
		if (*v != '{' || !(pids = member(v, end, "pids")) || *pids != '[' || !integers(pids, end)) return 0;
	return 1;
}

/*
 * nsxd's answer to namespaces/list, [result, end), read into L for
 * list_write; 0 if it is not one this front copies out (see the top): the
 * Node client's, then. list_done frees what L holds either way.
 */
int list_read(struct list *l, char *result, char *end)
{
	static const char *const KEYS[] = {"namespaces", "processes", "containers", "engines", "cut"};
	char *v[COUNT(KEYS)];

	memset(l, 0, sizeof(*l));
	l->made.fd = -1;
	l->end = end;
	if (*result != '{' || !canonical(result, end, 0)) return 0;
	members(result, end, KEYS, COUNT(KEYS), v);
	l->namespaces = v[0];
	l->containers = v[2];
	l->engines = v[3];
	return !v[4] && v[0] && *v[0] == '[' && v[1] && *v[1] == '[' && (!v[2] || *v[2] == '[') &&
	       (!v[3] || *v[3] == '[') && namespaces_read(v[0], end) && index_processes(l, v[1]);
}

/* The text of P as a member of a list of processes, its comma first: made once, into l->made, as Node's member(). */
static void make_member(struct list *l, struct process *p)
{
	static const char *const FIELDS[] = {"pid", "ppid", "comm", "cmdline", "uid", "user"};
	char *values[COUNT(FIELDS)];
	struct output *m = &l->made;
	const char *open = "{";

	members(p->at, l->end, FIELDS, COUNT(FIELDS), values);
	p->text = m->len;
	put_text(m, ",\n        ");
	for (size_t i = 0; i < COUNT(FIELDS); i++) {
		if (!values[i]) continue;
		put_text(m, open);
		open = ",";
		indent(m, 5);
		out_put(m, "\"", 1);
		put_text(m, FIELDS[i]);
		put_text(m, "\": ");
		put_value(m, values[i], 5);
	}
	if (*open == '{') {
		put_text(m, "{}");
	} else {
		indent(m, 4);
		put_text(m, "}");
	}
	p->len = m->len - p->text;
}

/* The namespace at NS, with its processes spelled out after its other members, as listJsonParts writes one. */
static void put_namespace(struct list *l, struct output *o, char *ns, int first)
{
	char *key, *pid, *pids = member(ns, l->end, "pids"), count[32];
	int none = 1;
	size_t n = 0;

	put_text(o, first ? "[" : ",");
	indent(o, 2);
	put_text(o, "{");
	/* What nsxd sent is not trusted to lack the two members added here: each comes once, the last. */
	for (key = ns[1] == '}' ? NULL : ns + 1; key; key = next_member(key, l->end)) {
		size_t length = quoted_length(key, l->end);

		if (named(key, length, "pids") || named(key, length, "nprocs") || named(key, length, "processes"))
			continue;
		indent(o, 3);
		put_value(o, key, 3);
		put_text(o, ": ");
		put_value(o, key + length + 3, 3);
		put_text(o, ",");
	}
	for (pid = first_element(pids); pid; pid = next_element(pid, l->end)) n += find(l, integer(pid)) != NULL;
	indent(o, 3);
	out_put(o, count, snprintf(count, sizeof(count), "\"nprocs\": %zu,", n));
	indent(o, 3);
	put_text(o, "\"processes\": [");
	for (pid = first_element(pids); pid; pid = next_element(pid, l->end)) {
		struct process *p = find(l, integer(pid));

		if (!p) continue;
		if (!p->len) make_member(l, p);
		if (l->made.failed) return;
		/* The first member has no comma before it. */
		out_put(o, l->made.buf + p->text + none, p->len - none);
		none = 0;
	}
	if (none) {
		put_text(o, "]");
	} else {
		indent(o, 3);
		put_text(o, "]");
	}
	indent(o, 2);
	put_text(o, "}");
}

/* Whether the namespace at NS is of one of TYPES (comma-separated; NULL: all). */
static int wanted(struct list *l, char *ns, const char *types)
{
	char *type = types ? member(ns, l->end, "type") : NULL;
	size_t n;

	if (!types) return 1;
	if (!type || *type != '"') return 0;
	/* Canonical, a type's name is its bytes between the quotes. */
	n = quoted_length(type, l->end);
	for (const char *t = types; *t; t = next_word(t))
		if (strcspn(t, ",") == n && !memcmp(t, type + 1, n)) return 1;
	return 0;
}

/* Writes L as `nsx list --json` of TYPES (NULL: all) to O; 0 on an error, which o->failed names. */
int list_write(struct list *l, const char *types, struct output *o)
{
	char *ns;
	int first = 1;

	put_text(o, "{\n  \"namespaces\": ");
	for (ns = first_element(l->namespaces); ns; ns = next_element(ns, l->end))
		if (wanted(l, ns, types)) {
			put_namespace(l, o, ns, first);
			first = 0;
		}
	put_text(o, first ? "[]" : "\n  ]");
	if (l->containers) {
		put_text(o, ",\n  \"containers\": ");
		put_value(o, l->containers, 1);
	}
	if (l->engines) {
		put_text(o, ",\n  \"engines\": ");
		put_value(o, l->engines, 1);
	}
	put_text(o, "\n}\n");
	if (l->made.failed) o->failed = l->made.failed;
	return out_flush(o);
}

/* Frees what list_read left in L. */
void list_done(struct list *l)
{
	free(l->processes);
	free(l->made.buf);
}

/* Whether TYPES (letters and commas) are each a type as nsxd spells it; else the Node client reads them. */
int list_types(const char *types)
{
	for (const char *t = types; *t; t = next_word(t)) {
		size_t n = strcspn(t, ","), i = 0;

		while (i < COUNT(NSTYPES) && (strlen(NSTYPES[i]) != n || strncmp(NSTYPES[i], t, n))) i++;
		if (i == COUNT(NSTYPES)) return 0;
	}
	return 1;
}
