/*
 * nsx-session: the supervisor of one session, as conmon is of a podman
 * container. nsxd starts one per terminal; it holds the session's pty (or
 * pipes) and cgroup, starts nsx-exec on them, and outlives nsxd: a restarted
 * nsxd connects to it again and the client's terminal goes on where it was,
 * with what the shell printed meanwhile.
 *
 *   nsx-session --socket PATH --orphan-timeout SECONDS --pass-fds N
 *               [--pty ROWS:COLS] [--cgroup DIR] -- LAUNCHER ARGS...
 *
 * Fds 3 .. 3+N-1 are nsx-exec's (its status fd, namespace fds, cgroup.procs)
 * and are handed on to it alone. Errors before that are written to fd 3 as
 * "E<message>", as nsx-exec writes its own.
 *
 * It answers on PATH, a socket in a folder only root may enter, and talks
 * only to uid 0 (nsxd), one connection at a time, in frames of a type byte,
 * a 4-byte big-endian length and the payload:
 *   to nsxd:   H (pid u32, then the info nsxd stored), O/E (output, stdout or
 *              stderr with pipes), X (exit: code i32, signal i32)
 *   from nsxd: S (info to keep: who owns the session), A (a client has the
 *              session now), D (input), C (end of input, pipes), W (window
 *              size: rows u16, cols u16), K (kill)
 * Before its first client it holds up to SCROLLBACK bytes of output and then
 * reads no more (the shell waits: nothing is lost before anyone saw it).
 * While no client has it after that, it keeps the last SCROLLBACK bytes, and
 * ends the session once the orphan timeout has passed since the last client
 * went (a connection that never said A, such as a refused attach, does not
 * count as one: nobody keeps a session alive by knocking). It ends when the shell has
 * exited and nsxd has taken the exit, or when told to: the whole cgroup is
 * killed, the socket and the cgroup removed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "nsx-common.h"

#define STATUS_FD  3
#define READ_CHUNK 16384
/* Output queued for nsxd while it is connected: past this the pty is not read (the shell waits). */
#define QUEUE_HIGH (64 * 1024)
/* Output kept while no nsxd is connected; the oldest goes first. */
#define SCROLLBACK (256 * 1024)
/* Frames to nsxd: the scrollback and a read more (trimmed after each), or QUEUE_HIGH and a read of each stream. */
#define OUT_RING  (SCROLLBACK + READ_CHUNK + 64)
#define MAX_FRAME (1024 * 1024 + 64)
#define MAX_INFO  (64 * 1024)
/* What frames from nsxd are read into at first; it grows to fit a longer frame and goes once empty. */
#define IN_CHUNK 16384
/* After the shell exits, how long its output may still arrive (a process outside any cgroup may hold the pty). */
#define DRAIN_MS      2000
#define KILL_GRACE_MS 300

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* Its stderr is nobody's (nsxd gives it none): the status fd is the only word there is. */
	die_status(STATUS_FD, NULL, fmt, ap);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static struct {
	const char *socket_path, *cgroup_path;
	int listen_fd, conn_fd, cgroup_fd, pidfd, signal_fd;
	/* pty: master is input and output; pipes: in_fd, out_fd and err_fd. */
	int master, in_fd, out_fd, err_fd;
	pid_t child;
	int exited, code, signal;
	long long orphan_ms, orphan_at, drain_at, kill_at;
	int killed, exit_queued;
	/* The connected nsxd relays to a client (it said A). */
	int adopted;
	/* A client has had the session once: until then nothing it printed may be dropped (the shell waits instead). */
	int ever_adopted;
	/* The hello to the connected nsxd, before any other frame; hello_off of it is sent. */
	unsigned char *hello;
	size_t hello_len, hello_off;
	/*
	 * Output and the exit, as frames in one ring, mapped at the first output:
	 * no allocation per read, so a shell printing a byte at a time costs what
	 * it printed, not a malloc'd chunk a byte. queued bytes wait from
	 * ring[head] on, sent bytes of the first frame already with nsxd; the
	 * last frame, at ring[last], takes in what follows it of its stream.
	 * dirty: how far pages have been written since they were last given back.
	 */
	unsigned char *ring;
	size_t head, queued, sent, last, dirty;
	unsigned char *info;
	size_t info_len;
	/*
	 * Frames from nsxd: in_len bytes in a buffer of in_cap, that exists only
	 * while it holds some; in_start is where the next frame begins. Input not
	 * yet taken by the pty or pipe is pending_len bytes at pending_off.
	 */
	unsigned char *in;
	size_t in_cap, in_start, in_len, pending_off, pending_len;
} s = {.listen_fd = -1, .conn_fd = -1, .cgroup_fd = -1, .master = -1, .in_fd = -1, .out_fd = -1, .err_fd = -1};

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Copies n bytes to or from the ring, off bytes past its head, across its end. */
static void ring_put(size_t off, const void *from, size_t n)
{
	size_t at = (s.head + off) % OUT_RING, first = n < OUT_RING - at ? n : OUT_RING - at;

	memcpy(s.ring + at, from, first);
	memcpy(s.ring, (const unsigned char *)from + first, n - first);
	if (n > first)
		s.dirty = OUT_RING;
	else if (at + n > s.dirty)
		s.dirty = at + n;
}

