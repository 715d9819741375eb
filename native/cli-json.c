/*
 * Just enough JSON for nsx: find a member, compare a number, decode a
 * string, tell a value written as JSON.stringify writes one (canonical);
 * every walk is given the end of the bytes it may read (nothing nsxd sent
 * is NUL-terminated).
 */
#define _GNU_SOURCE
#include <string.h>

#include "cli.h"

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
char *member(char *p, char *e, const char *key)
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
int is_number(const char *p, const char *e, unsigned long n)
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
 * The character of the \u escape whose hex digits start at *p, which is
 * moved past them (and past a second escape that makes a surrogate pair with
 * it); -1 if they are not hex digits. A lone surrogate is U+FFFD.
 */
static int unicode_escape(char **p, char *e)
{
	int u = hex4(*p, e);

	if (u < 0) return -1;
	*p += 4;
	if (u >= 0xd800 && u < 0xdc00 && e - *p >= 6 && (*p)[0] == '\\' && (*p)[1] == 'u') {
		int low = hex4(*p + 2, e);

		if (low >= 0xdc00 && low < 0xe000) {
			u = 0x10000 + ((u - 0xd800) << 10) + (low - 0xdc00);
			*p += 6;
		}
	}
	return u >= 0xd800 && u < 0xe000 ? 0xfffd : u;
}

/* Writes the character u as UTF-8 at w; returns where it ends. */
static char *put_utf8(char *w, int u)
{
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
	return w;
}

/*
 * Decodes the JSON string at p in place (UTF-8 is never longer than its
 * escape) and returns its length, or -1. A lone surrogate becomes U+FFFD, as
 * Node writes one.
 */
ssize_t decode(char *p, char *e)
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
		case 'u':
			if ((c = unicode_escape(&p, e)) < 0) return -1;
			w = put_utf8(w, c);
			break;
		default: return -1;
		}
	}
	return p < e ? w - begin : -1;
}

/* Past the value at p, whole before e; NULL if it is not one. */
char *value_end(char *p, char *e)
{
	return skip(p, e, 0);
}

static int lower_hex(const char *p)
{
	for (int i = 0; i < 4; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) return 0;
	return 1;
}

/*
 * Past the escape at p (its backslash) if JSON.stringify writes it: \" \\
 * \b \f \n \r \t, \u00XX for the other characters below 0x20, \uDXXX for a
 * surrogate alone (a pair is written as UTF-8); in lowercase hex. NULL
 * otherwise.
 */
static char *canonical_escape(char *p, char *e)
{
	int u;

	if (e - p < 2) return NULL;
	if (p[1] && strchr("\"\\bfnrt", p[1])) return p + 2;
	if (p[1] != 'u' || e - p < 6 || !lower_hex(p + 2)) return NULL;
	u = hex4(p + 2, e);
	if (u < 0x20) return u == '\b' || u == '\t' || u == '\n' || u == '\f' || u == '\r' ? NULL : p + 6;
	if (u < 0xd800 || u >= 0xe000) return NULL;
	/* A high surrogate escaped before a low one escaped is a pair: stringify writes that as UTF-8. */
	if (u < 0xdc00 && e - p >= 12 && p[6] == '\\' && p[7] == 'u' && (u = hex4(p + 8, e)) >= 0xdc00 && u < 0xe000)
		return NULL;
	return p + 6;
}

/* Past the string at p if it is as JSON.stringify writes one (see canonical_escape), its text UTF-8; else NULL. */
static char *canonical_string(char *p, char *e)
{
	if (p >= e || *p++ != '"') return NULL;
	while (p < e && *p != '"') {
		const unsigned char *u = (const unsigned char *)p;

		if (*u < 0x20) return NULL;
		if (*p == '\\') {
			if (!(p = canonical_escape(p, e))) return NULL;
		} else if (utf8(&u, (const unsigned char *)e) < 0) {
			return NULL;
		} else {
			p = (char *)u;
		}
	}
	return p < e ? p + 1 : NULL;
}

/*
 * Past the integer at p if it is as JSON.stringify writes one, of 15 digits
 * at most (exact in a double); what follows it is the caller's to judge.
 */
static char *canonical_number(char *p, char *e)
{
	int negative = p < e && *p == '-';
	char *digits = p + negative;

	for (p = digits; p < e && *p >= '0' && *p <= '9'; p++)
		if (p - digits == 15) return NULL;
	if (p == digits || (*digits == '0' && (p - digits > 1 || negative))) return NULL;
	return p;
}

/* The most members an object may have to be copied out: nsxd's have about ten. */
#define MAX_MEMBERS 64

/* Past the object at p if canonical: no key twice, none that starts with a digit (see canonical). */
static char *canonical_object(char *p, char *e, int depth)
{
	char *keys[MAX_MEMBERS], *ends[MAX_MEMBERS];
	int n = 0;

	if (++p < e && *p == '}') return p + 1;
	for (; p < e; p++) {
		char *key = p, *end = canonical_string(p, e);

		if (!end || n == MAX_MEMBERS || (key[1] >= '0' && key[1] <= '9')) return NULL;
		for (int i = 0; i < n; i++)
			if (ends[i] - keys[i] == end - key && !memcmp(keys[i], key, end - key)) return NULL;
		keys[n] = key;
		ends[n++] = end;
		if (end >= e || *end != ':' || !(p = canonical(end + 1, e, depth + 1)) || p >= e) return NULL;
		if (*p == '}') return p + 1;
		if (*p != ',') return NULL;
	}
	return NULL;
}

static const char *const WORDS[] = {"true", "false", "null"};

/*
 * Past the JSON value at p if it is written as JSON.stringify writes one:
 * no space, integers, strings escaped only where stringify escapes, and no
 * object that JSON.parse would change (a key twice; a key that is an array
 * index, which JavaScript puts first). Read and written again, such a value
 * is the same bytes; nsxd's answers are. NULL for any other.
 */
char *canonical(char *p, char *e, int depth)
{
	if (p >= e || depth > 64) return NULL;
	if (*p == '"') return canonical_string(p, e);
	if (*p == '{') return canonical_object(p, e, depth);
	if (*p == '[') {
		if (++p < e && *p == ']') return p + 1;
		for (; (p = canonical(p, e, depth + 1)) && p < e; p++) {
			if (*p == ']') return p + 1;
			if (*p != ',') return NULL;
		}
		return NULL;
	}
	for (size_t i = 0; i < sizeof(WORDS) / sizeof(*WORDS); i++) {
		size_t n = strlen(WORDS[i]);

		if ((size_t)(e - p) >= n && !memcmp(p, WORDS[i], n)) return p + n;
	}
	return canonical_number(p, e);
}
