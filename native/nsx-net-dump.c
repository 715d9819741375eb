/*
 * Links, addresses and routes of one namespace, dumped on a netlink socket
 * made inside it (NETLINK_GET_STRICT_CHK: the kernel checks the requests and
 * filters as asked), and written as JSON members:
 *   "links":[...],"addrs":[[index,"CIDR"],...],"routes":[...],"cut":{...}
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nsx-net.h"

#define RECV_BUF (256 * 1024)

static unsigned seq_next = 1;

static int nl_socket(unsigned groups)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = groups};
	int one = 1, fd;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | (groups ? SOCK_NONBLOCK : 0), NETLINK_ROUTE);
	if (fd < 0) return -1;
	if (setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int nl_open_dump(void)
{
	return nl_socket(0);
}

int nl_open_events(void)
{
	return nl_socket(RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE);
}

static int nl_send(int sock, struct nlmsghdr *h)
{
	struct sockaddr_nl to = {.nl_family = AF_NETLINK};
	ssize_t n;

	h->nlmsg_seq = seq_next++;
	do n = sendto(sock, h, h->nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to));
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)h->nlmsg_len ? 0 : -1;
}

typedef void (*nl_each)(struct nlmsghdr *h, void *ctx);

/* Reads the answers to the request just sent until DONE (a dump) or its ACK/ERROR; each message to each. */
static int nl_recv(int sock, unsigned seq, nl_each each, void *ctx)
{
	static char buf[RECV_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));

	for (;;) {
		ssize_t n = recv(sock, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) return -1;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq) continue;
			if (h->nlmsg_type == NLMSG_DONE) return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);
				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e))) return -1;
				if (e->error == 0) return 0;
				errno = -e->error;
				return -1;
			}
			each(h, ctx);
			if (!(h->nlmsg_flags & NLM_F_MULTI)) return 0;
		}
	}
}

static int nl_dump(int sock, int type, void *hdr, size_t hdrlen, nl_each each, void *ctx)
{
	struct {
		struct nlmsghdr h;
		char body[64];
	} req;

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = NLMSG_LENGTH(hdrlen);
	req.h.nlmsg_type = type;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	memcpy(req.body, hdr, hdrlen);
	if (nl_send(sock, &req.h) < 0) return -1;
	return nl_recv(sock, req.h.nlmsg_seq, each, ctx);
}

/* Attributes of a message by type, up to max (those beyond are not looked at). */
static void parse_attrs(struct rtattr **tb, int max, struct rtattr *rta, int len)
{
	memset(tb, 0, sizeof(*tb) * (max + 1));
	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
		if (rta->rta_type <= max && !tb[rta->rta_type]) tb[rta->rta_type] = rta;
}

static unsigned attr_u32(struct rtattr *a)
{
	unsigned v = 0;
	if (a && RTA_PAYLOAD(a) >= 4) memcpy(&v, RTA_DATA(a), 4);
	return v;
}

static unsigned attr_u16(struct rtattr *a)
{
	unsigned short v = 0;
	if (a && RTA_PAYLOAD(a) >= 2) memcpy(&v, RTA_DATA(a), 2);
	return v;
}

static int attr_s32(struct rtattr *a, int dflt)
{
	int v = dflt;
	if (a && RTA_PAYLOAD(a) >= 4) memcpy(&v, RTA_DATA(a), 4);
	return v;
}

/* A string attribute, without its NUL: the kernel ends them so, but it is not trusted to. */
static void attr_str(struct jbuf *b, const char *key, struct rtattr *a)
{
	size_t n;

	if (!a) return;
	n = strnlen(RTA_DATA(a), RTA_PAYLOAD(a));
	jb_fmt(b, ",\"%s\":", key);
	jb_str(b, RTA_DATA(a), n);
}

struct counts {
	struct jbuf *out;
	unsigned n, cut;
};