static void ring_get(size_t off, void *to, size_t n)
{
	size_t at = (s.head + off) % OUT_RING, first = n < OUT_RING - at ? n : OUT_RING - at;

	memcpy(to, s.ring + at, first);
	memcpy((unsigned char *)to + first, s.ring, n - first);
}

static char head_type(void)
{
	return (char)s.ring[s.head];
}

/* The payload length of the frame off bytes past the head. */
static uint32_t frame_len(size_t off)
{
	unsigned char h[4];

	ring_get(off + 1, h, 4);
	return get_u32(h);
}

static void put_header(size_t off, char type, uint32_t len)
{
	unsigned char h[5];

	h[0] = (unsigned char)type;
	put_u32(h + 1, len);
	ring_put(off, h, 5);
}

/* An output frame (O or E) or the exit; output follows output of its stream in one frame, up to a read's worth. */
static void enqueue(char type, const void *data, size_t n)
{
	size_t last = (s.last + OUT_RING - s.head) % OUT_RING;

	if (!s.ring) {
		s.ring = mmap(NULL, OUT_RING, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (s.ring == MAP_FAILED) abort();
	}
	/* The reads after QUEUE_HIGH, or after the trim to SCROLLBACK, always fit: anything else is a bug here. */
	if (s.queued + 5 + n > OUT_RING) abort();
	/* A frame nsxd has begun to take keeps the length it was sent with. */
	if (s.queued && type != 'X' && (char)s.ring[s.last] == type && (last || !s.sent) &&
	    frame_len(last) + n <= READ_CHUNK) {
		put_header(last, type, frame_len(last) + (uint32_t)n);
	} else {
		s.last = (s.head + s.queued) % OUT_RING;
		put_header(s.queued, type, (uint32_t)n);
		s.queued += 5;
	}
	ring_put(s.queued, data, n);
	s.queued += n;
}

static void drop_head(void)
{
	size_t n = 5 + frame_len(0);

	s.head = (s.head + n) % OUT_RING;
	s.queued -= n;
	s.sent = 0;
	if (s.queued) return;
	/*
	 * Empty, the ring starts over at its start: a session whose output nsxd
	 * takes at once touches its first pages only. One that held more (a
	 * scrollback sent, a slow nsxd) gives its pages back.
	 */
	s.head = 0;
	if (s.dirty > QUEUE_HIGH) {
		madvise(s.ring, OUT_RING, MADV_DONTNEED);
		s.dirty = 0;
	}
}

/*
 * With no client: only the newest output is kept, and only output is ever
 * dropped. The oldest frame loses its oldest bytes, its header moved up
 * over them, so exactly the newest SCROLLBACK bytes of frames stay.
 */
static void trim_scrollback(void)
{
	while (!s.adopted && s.ever_adopted && s.queued > SCROLLBACK && (head_type() == 'O' || head_type() == 'E')) {
		size_t over = s.queued - SCROLLBACK;
		uint32_t len = frame_len(0);
		char type = head_type();
		int only = s.last == s.head;

		if (over >= len) {
			drop_head();
			continue;
		}
		s.head = (s.head + over) % OUT_RING;
		s.queued -= over;
		put_header(0, type, len - (uint32_t)over);
		if (only) s.last = s.head;
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0) close(*fd);
	*fd = -1;
}

static void free_in(void)
{
	free(s.in);
	s.in = NULL;
	s.in_cap = s.in_start = s.in_len = 0;
}

static void detach(void)
{
	close_fd(&s.conn_fd);
	free_in();
	s.pending_len = 0;
	free(s.hello);
	s.hello = NULL;
	/* A frame half written to the nsxd that went is whole for the next one. */
	s.sent = 0;
	if (s.adopted) s.orphan_at = now_ms() + s.orphan_ms;
	s.adopted = 0;
	trim_scrollback();
	/* It may wait alone for minutes: the heap gives back what the connection freed. */
	malloc_trim(0);
}

static void kill_tree(void)
{
	if (s.cgroup_fd >= 0) {
		int k = openat(s.cgroup_fd, "cgroup.kill", O_WRONLY | O_CLOEXEC);

		if (k >= 0) {
			if (write(k, "1", 1) < 0) { /* the cgroup may be empty already */
			}
			close(k);
		}
	}
	if (!s.exited && !s.killed) {
		/* An interactive shell ignores SIGTERM: SIGKILL follows (nsx-exec's own supervisor forwards SIGTERM).
		 */
		kill(s.child, SIGTERM);
		s.kill_at = now_ms() + KILL_GRACE_MS;
	}
	s.killed = 1;
}

/* Closing a Unix socket with frames of nsxd's still unread in it would reset
 * the connection, and nsxd could lose the exit before it: say we are done,
 * and close once nsxd has closed its end too (or a second has passed). */
static void close_gracefully(void)
{
	long long until = now_ms() + 1000;
	char buf[4096];

	if (s.conn_fd < 0) return;
	shutdown(s.conn_fd, SHUT_WR);
	for (;;) {
		struct pollfd p = {.fd = s.conn_fd, .events = POLLIN};
		long long left = until - now_ms();

		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0) break;
		n = recv(s.conn_fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
	}
	close_fd(&s.conn_fd);
}

/* The session is over for good: nothing of it stays. */
static void __attribute__((noreturn)) finish(void)
{
	close_gracefully();
	kill_tree();
	unlink(s.socket_path);
	if (s.cgroup_path) {
		for (int i = 0; i < 100 && rmdir(s.cgroup_path) < 0 && errno == EBUSY; i++) usleep(10000);
	}
	_exit(0);
}

static void on_attach(void)
{
	int fd = accept4(s.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (fd < 0) return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0 || s.conn_fd >= 0) {
		close(fd);
		return;
	}
	s.conn_fd = fd;
	s.hello_len = 5 + 4 + s.info_len;
	s.hello_off = 0;
	s.hello = malloc(s.hello_len);
	if (!s.hello) abort();
	s.hello[0] = 'H';
	put_u32(s.hello + 1, (uint32_t)(4 + s.info_len));
	put_u32(s.hello + 5, (uint32_t)s.child);
	if (s.info_len) memcpy(s.hello + 9, s.info, s.info_len);
}

static void flush_queue(void)
{
	/* Until a client has the session, nsxd gets the hello only: a refused attach takes no output away. */
	while (s.conn_fd >= 0 && (s.hello || (s.adopted && s.queued))) {
		const unsigned char *p;
		size_t len;
		ssize_t n;

		if (s.hello) {
			p = s.hello + s.hello_off;
			len = s.hello_len - s.hello_off;
		} else {
			/* The rest of the first frame, up to the ring's end. */
			size_t at = (s.head + s.sent) % OUT_RING;

			p = s.ring + at;
			len = 5 + frame_len(0) - s.sent;
			if (len > OUT_RING - at) len = OUT_RING - at;
		}
		n = send(s.conn_fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) return;
			detach();
			return;
		}
		if (s.hello) {
			s.hello_off += (size_t)n;
			if (s.hello_off == s.hello_len) {
				free(s.hello);
				s.hello = NULL;
			}
		} else if ((s.sent += (size_t)n) == 5 + frame_len(0)) {
			drop_head();
		}
	}
}

