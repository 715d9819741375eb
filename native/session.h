/*
 * What the files of nsx-session share: one struct session, made by main and
 * handed to every step. nsx-session.c starts the session (arguments, the
 * lock-down, the socket, the launcher); session-loop.c waits on its fds and
 * ends it; session-shell.c is the shell's side (pty or pipes, its exit);
 * session-relay.c is nsxd's (the connection, frames both ways);
 * session-ring.c keeps the output for nsxd; session-spawner.c starts
 * supervisors for nsxd.
 */
#ifndef NSX_SESSION_H
#define NSX_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/types.h>

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

/*
 * Output and the exit, as frames in one ring, mapped at the first output:
 * no allocation per read, so a shell printing a byte at a time costs what
 * it printed, not a malloc'd chunk a byte. queued bytes wait from
 * buf[head] on, sent bytes of the first frame already with nsxd; the
 * last frame, at buf[last], takes in what follows it of its stream.
 * dirty: how far pages have been written since they were last given back.
 */
struct ring {
	unsigned char *buf;
	size_t head, queued, sent, last, dirty;
};

struct session {
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
	struct ring out;
	/* What nsxd asked to keep (S), said again in the hello to every nsxd that connects. */
	unsigned char *info;
	size_t info_len;
	/*
	 * Frames from nsxd: in_len bytes in a buffer of in_cap, that exists only
	 * while it holds some; in_start is where the next frame begins. Input not
	 * yet taken by the pty or pipe is pending_len bytes at pending_off.
	 */
	unsigned char *in;
	size_t in_cap, in_start, in_len, pending_off, pending_len;
};

static inline void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static inline uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* nsx-session.c */
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
long long now_ms(void);

/* session-loop.c */
void run(struct session *s) __attribute__((noreturn));

/* session-shell.c */
void open_stdio(struct session *s, const struct winsize *ws, int child_fds[3]);
void close_fd(int *fd);
void read_output(struct session *s, int *fd, char type);
void write_pending(struct session *s);
void set_window(struct session *s, const unsigned char *p);
void on_child_exit(struct session *s);
void kill_tree(struct session *s);
void queue_exit(struct session *s);

/* session-relay.c */
void on_attach(struct session *s);
void on_connected(struct session *s, int fd);
void flush_queue(struct session *s);
void run_frames(struct session *s);
void read_frames(struct session *s);
void close_gracefully(struct session *s);

/* session-spawner.c */
void spawner(void) __attribute__((noreturn));

/* session-ring.c */
void ring_enqueue(struct ring *r, char type, const void *data, size_t n);
uint32_t ring_frame_len(const struct ring *r, size_t off);
void ring_drop_head(struct ring *r);
void trim_scrollback(struct session *s);

#endif
