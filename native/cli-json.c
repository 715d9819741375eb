/*
 * Just enough JSON for nsx: find a member, compare a number, decode a string;
 * every walk is given the end of the bytes it may read (nothing nsxd sent is
 * NUL-terminated).
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