/* Output from the shell, as a frame for nsxd (kept as scrollback while detached). */
static void read_output(int *fd, char type)
{
	unsigned char buf[READ_CHUNK];
	ssize_t n = read(*fd, buf, sizeof(buf));

	if (n > 0) {
		enqueue(type, buf, (size_t)n);
		trim_scrollback();
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
	/* End of file, or EIO from a pty master once the last peer is closed. */
	close_fd(fd);
}

static void write_pending(void)
{
	int fd = s.master >= 0 ? s.master : s.in_fd;

	if (fd < 0) {
		s.pending_len = 0;
		return;
	}
	while (s.pending_len > 0) {
		ssize_t n = write(fd, s.in + s.pending_off, s.pending_len);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) return;
			s.pending_len = 0; /* the shell is gone; its exit follows */
			return;
		}
		s.pending_off += (size_t)n;
		s.pending_len -= (size_t)n;
	}
}

/* Runs the frames from nsxd that have arrived whole, until one's input must wait for the shell. */
static void run_frames(void)
{
	while (s.pending_len == 0 && s.conn_fd >= 0 && s.in_len - s.in_start >= 5) {
		unsigned char type = s.in[s.in_start];
		uint32_t len = get_u32(s.in + s.in_start + 1);
		unsigned char *p = s.in + s.in_start + 5;

		if (len > MAX_FRAME - 5) {
			detach();
			return;
		}
		if (s.in_len - s.in_start < 5 + len) break;
		s.in_start += 5 + len;
		switch (type) {
		case 'S':
			if (len <= MAX_INFO) {
				free(s.info);
				s.info = malloc(len ? len : 1);
				if (!s.info) abort();
				memcpy(s.info, p, len);
				s.info_len = len;
			}
			break;
		case 'A': s.adopted = s.ever_adopted = 1; break;
		case 'D':
			s.pending_off = (size_t)(p - s.in);
			s.pending_len = len;
			write_pending();
			break;
		case 'C': close_fd(&s.in_fd); break;
		case 'W':
			if (len == 4 && s.master >= 0) {
				struct winsize ws = {.ws_row = (unsigned short)(p[0] << 8 | p[1]),
						     .ws_col = (unsigned short)(p[2] << 8 | p[3])};

				ioctl(s.master, TIOCSWINSZ, &ws);
			}
			break;
		case 'K': kill_tree(); break;
		default: detach(); return;
		}
	}
	/* Input still pending is in s.in: it stays where it is until written. */
	if (s.pending_len > 0 || s.in_start == 0) return;
	s.in_len -= s.in_start;
	memmove(s.in, s.in + s.in_start, s.in_len);
	s.in_start = 0;
	/* Nothing left, nothing held: a pasted megabyte would otherwise stay as long as the session. */
	if (!s.in_len) free_in();
}

