/*
 * What nsx writes: stdout a buffer at a time (or text made in memory, for
 * cli-list.c to copy out many times), and the table as the Node client's
 * printable() would write it, whatever bytes it came as.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Writes [p, p + n) whole to o->fd; on an error, o->failed is errno's. */
static void write_all(struct output *o, const char *p, size_t n)
{
	while (n > 0 && !o->failed) {
		ssize_t w = write(o->fd, p, n);

		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) {
			o->failed = w < 0 ? errno : EIO;
			break;
		}
		p += w;
		n -= w;
	}
}

/* Writes out what is buffered; 0 once an error has come (o->failed says which). */
int out_flush(struct output *o)
{
	if (o->fd >= 0) {
		write_all(o, o->buf, o->len);
		o->len = 0;
	}
	return !o->failed;
}

/* Room for n bytes more: the buffer is made (64 KiB at least) or doubled; failed is ENOMEM when it cannot be. */
static int grow(struct output *o, size_t n)
{
	size_t cap = o->cap ? o->cap : 64 * 1024;
	char *bigger;

	while (cap - o->len < n) cap *= 2;
	if (!(bigger = realloc(o->buf, cap))) return (o->failed = ENOMEM), 0;
	o->buf = bigger;
	o->cap = cap;
	return 1;
}

/* n bytes more; once an error has come, none. */
void out_put(struct output *o, const void *p, size_t n)
{
	if (o->failed) return;
	if (o->cap - o->len < n) {
		if (o->fd >= 0 && o->cap) {
			/* A file's buffer, full, is written out, and what is bigger than the buffer goes on its own. */
			out_flush(o);
			if (n > o->cap) {
				write_all(o, p, n);
				return;
			}
		} else if (!grow(o, n)) {
			return;
		}
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

/*
 * The character whose UTF-8 starts at *p, which is moved past it; -1 for
 * bytes that are not UTF-8 (overlong, a surrogate, above U+10FFFF, cut
 * short), *p then past the longest start of a sequence that could still have
 * been one (at least a byte): each such is one U+FFFD, as in Node's (the
 * WHATWG) decoder.
 */
long utf8(const unsigned char **p, const unsigned char *e)
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

/* Whether c is a bidirectional mark or override, or a line or paragraph separator: it reorders or breaks a line. */
int reorders(long c)
{
	return c == 0x61c || c == 0x200e || c == 0x200f || (c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/*
 * Writes the text [text, end) as the Node client's printable() would: C0 controls
 * but tab and newline (the table's layout), DEL and C1 as \xNN; U+061C,
 * U+200E, U+200F, U+2028 to U+202E and U+2066 to U+2069 as \uNNNN. Bytes that
 * are not UTF-8 are U+FFFD, as Node would read them: a lone C1 byte, or one
 * overlong, gets no further than a character that is. 0 on an error.
 */
int print(const char *text, const char *end)
{
	const unsigned char *p = (const unsigned char *)text, *e = (const unsigned char *)end;
	struct output o = {.fd = 1};
	int written;

	while (p < e) {
		const unsigned char *from = p;
		long c = utf8(&p, e);
		char escape[8];

		if (c < 0)
			out_put(&o, "\xef\xbf\xbd", 3);
		else if ((c < 0x20 && c != '\t' && c != '\n') || (c >= 0x7f && c <= 0x9f))
			out_put(&o, escape, snprintf(escape, sizeof(escape), "\\x%02lx", c));
		else if (reorders(c))
			out_put(&o, escape, snprintf(escape, sizeof(escape), "\\u%04lx", c));
		else
			out_put(&o, from, p - from);
	}
	written = out_flush(&o);
	free(o.buf);
	errno = o.failed;
	return written;
}
