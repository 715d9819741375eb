/*
 * nsx-capture's loop: wait for packets on every socket (and for the
 * output's reader to go, or a signal), read what is there into a batch,
 * write the batch in timestamp order (several namespaces merge in time),
 * until a bound is reached. Included once, by nsx-capture.c.
 */
#ifndef NSX_CAPTURE_LOOP_H
#define NSX_CAPTURE_LOOP_H

#include <sys/epoll.h>
#include <sys/uio.h>

/* At most this many packets read from one socket at a time, so that a busy one does not starve the others. */
#define PER_SOCKET 64

/* The cooked header libpcap writes in the SLL_LEN bytes before the packet: type, ARPHRD, address, protocol. */
static void cooked_header(struct packet *p, const struct sockaddr_ll *sll, unsigned char *h)
{
	uint16_t v, halen = sll->sll_halen > 8 ? 8 : sll->sll_halen;

	memset(h, 0, SLL_LEN);
	v = htons(sll->sll_pkttype);
	memcpy(h, &v, 2);
	v = htons(sll->sll_hatype);
	memcpy(h + 2, &v, 2);
	v = htons(halen);
	memcpy(h + 4, &v, 2);
	memcpy(h + 6, sll->sll_addr, halen);
	memcpy(h + 14, &sll->sll_protocol, 2);
	p->at -= SLL_LEN;
	p->caplen += SLL_LEN;
	p->origlen += SLL_LEN;
}

/*
 * The 802.1Q tag a device took off the frame (VLAN offload, as veth does),
 * put back where it was, after the two MAC addresses, as libpcap does: the
 * 4 bytes before the packet make room.
 */
static void vlan_tag(struct packet *p, const struct tpacket_auxdata *aux, unsigned char *frame)
{
	uint16_t tpid = htons(aux->tp_status & TP_STATUS_VLAN_TPID_VALID ? aux->tp_vlan_tpid : ETH_P_8021Q);
	uint16_t tci = htons(aux->tp_vlan_tci);

	if (!(aux->tp_status & TP_STATUS_VLAN_VALID) || p->caplen < 12) return;
	memmove(frame - 4, frame, 12);
	memcpy(frame + 8, &tpid, 2);
	memcpy(frame + 10, &tci, 2);
	p->at -= 4;
	p->caplen += 4;
	p->origlen += 4;
}

/* One packet from ifs[i] into the batch; 0 when there is none now, -1 when the socket failed (its interface gone). */
static int read_one(struct iface *ifc, uint32_t i, struct batch *b, long snaplen)
{
	unsigned char *buf = b->arena + b->used + SLL_LEN;
	char control[CMSG_SPACE(sizeof(struct timespec)) + CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	struct sockaddr_ll sll;
	struct iovec iov = {buf, (size_t)snaplen};
	struct msghdr msg = {&sll, sizeof(sll), &iov, 1, control, sizeof(control), 0};
	struct packet *p = &b->p[b->n];
	struct tpacket_auxdata aux = {0, 0, 0, 0, 0, 0, 0};
	struct timespec ts = {0, 0};
	struct cmsghdr *c;
	ssize_t r = recvmsg(ifc->sock, &msg, MSG_DONTWAIT | MSG_TRUNC);

	/* A down interface reports ENETDOWN once, and captures again when it comes up; a deleted one says ENODEV. */
	if (r < 0) return errno == EAGAIN || errno == EINTR || errno == ENETDOWN ? 0 : -1;
	/* lo hands every packet over twice, going out and coming in: tcpdump shows it once, as it comes in. */
	if (ifc->arphrd == ARPHRD_LOOPBACK && sll.sll_pkttype == PACKET_OUTGOING) return 1;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS)
			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
		if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA)
			memcpy(&aux, CMSG_DATA(c), sizeof(aux));
	}
	if (ts.tv_sec == 0) clock_gettime(CLOCK_REALTIME, &ts);
	p->ts = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	p->iface = i;
	p->origlen = (uint32_t)r;
	p->caplen = (uint32_t)(r < snaplen ? r : snaplen);
	p->flags = sll.sll_pkttype == PACKET_OUTGOING ? EPB_OUTBOUND : EPB_INBOUND;
	p->at = b->used + SLL_LEN;
	if (ifc->linktype == LINKTYPE_LINUX_SLL) cooked_header(p, &sll, buf - SLL_LEN);
	if (ifc->linktype == LINKTYPE_ETHERNET) vlan_tag(p, &aux, buf);
	b->used += pad4(SLL_LEN + p->caplen);
	b->n++;
	return 1;
}

/* What every ready socket holds now, up to the batch's room; a socket that failed stops being polled. */
static void collect(int epfd, struct iface *ifs, int n, struct batch *b, long snaplen)
{
	int i, k;

	b->n = 0;
	b->used = 0;
	for (i = 0; i < n; i++) {
		if (!ifs[i].ready) continue;
		ifs[i].ready = 0;
		for (k = 0; k < PER_SOCKET; k++) {
			int r;

			if (b->n >= BATCH || b->used + SLL_LEN + (size_t)snaplen + 4 > ARENA) return;
			r = read_one(&ifs[i], (uint32_t)i, b, snaplen);
			if (r < 0) {
				/* Gone with its interface: no longer waited on. */
				if (epoll_ctl(epfd, EPOLL_CTL_DEL, ifs[i].sock, NULL) < 0)
					die("epoll: %s", strerror(errno));
				ifs[i].gone = 1;
			}
			if (r <= 0) break;
		}
	}
}