/*
 * Up to MAX_FRAME of frames wait here unread, as ever; but the buffer grows
 * only as they arrive (to the whole of a frame once its header is in, else a
 * chunk more when full), and goes once they are run.
 */
static void read_frames(void)
{
	size_t want = s.in_len == s.in_cap ? s.in_cap + IN_CHUNK : s.in_cap;
	ssize_t n;

	if (s.in_len - s.in_start >= 5) {
		uint32_t len = get_u32(s.in + s.in_start + 1);

		if (len <= MAX_FRAME - 5 && s.in_start + 5 + len > want) want = s.in_start + 5 + len;
	}
	if (want > MAX_FRAME) want = MAX_FRAME;
	if (want > s.in_cap) {
		unsigned char *in = realloc(s.in, want);

		if (!in) abort();
		s.in = in;
		s.in_cap = want;
	}
	if (s.in_len == s.in_cap) return;
	n = recv(s.conn_fd, s.in + s.in_len, s.in_cap - s.in_len, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		detach();
		return;
	}
	if (n > 0) {
		s.in_len += (size_t)n;
		run_frames();
	}
}

static void on_child_exit(void)
{
	int status;

	if (waitpid(s.child, &status, WNOHANG) != s.child) return;
	s.exited = 1;
	s.code = exit_code(status);
	s.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	close_fd(&s.pidfd);
	/* The session ends with its shell: what it left running goes too. */
	kill_tree();
	s.drain_at = now_ms() + DRAIN_MS;
}