static void each_addr(struct nlmsghdr *h, void *vctx)
{
	struct counts *c = vctx;
	struct ifaddrmsg *ifa = NLMSG_DATA(h);
	struct rtattr *tb[IFA_MAX + 1], *a;
	char text[INET6_ADDRSTRLEN];

	if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa))) return;
	if (c->n >= NET_MAX_ADDRS) {
		c->cut++;
		return;
	}
	parse_attrs(tb, IFA_MAX, IFA_RTA(ifa), IFA_PAYLOAD(h));
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!a || (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)) return;
	if (RTA_PAYLOAD(a) < (ifa->ifa_family == AF_INET ? 4u : 16u)) return;
	if (!inet_ntop(ifa->ifa_family, RTA_DATA(a), text, sizeof(text))) return;
	jb_fmt(c->out, "%s[%d,\"%s/%u\"]", c->n++ ? "," : "", (int)ifa->ifa_index, text, ifa->ifa_prefixlen);
}

static void route_addr(struct jbuf *b, const char *key, int family, struct rtattr *a, int plen)
{
	char text[INET6_ADDRSTRLEN];

	if (!a || RTA_PAYLOAD(a) < (family == AF_INET ? 4u : 16u)) return;
	if (!inet_ntop(family, RTA_DATA(a), text, sizeof(text))) return;
	if (plen >= 0)
		jb_fmt(b, ",\"%s\":\"%s/%d\"", key, text, plen);
	else
		jb_fmt(b, ",\"%s\":\"%s\"", key, text);
}

static void each_route(struct nlmsghdr *h, void *vctx)
{
	struct counts *c = vctx;
	struct rtmsg *r = NLMSG_DATA(h);
	struct rtattr *tb[RTA_MAX + 1];
	unsigned table;

	if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(*r))) return;
	if ((r->rtm_family != AF_INET && r->rtm_family != AF_INET6) || (r->rtm_flags & RTM_F_CLONED)) return;
	parse_attrs(tb, RTA_MAX, RTM_RTA(r), RTM_PAYLOAD(h));
	table = tb[RTA_TABLE] ? attr_u32(tb[RTA_TABLE]) : r->rtm_table;
	if (table != RT_TABLE_MAIN) return;
	if (c->n >= NET_MAX_ROUTES) {
		c->cut++;
		return;
	}
	jb_lit(c->out, c->n++ ? ",{" : "{");
	jb_fmt(c->out, "\"family\":%d,\"type\":%d,\"scope\":%d,\"proto\":%d", r->rtm_family == AF_INET ? 4 : 6,
	       r->rtm_type, r->rtm_scope, r->rtm_protocol);
	if (tb[RTA_DST])
		route_addr(c->out, "dst", r->rtm_family, tb[RTA_DST], r->rtm_dst_len);
	else
		jb_lit(c->out, ",\"dst\":\"default\"");
	route_addr(c->out, "gateway", r->rtm_family, tb[RTA_GATEWAY], -1);
	route_addr(c->out, "src", r->rtm_family, tb[RTA_PREFSRC], -1);
	if (tb[RTA_OIF]) jb_fmt(c->out, ",\"dev\":%u", attr_u32(tb[RTA_OIF]));
	if (tb[RTA_PRIORITY]) jb_fmt(c->out, ",\"metric\":%u", attr_u32(tb[RTA_PRIORITY]));
	jb_lit(c->out, "}");
}

static void mac(struct jbuf *b, struct rtattr *a)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	char text[3 * 32];
	size_t i, n;

	if (!a) return;
	n = RTA_PAYLOAD(a);
	if (n == 0 || n > 32) return;
	p = RTA_DATA(a);
	for (i = 0; i < n; i++) {
		text[3 * i] = hex[p[i] >> 4];
		text[3 * i + 1] = hex[p[i] & 15];
		text[3 * i + 2] = i + 1 < n ? ':' : 0;
	}
	jb_fmt(b, ",\"mac\":\"%s\"", text);
}

