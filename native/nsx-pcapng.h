/*
 * pcapng, as nsx-capture writes it (draft-ietf-opsawg-pcapng): one Section
 * Header Block, one Interface Description Block per interface (its name,
 * nanosecond timestamps), then one Enhanced Packet Block per packet with its
 * direction. Blocks are built in an output buffer that is written whole to
 * one fd; nothing here opens or names a file.
 */
#ifndef NSX_PCAPNG_H
#define NSX_PCAPNG_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define PCAPNG_SHB 0x0A0D0D0Au
#define PCAPNG_IDB 0x00000001u
#define PCAPNG_EPB 0x00000006u
#define PCAPNG_BOM 0x1A2B3C4Du

/* Link types as pcapng files name them (not libpcap's DLT_ numbers, which differ for raw IP). */
#define LINKTYPE_ETHERNET  1
#define LINKTYPE_RAW	   101
#define LINKTYPE_LINUX_SLL 113

/* epb_flags: bits 0-1 are the direction. */
#define EPB_INBOUND  1u
#define EPB_OUTBOUND 2u

#define OUT_BUFFER (256 * 1024)

struct out {
	int fd;
	size_t len;
	/* Bytes written to fd so far, and those buffered: what --bytes bounds. */
	unsigned long long total;
	unsigned char buf[OUT_BUFFER];
};

static inline void put32(struct out *o, uint32_t v)
{
	memcpy(o->buf + o->len, &v, 4);
	o->len += 4;
}

static inline void put16(struct out *o, uint16_t v)
{
	memcpy(o->buf + o->len, &v, 2);
	o->len += 2;
}

/* Bytes, then zeros to the next multiple of four. */
static inline void put_padded(struct out *o, const void *p, size_t n)
{
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	while (o->len % 4) o->buf[o->len++] = 0;
}

static inline size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* Writes what is buffered; 0 on success, -1 with errno (EPIPE: the reader went). A signal does not cut a block. */
static inline int out_flush(struct out *o)
{
	size_t done = 0;

	while (done < o->len) {
		ssize_t n = write(o->fd, o->buf + done, o->len - done);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) return -1;
		done += (size_t)n;
	}
	o->len = 0;
	return 0;
}

/* Room for a block of n bytes, flushing first if needed; -1 if the flush failed. */
static inline int out_room(struct out *o, size_t n)
{
	if (o->len + n <= OUT_BUFFER) return 0;
	return out_flush(o);
}

static inline int pcapng_shb(struct out *o)
{
	static const char app[] = "nsx-capture (Namespace Explorer)";
	uint32_t len = 28 + 4 + (uint32_t)pad4(sizeof(app) - 1) + 4;

	if (out_room(o, len) < 0) return -1;
	put32(o, PCAPNG_SHB);
	put32(o, len);
	put32(o, PCAPNG_BOM);
	put16(o, 1);
	put16(o, 0);
	put32(o, 0xFFFFFFFFu); /* section length: not known */
	put32(o, 0xFFFFFFFFu);
	put16(o, 4); /* shb_userappl */
	put16(o, sizeof(app) - 1);
	put_padded(o, app, sizeof(app) - 1);
	put32(o, 0); /* opt_endofopt */
	put32(o, len);
	o->total += len;
	return 0;
}

/* An interface: its name as shown (eth0@web), its link type, its snap length; timestamps in nanoseconds. */
static inline int pcapng_idb(struct out *o, const char *name, uint16_t linktype, uint32_t snaplen)
{
	size_t n = strlen(name);
	uint32_t len;
	uint8_t tsresol = 9;

	if (n > 255) n = 255;
	len = 20 + 4 + (uint32_t)pad4(n) + 4 + 4 + 4;
	if (out_room(o, len) < 0) return -1;
	put32(o, PCAPNG_IDB);
	put32(o, len);
	put16(o, linktype);
	put16(o, 0);
	put32(o, snaplen);
	put16(o, 2); /* if_name */
	put16(o, (uint16_t)n);
	put_padded(o, name, n);
	put16(o, 9); /* if_tsresol */
	put16(o, 1);
	put_padded(o, &tsresol, 1);
	put32(o, 0);
	put32(o, len);
	o->total += len;
	return 0;
}

/* The size of the block pcapng_epb writes for caplen bytes. */
static inline size_t pcapng_epb_size(uint32_t caplen)
{
	return 28 + pad4(caplen) + 8 + 4 + 4;
}

static inline int pcapng_epb(struct out *o, uint32_t ifid, uint64_t ts_ns, const void *data, uint32_t caplen,
			     uint32_t origlen, uint32_t flags)
{
	uint32_t len = (uint32_t)pcapng_epb_size(caplen);

	if (out_room(o, len) < 0) return -1;
	put32(o, PCAPNG_EPB);
	put32(o, len);
	put32(o, ifid);
	put32(o, (uint32_t)(ts_ns >> 32));
	put32(o, (uint32_t)ts_ns);
	put32(o, caplen);
	put32(o, origlen);
	put_padded(o, data, caplen);
	put16(o, 2); /* epb_flags */
	put16(o, 4);
	put32(o, flags);
	put32(o, 0);
	put32(o, len);
	o->total += len;
	return 0;
}

#endif
