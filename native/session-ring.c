/*
 * nsx-session's output for nsxd: frames in one ring, kept while nobody reads
 * them (up to the scrollback), sent as nsxd takes them.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "session.h"

/* Copies n bytes to or from the ring, off bytes past its head, across its end. */
static void ring_put(struct ring *r, size_t off, const void *from, size_t n)
{
	size_t at = (r->head + off) % OUT_RING, first = n < OUT_RING - at ? n : OUT_RING - at;

	memcpy(r->buf + at, from, first);
	memcpy(r->buf, (const unsigned char *)from + first, n - first);
	if (n > first)
		r->dirty = OUT_RING;
	else if (at + n > r->dirty)
		r->dirty = at + n;
}

static void ring_get(const struct ring *r, size_t off, void *to, size_t n)
{
	size_t at = (r->head + off) % OUT_RING, first = n < OUT_RING - at ? n : OUT_RING - at;

	memcpy(to, r->buf + at, first);
	memcpy((unsigned char *)to + first, r->buf, n - first);
}

static char head_type(const struct ring *r)
{
	return (char)r->buf[r->head];
}

/* The payload length of the frame off bytes past the head. */
uint32_t ring_frame_len(const struct ring *r, size_t off)
{
	unsigned char h[4];

	ring_get(r, off + 1, h, 4);
	return get_u32(h);
}

static void put_header(struct ring *r, size_t off, char type, uint32_t len)
{
	unsigned char h[5];

	h[0] = (unsigned char)type;
	put_u32(h + 1, len);
	ring_put(r, off, h, 5);
}

/* An output frame (O or E) or the exit; output follows output of its stream in one frame, up to a read's worth. */
void ring_enqueue(struct ring *r, char type, const void *data, size_t n)
{
	size_t last = (r->last + OUT_RING - r->head) % OUT_RING;

	if (!r->buf) {
		r->buf = mmap(NULL, OUT_RING, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (r->buf == MAP_FAILED) abort();
	}
	/* The reads after QUEUE_HIGH, or after the trim to SCROLLBACK, always fit: anything else is a bug here. */
	if (r->queued + 5 + n > OUT_RING) abort();
	/* A frame nsxd has begun to take keeps the length it was sent with. */
	if (r->queued && type != 'X' && (char)r->buf[r->last] == type && (last || !r->sent) &&
	    ring_frame_len(r, last) + n <= READ_CHUNK) {
		put_header(r, last, type, ring_frame_len(r, last) + (uint32_t)n);
	} else {
		r->last = (r->head + r->queued) % OUT_RING;
		put_header(r, r->queued, type, (uint32_t)n);
		r->queued += 5;
	}
	ring_put(r, r->queued, data, n);
	r->queued += n;
}

void ring_drop_head(struct ring *r)
{
	size_t n = 5 + ring_frame_len(r, 0);

	r->head = (r->head + n) % OUT_RING;
	r->queued -= n;
	r->sent = 0;
	if (r->queued) return;
	/*
	 * Empty, the ring starts over at its start: a session whose output nsxd
	 * takes at once touches its first pages only. One that held more (a
	 * scrollback sent, a slow nsxd) gives its pages back.
	 */
	r->head = 0;
	if (r->dirty > QUEUE_HIGH) {
		madvise(r->buf, OUT_RING, MADV_DONTNEED);
		r->dirty = 0;
	}
}

/* Drops the oldest output until no more than keep bytes of frames are queued, or the oldest frame is no output. */
static void ring_trim(struct ring *r, size_t keep)
{
	while (r->queued > keep && (head_type(r) == 'O' || head_type(r) == 'E')) {
		size_t over = r->queued - keep;
		uint32_t len = ring_frame_len(r, 0);
		char type = head_type(r);
		int only = r->last == r->head;

		if (over >= len) {
			ring_drop_head(r);
			continue;
		}
		r->head = (r->head + over) % OUT_RING;
		r->queued -= over;
		put_header(r, 0, type, len - (uint32_t)over);
		if (only) r->last = r->head;
	}
}

/*
 * With no client: only the newest output is kept, and only output is ever
 * dropped. The oldest frame loses its oldest bytes, its header moved up
 * over them, so exactly the newest SCROLLBACK bytes of frames stay. Before
 * the first client nothing is dropped (the shell waits instead).
 */
void trim_scrollback(struct session *s)
{
	if (!s->adopted && s->ever_adopted) ring_trim(&s->out, SCROLLBACK);
}