static void parse_size(const char *arg, struct winsize *ws)
{
	unsigned rows, cols;
	char end;

	if (sscanf(arg, "%u:%u%c", &rows, &cols, &end) != 2 || rows < 1 || cols < 1 || rows > 10000 || cols > 10000)
		die("bad --pty %s", arg);
	ws->ws_row = (unsigned short)rows;
	ws->ws_col = (unsigned short)cols;
}

static void listen_on(const char *path)
{
	struct sockaddr_un addr;
	mode_t old;

	if (!unix_address(&addr, path)) die("socket path too long: %s", path);
	s.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s.listen_fd < 0) die("socket: %s", strerror(errno));
	old = umask(077);
	if (bind(s.listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) die("bind %s: %s", path, strerror(errno));
	umask(old);
	if (listen(s.listen_fd, 4) < 0) die("listen: %s", strerror(errno));
}

/* The pty, or three pipes; the child's ends for its 0-2 in child_fds. */
static void open_stdio(const struct winsize *ws, int child_fds[3])
{
	if (ws) {
		int unlock = 0;

		s.master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (s.master < 0 || ioctl(s.master, TIOCSPTLCK, &unlock) < 0) die("open a pty: %s", strerror(errno));
		child_fds[0] = child_fds[1] = child_fds[2] =
			ioctl(s.master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (child_fds[0] < 0 || ioctl(s.master, TIOCSWINSZ, ws) < 0) die("pty peer: %s", strerror(errno));
		fcntl(s.master, F_SETFL, O_NONBLOCK);
		return;
	}
	int p[3][2];

	for (int i = 0; i < 3; i++)
		if (pipe2(p[i], O_CLOEXEC) < 0) die("pipe: %s", strerror(errno));
	child_fds[0] = p[0][0];
	s.in_fd = p[0][1];
	child_fds[1] = p[1][1];
	s.out_fd = p[1][0];
	child_fds[2] = p[2][1];
	s.err_fd = p[2][0];
	fcntl(s.in_fd, F_SETFL, O_NONBLOCK);
}

/* nsx-exec on the child's ends, with the fds nsxd handed on; nothing else of ours reaches it. */
static void start(char **argv, int child_fds[3], const sigset_t *mask, int pass_fds)
{
	s.child = fork();
	if (s.child < 0) die("fork: %s", strerror(errno));
	if (s.child == 0) {
		sigprocmask(SIG_UNBLOCK, mask, NULL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		for (int i = 0; i < 3; i++)
			if (dup2(child_fds[i], i) < 0) die("dup2: %s", strerror(errno));
		execv(argv[0], argv);
		die("%s: %s", argv[0], strerror(errno));
	}
	s.pidfd = pidfd_of_pid(s.child);
	if (s.pidfd < 0) die("pidfd_open: %s", strerror(errno));
	/* The status fd goes with the rest: nsxd reads nsx-exec's word on it now. */
	if (syscall(SYS_close_range, STATUS_FD, STATUS_FD + pass_fds - 1, 0) < 0)
		die("close_range: %s", strerror(errno));
	for (int i = 0; i < 3; i++)
		if (i == 0 || child_fds[i] != child_fds[i - 1]) close(child_fds[i]);
}

static int loop_timeout(void)
{
	long long now = now_ms(), next = -1;
	/* The drain deadline counts while output may still come; once its fds are closed, a past one would spin the
	 * loop. */
	int draining = s.exited && (s.master >= 0 || s.out_fd >= 0 || s.err_fd >= 0);
	long long deadlines[] = {!s.adopted ? s.orphan_at : -1, draining ? s.drain_at : -1,
				 s.kill_at > 0 ? s.kill_at : -1};

	for (size_t i = 0; i < sizeof(deadlines) / sizeof(deadlines[0]); i++)
		if (deadlines[i] >= 0 && (next < 0 || deadlines[i] < next)) next = deadlines[i];
	if (next < 0) return -1;
	return next <= now ? 0 : (int)(next - now);
}

static void deadlines(void)
{
	long long now = now_ms();

	if (s.kill_at > 0 && now >= s.kill_at) {
		s.kill_at = 0;
		if (!s.exited) {
			kill(s.child, SIGKILL);
			kill(-s.child, SIGKILL);
		}
	}
	if (!s.adopted && now >= s.orphan_at) {
		/* Nobody came back for it: it ends, and with nobody to tell, at once once reaped. */
		kill_tree();
		if (s.exited) finish();
	}
	if (s.exited && now >= s.drain_at) {
		close_fd(&s.master);
		close_fd(&s.out_fd);
		close_fd(&s.err_fd);
	}
}

/* Once the shell has exited and its last output is read, its exit follows that output. */
static void queue_exit(void)
{
	unsigned char x[8];

	if (!s.exited || s.exit_queued || s.master >= 0 || s.out_fd >= 0 || s.err_fd >= 0) return;
	put_u32(x, (uint32_t)s.code);
	put_u32(x + 4, (uint32_t)s.signal);
	enqueue('X', x, sizeof(x));
	s.exit_queued = 1;
}

/* What nsxd asked for, from the command line. */
struct options {
	struct winsize ws, *pty;
	int pass_fds;
	char **launcher;
};

static void parse_args(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{"socket", required_argument, 0, 's'},	 {"orphan-timeout", required_argument, 0, 'o'},
		{"pass-fds", required_argument, 0, 'p'}, {"pty", required_argument, 0, 't'},
		{"cgroup", required_argument, 0, 'c'},	 {0, 0, 0, 0},
	};
	int opt;
	/* Up to a week, as nsxd allows; 0 until given, which the usage refuses. */
	long orphan = 0, pass_fds = 0;

	o->pty = NULL;
	while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (opt) {
		case 's': s.socket_path = optarg; break;
		case 'o':
			if (!parse_number(optarg, 7 * 24 * 3600, &orphan)) die("bad --orphan-timeout %s", optarg);
			break;
		case 'p':
			if (!parse_number(optarg, 64, &pass_fds)) die("bad --pass-fds %s", optarg);
			break;
		case 't':
			parse_size(optarg, &o->ws);
			o->pty = &o->ws;
			break;
		case 'c': s.cgroup_path = optarg; break;
		default: die("bad arguments");
		}
	}
	if (!s.socket_path || orphan < 1 || pass_fds < 1 || optind >= argc)
		die("usage: nsx-session --socket PATH --orphan-timeout SECONDS --pass-fds N [--pty ROWS:COLS] "
		    "[--cgroup DIR] -- LAUNCHER ARGS...");
	s.orphan_ms = orphan * 1000LL;
	o->pass_fds = (int)pass_fds;
	o->launcher = argv + optind;
}

