/*
 * nsx-net: nsxd's one long-lived watcher of network namespaces. nsxd tells
 * it, a line each on stdin:
 *   A ID PATH       watch the namespace at PATH (/proc/NSXD/fd/N: an fd nsxd
 *                   opened and checked, kept open until this answers)
 *   D ID            forget it: its fd and both sockets closed at once (they
 *                   hold the namespace alive)
 *   N REQ ID ID...  the id the first namespace gives each of the others
 *                   (RTM_GETNSID with NETNSA_FD: asks, never allocates)
 *   R ID            dump it again now
 * and reads JSON lines on stdout: {"id":ID,"inode":I,"links":[...],...} at
 * A and after every change (notifications coalesced for COALESCE_MS),
 * {"id":ID,"error":"..."}, {"nsids":REQ,"from":ID,"ids":[[ID,NSID],...]},
 * {"tun":[[ID,"NAME",PID],...]}. Stdin closed: it exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nsx-net.h"

#define MAX_SLOTS    8192
#define COALESCE_MS  50
#define TUN_EVERY_MS 1000
#define TUN_MAX_FDS  200000

/*
 * A namespace watched: its two sockets alone. Its fd is closed once they are
 * made (a scan of /proc would take nsx-net for one more holder, and the
 * namespace would never be gone); the sockets still hold it alive until D.
 */
struct slot {
	unsigned id;
	struct netns_socks s;
	unsigned long ino;
	long long due;	    /* when to dump again; 0: nothing pending */
	long long earliest; /* not before: a big namespace's dumps are spaced by what they cost */
	int has_tun;
};

static struct slot *slots[MAX_SLOTS];
static int self_ns = -1;
static long long tun_due;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_all(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(1, p, n);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) exit(0); /* nsxd is gone */
		p += w;
		n -= (size_t)w;
	}
}

static void emit(struct jbuf *b)
{
	jb_raw(b, "\n", 1);
	if (!b->full) write_all(b->p, b->len);
	jb_free(b);
}

static void emit_error(unsigned id, const char *what, int err)
{
	struct jbuf b;
	char msg[256];

	jb_init(&b, 1024);
	snprintf(msg, sizeof(msg), "%s: %s", what, strerror(err));
	jb_fmt(&b, "{\"id\":%u,\"error\":", id);
	jb_str(&b, (const unsigned char *)msg, strlen(msg));
	jb_lit(&b, "}");
	emit(&b);
}

static struct slot *find(unsigned id)
{
	for (int i = 0; i < MAX_SLOTS; i++)
		if (slots[i] && slots[i]->id == id) return slots[i];
	return NULL;
}

static void drop(unsigned id)
{
	for (int i = 0; i < MAX_SLOTS; i++) {
		struct slot *s = slots[i];
		if (!s || s->id != id) continue;
		close(s->s.dump);
		close(s->s.events);
		free(s);
		slots[i] = NULL;
	}
}

static void dump(struct slot *s)
{
	struct jbuf b;
	long long start = now_ms(), took;

	s->due = 0;
	jb_init(&b, MAX_LINE);
	jb_fmt(&b, "{\"id\":%u,\"inode\":%lu,", s->id, s->ino);
	if (nl_dump_all(s->s.dump, &b) < 0) {
		int e = errno;
		jb_free(&b);
		emit_error(s->id, "cannot dump its links, addresses and routes", e);
		return;
	}
	took = now_ms() - start;
	s->earliest = now_ms() + 4 * took;
	jb_fmt(&b, ",\"ms\":%lld}", took);
	s->has_tun = b.p && strstr(b.p, "\"kind\":\"tun\"") != NULL;
	if (s->has_tun && !tun_due) tun_due = now_ms();
	emit(&b);
}

/* Makes the namespace's sockets from inside it, then comes back: the only setns this program does. */
static int open_socks(int nsfd, struct netns_socks *out)
{
	int e;

	if (setns(nsfd, CLONE_NEWNET) < 0) return -1;
	out->dump = nl_open_dump();
	out->events = out->dump < 0 ? -1 : nl_open_events();
	e = errno;
	if (setns(self_ns, CLONE_NEWNET) < 0) {
		perror("nsx-net: cannot return to its own network namespace");
		exit(1);
	}
	if (out->events >= 0) return 0;
	if (out->dump >= 0) close(out->dump);
	errno = e;
	return -1;
}

static void add(unsigned id, const char *path)
{
	struct stat st;
	struct slot *s;
	int i, fd;

	if (find(id)) return emit_error(id, "already watched", EEXIST);
	for (i = 0; i < MAX_SLOTS && slots[i]; i++)
		;
	if (i == MAX_SLOTS) return emit_error(id, "too many namespaces", ENOSPC);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return emit_error(id, "cannot open the namespace", errno);
	if (ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET || fstat(fd, &st) < 0) {
		close(fd);
		return emit_error(id, "not a network namespace", EINVAL);
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return emit_error(id, "out of memory", ENOMEM);
	}
	s->id = id;
	s->ino = (unsigned long)st.st_ino;
	if (open_socks(fd, &s->s) < 0) {
		int e = errno;
		close(fd);
		free(s);
		return emit_error(id, "cannot open netlink sockets in it", e);
	}
	close(fd);
	slots[i] = s;
	dump(s);
}