/* What the kind's own data says of where it hangs: a mode, a VLAN id, a VNI, an underlay. */
static void link_info(struct jbuf *b, struct rtattr *info)
{
	struct rtattr *li[IFLA_INFO_MAX + 1], *d[IFLA_VXLAN_MAX + 1];
	const char *kind;

	parse_attrs(li, IFLA_INFO_MAX, RTA_DATA(info), RTA_PAYLOAD(info));
	attr_str(b, "kind", li[IFLA_INFO_KIND]);
	attr_str(b, "slaveKind", li[IFLA_INFO_SLAVE_KIND]);
	if (!li[IFLA_INFO_KIND] || !li[IFLA_INFO_DATA]) return;
	kind = RTA_DATA(li[IFLA_INFO_KIND]);
	if (strnlen(kind, RTA_PAYLOAD(li[IFLA_INFO_KIND])) == RTA_PAYLOAD(li[IFLA_INFO_KIND])) return;
	parse_attrs(d, IFLA_VXLAN_MAX, RTA_DATA(li[IFLA_INFO_DATA]), RTA_PAYLOAD(li[IFLA_INFO_DATA]));
	if (!strcmp(kind, "macvlan") || !strcmp(kind, "macvtap")) {
		if (d[IFLA_MACVLAN_MODE]) jb_fmt(b, ",\"mode\":%u", attr_u32(d[IFLA_MACVLAN_MODE]));
	} else if (!strcmp(kind, "ipvlan") || !strcmp(kind, "ipvtap")) {
		if (d[IFLA_IPVLAN_MODE]) jb_fmt(b, ",\"mode\":%u", attr_u16(d[IFLA_IPVLAN_MODE]));
	} else if (!strcmp(kind, "vlan")) {
		if (d[IFLA_VLAN_ID]) jb_fmt(b, ",\"vlan\":%u", attr_u16(d[IFLA_VLAN_ID]));
	} else if (!strcmp(kind, "vxlan")) {
		if (d[IFLA_VXLAN_ID]) jb_fmt(b, ",\"vni\":%u", attr_u32(d[IFLA_VXLAN_ID]));
		if (d[IFLA_VXLAN_LINK]) jb_fmt(b, ",\"underlay\":%u", attr_u32(d[IFLA_VXLAN_LINK]));
		route_addr(b, "remote", AF_INET, d[IFLA_VXLAN_GROUP], -1);
	} else if (!strcmp(kind, "tun")) {
		if (d[IFLA_TUN_TYPE] && RTA_PAYLOAD(d[IFLA_TUN_TYPE]) >= 1)
			jb_fmt(b, ",\"tunType\":%u", *(unsigned char *)RTA_DATA(d[IFLA_TUN_TYPE]));
	}
}

static void stats(struct jbuf *b, struct rtattr *a)
{
	struct rtnl_link_stats64 s;

	if (!a || RTA_PAYLOAD(a) < sizeof(s)) return;
	memcpy(&s, RTA_DATA(a), sizeof(s));
	jb_fmt(b, ",\"stats\":[%llu,%llu,%llu,%llu,%llu,%llu]", (unsigned long long)s.rx_bytes,
	       (unsigned long long)s.tx_bytes, (unsigned long long)s.rx_packets, (unsigned long long)s.tx_packets,
	       (unsigned long long)s.rx_dropped, (unsigned long long)s.tx_dropped);
}