/* Before anything else is opened: what this root process holds and how it takes signals. */
static void lock_down(int pass_fds, sigset_t *mask)
{
	/* Nothing but what nsxd handed on by number; and no one may read this root process's memory. */
	if (syscall(SYS_close_range, STATUS_FD + pass_fds, ~0U, 0) < 0) die("close_range: %s", strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) die("dumpable: %s", strerror(errno));
	/*
	 * A fixed threshold: a long frame's buffer is mapped and unmapped on its
	 * own. The default one rises to the size of the first such buffer freed,
	 * and the next would stay in the heap once freed.
	 */
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigemptyset(mask);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	sigprocmask(SIG_BLOCK, mask, NULL);
	s.signal_fd = signalfd(-1, mask, SFD_CLOEXEC);
	if (s.signal_fd < 0) die("signalfd: %s", strerror(errno));
}

/* What one poll waits for; each index is -1 when its fd is not in the set. */
struct poll_set {
	struct pollfd p[7];
	int n, listen, conn, master, in, out, err, child;
	/* Before its first client the scrollback is all the room there is; after, an orphan's keeps the newest. */
	int room;
};

static int poll_add(struct poll_set *ps, int fd, short events)
{
	ps->p[ps->n] = (struct pollfd){.fd = fd, .events = events};
	return ps->n++;
}

