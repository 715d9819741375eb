/*
 * nsx-capture: captures packets in network namespaces and writes one pcapng
 * stream to one fd. Single-threaded, started by nsxd (which never calls
 * setns itself) with the namespaces as fds it opened and checked:
 *
 *   nsx-capture --status-fd FD --out-fd FD [--count N] [--seconds N] [--bytes N]
 *               [--snaplen N] [--filter EXPR] [--list] (--ns FD:LABEL [--iface NAME]...)...
 *
 * Each --ns is entered in turn; each --iface after it is captured on, or
 * every interface of that namespace (lo too) when it names none. Interfaces
 * are named NAME@LABEL in the output. Once its sockets are open it leaves
 * root for nobody, with no capabilities, no new privileges, not dumpable,
 * no fd it may open (RLIMIT_NOFILE 0), and a seccomp filter: all it can
 * write is its output and status fds, and it can send no packet.
 *
 * The status fd says, one line each: "i\tNS\tHEXNAME\tLINKTYPE" per
 * interface, "r" once capturing, and at the end "e\tREASON\tPACKETS\tDROPPED";
 * or "E<message>" and exit 1 on any failure. It stops at --count packets,
 * after --seconds, before the output would pass --bytes, on SIGTERM or
 * SIGINT, and when its output's reader goes. With --list it only says
 * which interfaces there are (for a client's pick) and exits.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>

#include "nsx-common.h"
#include "nsx-pcapng.h"

#include "nsx-capture-open.h"
#include "nsx-capture-seccomp.h"

#define MAX_NS	16
#define NOBODY	65534
#define ARENA	(4 * 1024 * 1024)
#define BATCH	1024
#define SLL_LEN 16

static int status_fd = -1;
static volatile sig_atomic_t stop_signal;

static void die(const char *fmt, ...)
{
	char msg[STATUS_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = format_status(msg, fmt, ap);
	va_end(ap);
	if (status_fd < 0 || write(status_fd, msg, n) < 0) dprintf(2, "nsx-capture: %s\n", msg + 1);
	_exit(1);
}

static void on_signal(int sig)
{
	stop_signal = sig;
}

struct options {
	long count, seconds, snaplen;
	unsigned long long bytes;
	const char *filter;
	/* Only say which interfaces there are, then exit. */
	int list;
	int nns;
	int nsfd[MAX_NS];
	const char *label[MAX_NS];
	/* The interfaces named for each namespace (none: all of them). */
	const char *ifname[MAX_IFACES];
	int ifns[MAX_IFACES];
	int nif;
};

static long number(const char *s, long max)
{
	long v;

	if (!parse_number(s, max, &v)) die("bad number %s", s);
	return v;
}

/* An fd nsxd handed on: open, and not to be passed further. */
static int inherited(const char *s)
{
	int fd = (int)number(s, 1 << 20);

	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) die("fd %d: %s", fd, strerror(errno));
	return fd;
}

/* FD:LABEL, argv left as it is (ps shows what nsxd asked for). */
static void add_ns(struct options *o, const char *arg)
{
	const char *colon = strchr(arg, ':');
	char fd[16];

	if (!colon || colon - arg >= (long)sizeof(fd) || o->nns >= MAX_NS)
		die("--ns wants FD:LABEL, at most %d times", MAX_NS);
	memcpy(fd, arg, (size_t)(colon - arg));
	fd[colon - arg] = '\0';
	o->nsfd[o->nns] = inherited(fd);
	o->label[o->nns++] = colon + 1;
}

static void parse_args(int argc, char **argv, struct options *o, int *out_fd)
{
	static const struct option longopts[] = {
		{"status-fd", required_argument, 0, 'S'},
		{"out-fd", required_argument, 0, 'o'},
		{"count", required_argument, 0, 'c'},
		{"seconds", required_argument, 0, 'G'},
		{"bytes", required_argument, 0, 'b'},
		{"snaplen", required_argument, 0, 's'},
		{"filter", required_argument, 0, 'f'},
		{"ns", required_argument, 0, 'n'},
		{"iface", required_argument, 0, 'i'},
		{"list", no_argument, 0, 'l'},
		{0, 0, 0, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->snaplen = 262144;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'S': status_fd = inherited(optarg); break;
		case 'o': *out_fd = inherited(optarg); break;
		case 'c': o->count = number(optarg, 1L << 40); break;
		case 'G': o->seconds = number(optarg, 1L << 30); break;
		case 'b': o->bytes = (unsigned long long)number(optarg, 1L << 50); break;
		case 's': o->snaplen = number(optarg, 262144); break;
		case 'f': o->filter = optarg; break;
		case 'n': add_ns(o, optarg); break;
		case 'l': o->list = 1; break;
		case 'i':
			if (o->nns == 0 || o->nif >= MAX_IFACES)
				die("--iface follows its --ns, at most %d", MAX_IFACES);
			o->ifname[o->nif] = optarg;
			o->ifns[o->nif++] = o->nns - 1;
			break;
		default: die("bad arguments");
		}
	}
	if (*out_fd < 0 || o->nns == 0 || optind != argc) die("usage: nsx-capture --out-fd FD --ns FD:LABEL ...");
	if (o->snaplen < 64) die("--snaplen must be at least 64");
}

