/*
 * nsx-net: the wiring of every network namespace nsxd gives it, from
 * rtnetlink, as one JSON line a namespace. Single-threaded: it setns()es into
 * a namespace only to make that namespace's two netlink sockets (one for
 * dumps and RTM_GETNSID, one subscribed to link, address and route changes),
 * then returns to its own. Shared by nsx-net.c, nsx-net-dump.c,
 * nsx-net-tun.c and nsx-net-json.c.
 */
#ifndef NSX_NET_H
#define NSX_NET_H

#include <stddef.h>
#include <stdint.h>

/* A JSON text being written: grows up to a cap, then says it is full. */
struct jbuf {
	char *p;
	size_t len, cap, max;
	int full;
};

void jb_init(struct jbuf *b, size_t max);
void jb_free(struct jbuf *b);
void jb_raw(struct jbuf *b, const char *s, size_t n);
void jb_lit(struct jbuf *b, const char *s);
void jb_fmt(struct jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string of n bytes: quotes, backslashes, control bytes and every byte >= 0x80 escaped as \u00XX. */
void jb_str(struct jbuf *b, const unsigned char *s, size_t n);

/* At most this many of each a namespace; the rest are counted in "cut". */
#define NET_MAX_LINKS  512
#define NET_MAX_ADDRS  1024
#define NET_MAX_ROUTES 1024
#define MAX_LINE       (4u << 20)

/* One namespace's sockets: dumps and queries on dump, notifications on events. */
struct netns_socks {
	int dump;
	int events;
};

int nl_open_dump(void);
int nl_open_events(void);
/* Appends the namespace's links, addresses and routes as JSON members; -1 (errno set) if a dump failed. */
int nl_dump_all(int sock, struct jbuf *out);
/* The id the namespace of sock gives the namespace of nsfd, -1 if it gives none; -2 on error. */
int nl_get_nsid(int sock, int nsfd);

/* The tun/tap holders: calls found(inode of the device's netns, iff name, pid) for each fd on /dev/net/tun. */
typedef void (*tun_found)(void *ctx, unsigned long netns_ino, const char *name, int pid);
void tun_scan(tun_found found, void *ctx, unsigned max_fds);

#endif