/* The signalfd is always p[0]. */
static void build_poll_set(struct poll_set *ps)
{
	ps->n = 0;
	ps->conn = ps->master = ps->in = ps->out = ps->err = ps->child = -1;
	ps->room = s.adopted ? s.queued < QUEUE_HIGH : s.ever_adopted || s.queued < SCROLLBACK;
	poll_add(ps, s.signal_fd, POLLIN);
	ps->listen = poll_add(ps, s.listen_fd, POLLIN);
	if (s.conn_fd >= 0)
		ps->conn = poll_add(ps, s.conn_fd,
				    (s.pending_len ? 0 : POLLIN) | (s.hello || (s.adopted && s.queued) ? POLLOUT : 0));
	/* A master whose shell is gone polls as hung up at once: left out while there is no room to read it. */
	if (s.master >= 0 && (ps->room || s.pending_len))
		ps->master = poll_add(ps, s.master, (ps->room ? POLLIN : 0) | (s.pending_len ? POLLOUT : 0));
	if (s.in_fd >= 0 && s.pending_len) ps->in = poll_add(ps, s.in_fd, POLLOUT);
	if (s.out_fd >= 0 && ps->room) ps->out = poll_add(ps, s.out_fd, POLLIN);
	if (s.err_fd >= 0 && ps->room) ps->err = poll_add(ps, s.err_fd, POLLIN);
	if (s.pidfd >= 0) ps->child = poll_add(ps, s.pidfd, POLLIN);
}

/* The events poll returned for index i, none if that fd was not polled. */
static short revents(const struct poll_set *ps, int i)
{
	return i >= 0 ? ps->p[i].revents : 0;
}

static void dispatch(const struct poll_set *ps)
{
	if (revents(ps, 0)) {
		struct signalfd_siginfo si;

		if (read(s.signal_fd, &si, sizeof(si)) > 0) finish();
	}
	if (revents(ps, ps->listen)) on_attach();
	if (revents(ps, ps->child)) on_child_exit();
	if (revents(ps, ps->master) & POLLOUT) write_pending();
	if (revents(ps, ps->in)) write_pending();
	if ((revents(ps, ps->master) & (POLLIN | POLLHUP | POLLERR)) && ps->room) read_output(&s.master, 'O');
	if (revents(ps, ps->out)) read_output(&s.out_fd, 'O');
	if (revents(ps, ps->err)) read_output(&s.err_fd, 'E');
	if (s.conn_fd >= 0 && (revents(ps, ps->conn) & (POLLIN | POLLHUP | POLLERR))) read_frames();
}

int main(int argc, char **argv)
{
	struct options o;
	struct poll_set ps;
	int child_fds[3];
	sigset_t mask;

	parse_args(argc, argv, &o);
	lock_down(o.pass_fds, &mask);
	if (s.cgroup_path && (s.cgroup_fd = open(s.cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die("open %s: %s", s.cgroup_path, strerror(errno));
	listen_on(s.socket_path);
	open_stdio(o.pty, child_fds);
	start(o.launcher, child_fds, &mask, o.pass_fds);
	s.orphan_at = now_ms() + s.orphan_ms;

	for (;;) {
		build_poll_set(&ps);
		if (poll(ps.p, (nfds_t)ps.n, loop_timeout()) < 0 && errno != EINTR) _exit(125);
		dispatch(&ps);
		run_frames();
		deadlines();
		queue_exit();
		flush_queue();
		/* The exit is nsxd's (a closed socket still delivers what was sent): nothing is left to do. */
		if (s.exit_queued && !s.queued && s.adopted) finish();
	}
}