static int by_time(const void *a, const void *b)
{
	const struct packet *x = a, *y = b;

	if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
	return x->iface < y->iface ? -1 : x->iface > y->iface;
}

/* Writes the batch in time order; the reason to stop, or NULL to go on. */
static const char *write_batch(struct out *out, struct options *o, struct batch *b, long *written)
{
	const char *reason = NULL;
	int i;

	qsort(b->p, (size_t)b->n, sizeof(b->p[0]), by_time);
	for (i = 0; i < b->n && !reason; i++) {
		struct packet *p = &b->p[i];

		if (o->bytes && out->total + pcapng_epb_size(p->caplen) > o->bytes) {
			reason = "bytes";
			break;
		}
		if (pcapng_epb(out, p->iface, p->ts, b->arena + p->at, p->caplen, p->origlen, p->flags) < 0)
			return "output closed";
		if (++*written == o->count) reason = "count";
	}
	return out_flush(out) < 0 ? "output closed" : reason;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The kernel's drops for each socket since the last read (PACKET_STATISTICS resets as it is read). */
static unsigned long long dropped(struct iface *ifs, int n)
{
	unsigned long long sum = 0;
	int i;

	for (i = 0; i < n; i++) {
		struct tpacket_stats st;
		socklen_t len = sizeof(st);

		if (getsockopt(ifs[i].sock, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
			ifs[i].dropped += st.tp_drops;
		sum += ifs[i].dropped;
	}
	return sum;
}

/* One wait: the sockets, and the output (EPOLLERR once its reader went), until the deadline or a signal. */
static const char *wait_ready(int epfd, struct iface *ifs, int n, uint64_t deadline)
{
	struct epoll_event ev[MAX_IFACES + 1];
	sigset_t none;
	int i, live = 0, timeout = -1, got;

	sigemptyset(&none);
	for (i = 0; i < n; i++) live |= !ifs[i].gone;
	if (!live) return "interfaces gone";
	if (deadline) {
		uint64_t now = now_ms();
		if (now >= deadline) return "seconds";
		timeout = (int)(deadline - now);
	}
	/* Once a second at least, to see whether an interface was deleted (see check_gone). */
	if (timeout < 0 || timeout > 1000) timeout = 1000;
	got = epoll_pwait(epfd, ev, MAX_IFACES + 1, timeout, &none);
	if (got < 0 && errno != EINTR) die("epoll: %s", strerror(errno));
	if (stop_signal) return "stopped";
	for (i = 0; i < got; i++) {
		if (ev[i].data.u32 == (uint32_t)n) return "output closed";
		ifs[ev[i].data.u32].ready = 1;
	}
	return NULL;
}

/*
 * A deleted interface says nothing on its socket (the ENETDOWN of its going
 * down came before, like any down's), but the socket is bound to no
 * interface any more: getsockname says ifindex -1. Stops waiting on it.
 */
static void check_gone(int epfd, struct iface *ifs, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		struct sockaddr_ll sll;
		socklen_t len = sizeof(sll);

		if (ifs[i].gone) continue;
		if (getsockname(ifs[i].sock, (struct sockaddr *)&sll, &len) < 0)
			die("getsockname: %s", strerror(errno));
		if (sll.sll_ifindex == ifs[i].ifindex) continue;
		if (epoll_ctl(epfd, EPOLL_CTL_DEL, ifs[i].sock, NULL) < 0) die("epoll: %s", strerror(errno));
		ifs[i].gone = 1;
	}
}

/* An epoll fd for the sockets and the output, made before seal() (it is an fd). */
static int make_epoll(int out_fd, struct iface *ifs, int n)
{
	int epfd = epoll_create1(EPOLL_CLOEXEC), i;
	struct epoll_event ev;

	if (epfd < 0) die("epoll: %s", strerror(errno));
	for (i = 0; i <= n; i++) {
		ev.events = i < n ? EPOLLIN : 0;
		ev.data.u32 = (uint32_t)i;
		/* A regular file as output cannot be waited on (EPERM), and has no reader to lose. */
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, i < n ? ifs[i].sock : out_fd, &ev) < 0 &&
		    !(i == n && errno == EPERM))
			die("epoll: %s", strerror(errno));
	}
	return epfd;
}

static int capture(struct out *out, struct options *o, struct iface *ifs, int n, struct batch *b, int epfd)
{
	uint64_t deadline = o->seconds ? now_ms() + (uint64_t)o->seconds * 1000 : 0;
	const char *reason = NULL;
	long written = 0;
	uint64_t checked = now_ms();

	while (!reason) {
		if (now_ms() - checked >= 1000) {
			check_gone(epfd, ifs, n);
			checked = now_ms();
		}
		reason = wait_ready(epfd, ifs, n, deadline);
		if (reason) break;
		collect(epfd, ifs, n, b, o->snaplen);
		reason = write_batch(out, o, b, &written);
	}
	status("e\t%s\t%ld\t%llu\n", reason, written, dropped(ifs, n));
	return 0;
}

#endif
