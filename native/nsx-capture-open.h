/*
 * nsx-capture's setup, done as root: in each network namespace (entered
 * with setns on an fd nsxd opened and checked), a packet socket per
 * interface, made with protocol 0 so that it receives nothing until it is
 * bound, after its filter is attached. And the filter: libpcap compiles it,
 * loaded only when a filter is asked for, so that capture itself does not
 * need libpcap installed.
 */
#ifndef NSX_CAPTURE_OPEN_H
#define NSX_CAPTURE_OPEN_H

#include <arpa/inet.h>
#include <dlfcn.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <pcap/pcap.h>
#include <sched.h>
#include <sys/ioctl.h>

#ifndef ARPHRD_RAWIP
#define ARPHRD_RAWIP 519
#endif

#define MAX_IFACES 64
#define RCVBUF	   (4 * 1024 * 1024)

struct iface {
	int sock;
	int ifindex;
	int ns;
	unsigned short arphrd;
	/* Readable at the last wait; gone (its interface deleted) and no longer waited on. */
	int ready, gone;
	uint16_t linktype;
	/* Packets dropped by the kernel for this socket (PACKET_STATISTICS). */
	unsigned long long dropped;
	char name[IFNAMSIZ];
};

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* Ethernet-framed devices keep their frames; raw-IP devices (tun, wireguard, ipip, sit) give IP; others cooked. */
static uint16_t linktype_of(unsigned short arphrd)
{
	switch (arphrd) {
	case ARPHRD_ETHER:
	case ARPHRD_LOOPBACK: return LINKTYPE_ETHERNET;
	case ARPHRD_NONE:
	case ARPHRD_RAWIP:
	case ARPHRD_TUNNEL:
	case ARPHRD_TUNNEL6:
	case ARPHRD_SIT: return LINKTYPE_RAW;
	default: return LINKTYPE_LINUX_SLL;
	}
}

/* A packet socket that receives nothing yet (protocol 0), close-on-exec. */
static int packet_socket(int type, const char *label)
{
	int s = socket(AF_PACKET, type | SOCK_CLOEXEC, 0);
	int on = 1, size = RCVBUF;

	if (s < 0) die("cannot open a packet socket in %s: %s", label, strerror(errno));
	if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		die("cannot size a packet socket: %s", strerror(errno));
	if (setsockopt(s, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) < 0)
		die("cannot ask for timestamps: %s", strerror(errno));
	/* For the VLAN tag a device took off (see vlan_tag). */
	if (setsockopt(s, SOL_PACKET, PACKET_AUXDATA, &on, sizeof(on)) < 0)
		die("cannot ask for packet data: %s", strerror(errno));
	return s;
}

/* The interface named, in the namespace the calling thread is in now; its socket made to suit its link type. */
static void open_iface(struct iface *ifc, const char *name, int ns, const char *label)
{
	struct ifreq ifr;

	if (strlen(name) >= IFNAMSIZ) die("%s has no interface of so long a name", label);
	memset(ifc, 0, sizeof(*ifc));
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifc->name, sizeof(ifc->name), "%s", name);
	memcpy(ifr.ifr_name, ifc->name, sizeof(ifr.ifr_name));
	ifc->ns = ns;
	ifc->sock = packet_socket(SOCK_RAW, label);
	if (ioctl(ifc->sock, SIOCGIFINDEX, &ifr) < 0) {
		if (errno == ENODEV) die("%s has no interface %s", label, name);
		die("cannot find interface %s in %s: %s", name, label, strerror(errno));
	}
	ifc->ifindex = ifr.ifr_ifindex;
	if (ioctl(ifc->sock, SIOCGIFHWADDR, &ifr) < 0)
		die("cannot read the link type of %s in %s: %s", name, label, strerror(errno));
	ifc->arphrd = ifr.ifr_hwaddr.sa_family;
	ifc->linktype = linktype_of(ifc->arphrd);
	if (ifc->linktype != LINKTYPE_ETHERNET) {
		/* Without its link header: IP as it is, or cooked (the header rebuilt from the address). */
		close(ifc->sock);
		ifc->sock = packet_socket(SOCK_DGRAM, label);
	}
}