static void nsids(char *args)
{
	char *save = NULL, *tok = strtok_r(args, " ", &save);
	unsigned req, from;
	struct slot *f;
	struct jbuf b;
	int first = 1;

	if (!tok) return;
	req = (unsigned)strtoul(tok, NULL, 10);
	tok = strtok_r(NULL, " ", &save);
	from = tok ? (unsigned)strtoul(tok, NULL, 10) : 0;
	f = find(from);
	jb_init(&b, 1 << 20);
	jb_fmt(&b, "{\"nsids\":%u,\"from\":%u,\"ids\":[", req, from);
	while (f && (tok = strtok_r(NULL, " ", &save))) {
		struct slot *t = find((unsigned)strtoul(tok, NULL, 10));
		int nsid, fd;

		if (!t) continue;
		/* Its namespace's fd, from its socket, for as long as the question takes. */
		fd = ioctl(t->s.dump, SIOCGSKNS);
		if (fd < 0) continue;
		nsid = nl_get_nsid(f->s.dump, fd);
		close(fd);
		if (nsid < -1) continue;
		jb_fmt(&b, "%s[%u,%d]", first ? "" : ",", t->id, nsid);
		first = 0;
	}
	jb_lit(&b, "]}");
	emit(&b);
}

static void command(char *line)
{
	char *rest = line + 1;

	while (*rest == ' ') rest++;
	switch (line[0]) {
	case 'A': {
		char *path = strchr(rest, ' ');
		if (path) {
			*path++ = 0;
			add((unsigned)strtoul(rest, NULL, 10), path);
		}
		break;
	}
	case 'D': drop((unsigned)strtoul(rest, NULL, 10)); break;
	case 'N': nsids(rest); break;
	case 'R': {
		struct slot *s = find((unsigned)strtoul(rest, NULL, 10));
		if (s) dump(s);
		break;
	}
	default: fprintf(stderr, "nsx-net: unknown command %c\n", line[0]);
	}
}

struct tun_ctx {
	struct jbuf b;
	int n;
};

static void tun_one(void *vctx, unsigned long ino, const char *name, int pid)
{
	struct tun_ctx *c = vctx;

	for (int i = 0; i < MAX_SLOTS; i++) {
		if (!slots[i] || slots[i]->ino != ino) continue;
		jb_fmt(&c->b, "%s[%u,", c->n++ ? "," : "", slots[i]->id);
		jb_str(&c->b, (const unsigned char *)name, strlen(name));
		jb_fmt(&c->b, ",%d]", pid);
	}
}

static void tun_report(void)
{
	struct tun_ctx c = {.n = 0};

	tun_due = 0;
	jb_init(&c.b, 1 << 20);
	jb_lit(&c.b, "{\"tun\":[");
	tun_scan(tun_one, &c, TUN_MAX_FDS);
	jb_lit(&c.b, "]}");
	emit(&c.b);
}

/* Reads what nsxd wrote; whole lines are commands. Returns -1 at end of input. */
static int read_commands(void)
{
	static char buf[1 << 16];
	static size_t have;
	ssize_t n = read(0, buf + have, sizeof(buf) - have);
	char *start = buf, *nl;

	if (n < 0) return errno == EINTR || errno == EAGAIN ? 0 : -1;
	if (n == 0) return -1;
	have += (size_t)n;
	while ((nl = memchr(start, '\n', have - (size_t)(start - buf)))) {
		*nl = 0;
		command(start);
		start = nl + 1;
	}
	have -= (size_t)(start - buf);
	memmove(buf, start, have);
	if (have == sizeof(buf)) have = 0; /* a line longer than any command: dropped */
	return 0;
}

/* A notification on a namespace's socket: drained, and a dump due COALESCE_MS later (or when it may). */
static void noted(struct slot *s)
{
	char buf[8192];
	ssize_t n;

	do n = recv(s->s.events, buf, sizeof(buf), MSG_DONTWAIT);
	while (n > 0 || (n < 0 && (errno == EINTR || errno == ENOBUFS)));
	if (!s->due) {
		long long at = now_ms() + COALESCE_MS;
		s->due = at > s->earliest ? at : s->earliest;
	}
}

static int next_timeout(void)
{
	long long next = tun_due ? tun_due : -1, now = now_ms();

	for (int i = 0; i < MAX_SLOTS; i++)
		if (slots[i] && slots[i]->due && (next < 0 || slots[i]->due < next)) next = slots[i]->due;
	if (next < 0) return -1;
	return next <= now ? 0 : (int)(next - now);
}

static void run_due(void)
{
	long long now = now_ms();

	for (int i = 0; i < MAX_SLOTS; i++)
		if (slots[i] && slots[i]->due && slots[i]->due <= now) dump(slots[i]);
	if (tun_due && tun_due <= now) {
		static long long last;
		if (now - last >= TUN_EVERY_MS || !last) {
			last = now;
			tun_report();
		} else {
			tun_due = last + TUN_EVERY_MS;
		}
	}
}

static void setup(void)
{
	struct rlimit rl;

	signal(SIGPIPE, SIG_IGN);
	/* Three fds a namespace: as many as the hard limit allows. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) perror("nsx-net: setrlimit");
	}
	self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self_ns < 0) {
		perror("nsx-net: cannot open its own network namespace");
		exit(1);
	}
}

int main(void)
{
	static struct pollfd fds[MAX_SLOTS + 1];
	static struct slot *of[MAX_SLOTS + 1];

	setup();
	for (;;) {
		int n = 1, r;

		fds[0] = (struct pollfd){.fd = 0, .events = POLLIN};
		for (int i = 0; i < MAX_SLOTS; i++) {
			if (!slots[i]) continue;
			fds[n] = (struct pollfd){.fd = slots[i]->s.events, .events = POLLIN};
			of[n++] = slots[i];
		}
		r = poll(fds, (nfds_t)n, next_timeout());
		if (r < 0 && errno != EINTR) {
			perror("nsx-net: poll");
			return 1;
		}
		for (int i = 1; r > 0 && i < n; i++)
			if (fds[i].revents) noted(of[i]);
		/* Commands last: a D among them frees slots that of[] still names. */
		if (r > 0 && fds[0].revents && read_commands() < 0) return 0;
		run_due();
	}
}