static void each_link(struct nlmsghdr *h, void *vctx)
{
	struct counts *c = vctx;
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	struct rtattr *tb[IFLA_MAX + 1];
	struct jbuf *b = c->out;

	if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi))) return;
	if (c->n >= NET_MAX_LINKS) {
		c->cut++;
		return;
	}
	parse_attrs(tb, IFLA_MAX, IFLA_RTA(ifi), IFLA_PAYLOAD(h));
	jb_fmt(b, "%s{\"index\":%d,\"flags\":%u,\"arptype\":%u", c->n++ ? "," : "", ifi->ifi_index, ifi->ifi_flags,
	       ifi->ifi_type);
	attr_str(b, "name", tb[IFLA_IFNAME]);
	if (tb[IFLA_OPERSTATE] && RTA_PAYLOAD(tb[IFLA_OPERSTATE]) >= 1)
		jb_fmt(b, ",\"oper\":%u", *(unsigned char *)RTA_DATA(tb[IFLA_OPERSTATE]));
	if (tb[IFLA_CARRIER] && RTA_PAYLOAD(tb[IFLA_CARRIER]) >= 1)
		jb_fmt(b, ",\"carrier\":%u", *(unsigned char *)RTA_DATA(tb[IFLA_CARRIER]));
	if (tb[IFLA_MTU]) jb_fmt(b, ",\"mtu\":%u", attr_u32(tb[IFLA_MTU]));
	mac(b, tb[IFLA_ADDRESS]);
	if (tb[IFLA_MASTER]) jb_fmt(b, ",\"master\":%u", attr_u32(tb[IFLA_MASTER]));
	if (tb[IFLA_LINK]) jb_fmt(b, ",\"link\":%d", attr_s32(tb[IFLA_LINK], 0));
	if (tb[IFLA_LINK_NETNSID]) jb_fmt(b, ",\"linkNsid\":%d", attr_s32(tb[IFLA_LINK_NETNSID], -1));
	if (tb[IFLA_LINKINFO]) link_info(b, tb[IFLA_LINKINFO]);
	stats(b, tb[IFLA_STATS64]);
	jb_lit(b, "}");
}

static void each_nsid(struct nlmsghdr *h, void *vctx)
{
	int *nsid = vctx;
	struct rtattr *tb[NETNSA_MAX + 1];
	size_t skip = NLMSG_ALIGN(sizeof(struct rtgenmsg));

	if (h->nlmsg_type != RTM_NEWNSID || h->nlmsg_len < NLMSG_LENGTH(skip)) return;
	parse_attrs(tb, NETNSA_MAX, (struct rtattr *)((char *)NLMSG_DATA(h) + skip), h->nlmsg_len - NLMSG_LENGTH(skip));
	*nsid = attr_s32(tb[NETNSA_NSID], -1);
}

int nl_dump_all(int sock, struct jbuf *out)
{
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
	struct ifaddrmsg ifa = {.ifa_family = AF_UNSPEC};
	struct rtmsg rtm = {.rtm_family = AF_UNSPEC};
	struct counts links = {out, 0, 0}, addrs = {out, 0, 0}, routes = {out, 0, 0};

	jb_lit(out, "\"links\":[");
	if (nl_dump(sock, RTM_GETLINK, &ifi, sizeof(ifi), each_link, &links) < 0) return -1;
	jb_lit(out, "],\"addrs\":[");
	if (nl_dump(sock, RTM_GETADDR, &ifa, sizeof(ifa), each_addr, &addrs) < 0) return -1;
	jb_lit(out, "],\"routes\":[");
	if (nl_dump(sock, RTM_GETROUTE, &rtm, sizeof(rtm), each_route, &routes) < 0) return -1;
	jb_lit(out, "]");
	if (links.cut || addrs.cut || routes.cut)
		jb_fmt(out, ",\"cut\":{\"links\":%u,\"addrs\":%u,\"routes\":%u}", links.cut, addrs.cut, routes.cut);
	return 0;
}

int nl_get_nsid(int sock, int nsfd)
{
	struct {
		struct nlmsghdr h;
		struct rtgenmsg g;
		char pad[3];
		struct rtattr a;
		int fd;
	} req;
	int got = -1;

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = RTM_GETNSID;
	req.h.nlmsg_flags = NLM_F_REQUEST;
	req.g.rtgen_family = AF_UNSPEC;
	req.a.rta_type = NETNSA_FD;
	req.a.rta_len = RTA_LENGTH(sizeof(int));
	req.fd = nsfd;
	if (nl_send(sock, &req.h) < 0) return -2;
	if (nl_recv(sock, req.h.nlmsg_seq, each_nsid, &got) < 0) return -2;
	return got;
}