/* Every interface of the namespace the thread is in, lo included, in ifindex order. */
static int open_all(struct iface *ifs, int n, int ns, const char *label)
{
	struct if_nameindex *all = if_nameindex(), *i;

	if (!all) die("cannot list the interfaces of %s: %s", label, strerror(errno));
	for (i = all; i->if_index != 0; i++) {
		if (n >= MAX_IFACES) die("more than %d interfaces: name those to capture on", MAX_IFACES);
		open_iface(&ifs[n++], i->if_name, ns, label);
	}
	if_freenameindex(all);
	return n;
}

/* Enters a network namespace by its fd (closed here); 0 if the fd is no network namespace. */
static void enter_net(int fd, const char *label)
{
	if (setns(fd, CLONE_NEWNET) < 0) die("cannot enter the network namespace of %s: %s", label, strerror(errno));
	if (close(fd) < 0) die("close: %s", strerror(errno));
}

/* What nsx-capture uses of libpcap: its filter compiler. */
struct pcap_api {
	pcap_t *(*open_dead)(int, int);
	int (*compile)(pcap_t *, struct bpf_program *, const char *, int, bpf_u_int32);
	char *(*geterr)(pcap_t *);
	void (*freecode)(struct bpf_program *);
	void (*close)(pcap_t *);
};

static void load_pcap(struct pcap_api *api)
{
	void *lib = dlopen("libpcap.so.0.8", RTLD_NOW | RTLD_LOCAL);

	if (!lib) die("filters need libpcap: install it (apt install libpcap0.8), or capture without -f");
	api->open_dead = (pcap_t * (*)(int, int)) dlsym(lib, "pcap_open_dead");
	api->compile =
		(int (*)(pcap_t *, struct bpf_program *, const char *, int, bpf_u_int32))dlsym(lib, "pcap_compile");
	api->geterr = (char *(*)(pcap_t *))dlsym(lib, "pcap_geterr");
	api->freecode = (void (*)(struct bpf_program *))dlsym(lib, "pcap_freecode");
	api->close = (void (*)(pcap_t *))dlsym(lib, "pcap_close");
	if (!api->open_dead || !api->compile || !api->geterr || !api->freecode || !api->close)
		die("this libpcap lacks its filter compiler");
}

/*
 * Compiles the filter for each link type there is and attaches it to every
 * socket of that type. Sockets without a link header (raw and cooked) see
 * the packet from its IP header, so their filter is compiled for raw IP.
 */
static void attach_filter(struct iface *ifs, int n, const char *filter, int snaplen)
{
	static const int types[] = {LINKTYPE_ETHERNET, LINKTYPE_RAW};
	struct pcap_api api;
	int t, i;

	load_pcap(&api);
	for (t = 0; t < 2; t++) {
		int dlt = types[t] == LINKTYPE_ETHERNET ? DLT_EN10MB : DLT_RAW, used = 0;
		struct bpf_program prog;
		struct sock_fprog fprog;
		pcap_t *p;

		for (i = 0; i < n; i++) used |= (ifs[i].linktype == LINKTYPE_ETHERNET) == (t == 0);
		if (!used) continue;
		p = api.open_dead(dlt, snaplen);
		if (!p) die("cannot start libpcap's filter compiler");
		if (api.compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) die("bad filter: %s", api.geterr(p));
		fprog.len = (unsigned short)prog.bf_len;
		fprog.filter = (struct sock_filter *)prog.bf_insns;
		for (i = 0; i < n; i++) {
			if ((ifs[i].linktype == LINKTYPE_ETHERNET) != (t == 0)) continue;
			if (setsockopt(ifs[i].sock, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) < 0)
				die("cannot attach the filter: %s", strerror(errno));
		}
		api.freecode(&prog);
		api.close(p);
	}
}

/* Starts each socket receiving: every protocol, on its interface alone. */
static void bind_all(struct iface *ifs, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		struct sockaddr_ll sll;

		memset(&sll, 0, sizeof(sll));
		sll.sll_family = AF_PACKET;
		sll.sll_protocol = htons(ETH_P_ALL);
		sll.sll_ifindex = ifs[i].ifindex;
		if (bind(ifs[i].sock, (struct sockaddr *)&sll, sizeof(sll)) < 0)
			die("cannot capture on %s: %s", ifs[i].name, strerror(errno));
	}
}

#endif