/* Every socket, opened in its namespace; back in nsx-capture's own network namespace after. */
static int open_sockets(struct options *o, struct iface *ifs)
{
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), n = 0, ns, i;

	if (home < 0) die("cannot open /proc/self/ns/net: %s", strerror(errno));
	for (ns = 0; ns < o->nns; ns++) {
		int named = 0;

		enter_net(o->nsfd[ns], o->label[ns]);
		for (i = 0; i < o->nif; i++) {
			if (o->ifns[i] != ns) continue;
			open_iface(&ifs[n++], o->ifname[i], ns, o->label[ns]);
			named = 1;
		}
		if (!named) n = open_all(ifs, n, ns, o->label[ns]);
	}
	enter_net(home, "nsx-capture");
	if (n == 0) die("there is no interface to capture on");
	return n;
}

/*
 * Root no more: nobody, no groups, no capabilities (setresuid clears them),
 * no way back (no_new_privs), no ptrace or core by another nobody (not
 * dumpable), and killed with nsxd.
 */
static void drop_privileges(pid_t parent)
{
	gid_t nogroup = NOBODY;

	if (setgroups(1, &nogroup) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
	    setresuid(NOBODY, NOBODY, NOBODY) < 0)
		die("cannot give up root: %s", strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		die("prctl: %s", strerror(errno));
	if (getppid() != parent) _exit(1);
}

/* No new fd, file, or process from here on: what is open is all there is. */
static void seal(void)
{
	static const int limits[] = {RLIMIT_NOFILE, RLIMIT_NPROC};
	struct rlimit zero = {0, 0};
	size_t i;

	for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		if (setrlimit(limits[i], &zero) < 0) die("setrlimit: %s", strerror(errno));
}

static void status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A status line, formatted here and written whole (stdio's dprintf would seek and stat the fd: not allowed, see
 * confine). */
static void status(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(line) || write(status_fd, line, (size_t)n) != n) _exit(1);
}

/* Each interface to the status fd, its name in hex: it is the namespace owner's bytes. */
static void report(struct iface *ifs, int n)
{
	int i;
	size_t k;

	for (i = 0; i < n; i++) {
		status("i\t%d\t", ifs[i].ns);
		for (k = 0; ifs[i].name[k]; k++) status("%02x", (unsigned char)ifs[i].name[k]);
		status("\t%u\n", ifs[i].linktype);
	}
	status("r\n");
}

/* The section and an interface block for each, then the interfaces to the status fd. */
static void announce(struct out *out, struct options *o, struct iface *ifs, int n)
{
	char label[IFNAMSIZ + 256];
	int i;

	if (pcapng_shb(out) < 0) die("cannot write the capture: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		snprintf(label, sizeof(label), "%s@%s", ifs[i].name, o->label[ifs[i].ns]);
		/* A cooked or re-tagged packet is longer than what was read by its header or tag. */
		if (pcapng_idb(out, label, ifs[i].linktype, (uint32_t)o->snaplen + SLL_LEN) < 0)
			die("cannot write the capture: %s", strerror(errno));
	}
	if (out_flush(out) < 0) die("cannot write the capture: %s", strerror(errno));
	report(ifs, n);
}

struct packet {
	uint64_t ts;
	uint32_t iface, caplen, origlen, flags;
	size_t at;
};

struct batch {
	int n;
	size_t used;
	struct packet p[BATCH];
	unsigned char arena[ARENA];
};

#include "nsx-capture-loop.h"

/*
 * What may wait for nsxd in the output when it is a socket (nsxd's
 * socketpair), sized while root may: a pause of some ms in nsxd or its
 * client costs no packet. A pipe or a file is left as it is; a failure only
 * leaves the system's size.
 */
static void size_output(int fd)
{
	int size = RCVBUF;

	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
}

int main(int argc, char **argv)
{
	static struct iface ifs[MAX_IFACES];
	static struct out out;
	static struct batch batch;
	struct options o;
	struct sigaction sa;
	sigset_t block;
	pid_t parent = getppid();
	int n, epfd;

	out.fd = -1;
	parse_args(argc, argv, &o, &out.fd);
	if (status_fd < 0) die("--status-fd is needed");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	if (sigprocmask(SIG_BLOCK, &block, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 ||
	    sigaction(SIGINT, &sa, NULL) < 0 || signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		die("signals: %s", strerror(errno));
	n = open_sockets(&o, ifs);
	size_output(out.fd);
	drop_privileges(parent);
	if (o.list) {
		report(ifs, n);
		return 0;
	}
	if (o.filter) attach_filter(ifs, n, o.filter, (int)o.snaplen);
	epfd = make_epoll(out.fd, ifs, n);
	seal();
	bind_all(ifs, n);
	confine(out.fd, status_fd);
	announce(&out, &o, ifs, n);
	return capture(&out, &o, ifs, n, &batch, epfd);
}
