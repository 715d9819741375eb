/* The JSON nsx-net writes: every byte read from the kernel is the namespace owner's, so all are escaped. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nsx-net.h"

void jb_init(struct jbuf *b, size_t max)
{
	b->p = NULL;
	b->len = b->cap = 0;
	b->max = max;
	b->full = 0;
}

void jb_free(struct jbuf *b)
{
	free(b->p);
	jb_init(b, b->max);
}

static int jb_reserve(struct jbuf *b, size_t n)
{
	size_t want;
	char *p;

	if (b->full) return -1;
	if (b->len + n + 1 > b->max) {
		b->full = 1;
		return -1;
	}
	if (b->len + n + 1 <= b->cap) return 0;
	want = b->cap ? b->cap : 4096;
	while (want < b->len + n + 1) want *= 2;
	if (want > b->max) want = b->max;
	p = realloc(b->p, want);
	if (!p) {
		b->full = 1;
		return -1;
	}
	b->p = p;
	b->cap = want;
	return 0;
}

void jb_raw(struct jbuf *b, const char *s, size_t n)
{
	if (jb_reserve(b, n) < 0) return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

void jb_lit(struct jbuf *b, const char *s)
{
	jb_raw(b, s, strlen(s));
}

void jb_fmt(struct jbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0) return;
	if ((size_t)n >= sizeof(tmp)) n = sizeof(tmp) - 1;
	jb_raw(b, tmp, (size_t)n);
}

void jb_str(struct jbuf *b, const unsigned char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char esc[6] = {'\\', 'u', '0', '0', 0, 0};
	size_t i;

	jb_raw(b, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\') {
			char two[2] = {'\\', (char)c};
			jb_raw(b, two, 2);
		} else if (c < 0x20 || c >= 0x7f) {
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			jb_raw(b, esc, 6);
		} else {
			jb_raw(b, (const char *)&c, 1);
		}
	}
	jb_raw(b, "\"", 1);
}
