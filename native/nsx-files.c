/*
 * nsx-files: the files of one mount namespace, for nsxd, as one user.
 *   nsx-files (--root-fd N | --mnt-fd N) --uid U --gid G --groups G1,G2,...
 * nsxd opens the root (a checked process's /proc/PID/root, O_PATH) or the
 * mount namespace (a pin's, or any it found) and hands the fd as N. With a
 * namespace, the helper enters it for one open("/") and comes back, while it
 * is still root. Then it becomes the user (groups, gid, uid: its
 * capabilities go with root) BEFORE any lookup, and serves the frames of
 * files.h on stdin/stdout until stdin closes. Its first answer says it is
 * ready, or why not (an errno and a sentence).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "nsx-common.h"

struct setup {
	int root_fd, mnt_fd;
	uid_t uid;
	gid_t gid;
	gid_t groups[NGROUPS_MAX];
	size_t ngroups;
};

/* Request and answer buffers: a chunk and its paths, each. */
static char in_buf[sizeof(struct files_req) + 2 * PATH_LIMIT + CHUNK_LIMIT];
static char out_buf[sizeof(struct files_res) + CHUNK_LIMIT];

static int write_all(const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(1, c, n);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static void __attribute__((noreturn, format(printf, 2, 3))) fail(int err, const char *fmt, ...)
{
	struct {
		struct files_res res;
		char msg[STATUS_MAX];
	} f;
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(f.msg, sizeof(f.msg), fmt, ap);
	va_end(ap);
	if (n < 0) n = 0;
	if (n >= (int)sizeof(f.msg)) n = sizeof(f.msg) - 1;
	f.res.len = (uint32_t)n;
	f.res.err = err ? err : EINVAL;
	write_all(&f, sizeof(f.res) + (size_t)n);
	_exit(125);
}

static long number_arg(const char *s, long max, const char *what)
{
	long v;

	if (!s || !parse_number(s, max, &v)) fail(EINVAL, "%s wants a number", what);
	return v;
}

static void parse_args(int argc, char **argv, struct setup *s)
{
	s->root_fd = s->mnt_fd = -1;
	s->uid = (uid_t)-1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[++i] : NULL;
		if (!strcmp(a, "--root-fd"))
			s->root_fd = (int)number_arg(v, INT_MAX, a);
		else if (!strcmp(a, "--mnt-fd"))
			s->mnt_fd = (int)number_arg(v, INT_MAX, a);
		else if (!strcmp(a, "--uid"))
			s->uid = (uid_t)number_arg(v, 0xfffffffe, a);
		else if (!strcmp(a, "--gid"))
			s->gid = (gid_t)number_arg(v, 0xfffffffe, a);
		else if (!strcmp(a, "--groups")) {
			char *copy = strdup(v ? v : ""), *save = NULL, *tok;
			for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				if (s->ngroups >= NGROUPS_MAX) fail(EINVAL, "too many groups");
				s->groups[s->ngroups++] = (gid_t)number_arg(tok, 0xfffffffe, "--groups");
			}
			free(copy);
		} else
			fail(EINVAL, "unknown argument %s", a);
	}
	if ((s->root_fd < 0) == (s->mnt_fd < 0) || s->uid == (uid_t)-1) fail(EINVAL, "usage: see nsx-files.c");
}

/* The root of the mount namespace mnt_fd: entered for one open("/"), then left for our own again. */
static int root_of_namespace(int mnt_fd)
{
	int own = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC), root;

	if (own < 0) fail(errno, "cannot open our own mount namespace: %s", strerror(errno));
	if (setns(mnt_fd, CLONE_NEWNS) < 0) fail(errno, "cannot enter the mount namespace: %s", strerror(errno));
	root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int err = errno;
	if (setns(own, CLONE_NEWNS) < 0) _exit(125); /* never serve from inside: nothing answers */
	if (root < 0) fail(err, "cannot open the namespace's root: %s", strerror(err));
	close(own);
	close(mnt_fd);
	return root;
}

/* The user, before any lookup: groups, gid, uid (a non-root uid keeps no capability), no way back. */
static void become(const struct setup *s)
{
	uid_t r, e, saved;

	if (setgroups(s->ngroups, s->groups) < 0) fail(errno, "setgroups: %s", strerror(errno));
	if (setresgid(s->gid, s->gid, s->gid) < 0) fail(errno, "setgid(%u): %s", s->gid, strerror(errno));
	if (setresuid(s->uid, s->uid, s->uid) < 0) fail(errno, "setuid(%u): %s", s->uid, strerror(errno));
	if (getresuid(&r, &e, &saved) < 0 || r != s->uid || e != s->uid || saved != s->uid)
		fail(EPERM, "the uid did not change");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(errno, "no_new_privs: %s", strerror(errno));
	/* Nobody ptraces us into using the root fd in their own way (".." from it is outside). */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) fail(errno, "dumpable: %s", strerror(errno));
	umask(022);
}

static int read_all(char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(0, p, n);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* A path as it came: no NUL inside, at most PATH_LIMIT; copied out NUL-terminated. */
static int take_path(char *dst, const char *src, uint32_t n)
{
	if (n > PATH_LIMIT) return ENAMETOOLONG;
	if (memchr(src, '\0', n)) return EINVAL;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

static int dispatch(const struct files_req *q, const char *body, struct out *out)
{
	static char path[PATH_LIMIT + 1], path2[PATH_LIMIT + 1];
	const char *data = body + q->path_len + q->path2_len;
	size_t data_len = q->len - q->path_len - q->path2_len;
	int err = take_path(path, body, q->path_len);

	if (!err) err = take_path(path2, body + q->path_len, q->path2_len);
	if (q->op != OP_WRITE) end_write();
	if (err) return err;
	switch (q->op) {
	case OP_STAT: return op_stat(path, out);
	case OP_READDIR: return op_readdir(path, q->offset, out);
	case OP_READ: return op_read(path, q->offset, q->count > CHUNK_LIMIT ? CHUNK_LIMIT : q->count, out);
	case OP_WRITE: return op_write(path, q->flags, q->offset, data, data_len);
	case OP_MKDIR: return op_mkdir(path);
	case OP_DELETE: return op_delete(path, q->flags);
	case OP_RENAME: return op_rename(path, path2, q->flags);
	case OP_SYMLINK: return op_symlink(path, path2);
	default: return ENOSYS;
	}
}

/* Frames until stdin closes; a frame that breaks the rules ends the helper (nsxd sends none). */
static int serve(void)
{
	struct files_req q;
	struct files_res *res = (struct files_res *)out_buf;
	struct out out = {out_buf + sizeof(*res), 0, CHUNK_LIMIT};

	for (;;) {
		if (read_all((char *)&q, sizeof(q)) < 0) return 0;
		if (q.len > sizeof(in_buf) || (uint64_t)q.path_len + q.path2_len > q.len) return 1;
		if (read_all(in_buf, q.len) < 0) return 1;
		out.len = 0;
		res->err = dispatch(&q, in_buf, &out);
		if (res->err) out.len = 0;
		res->len = (uint32_t)out.len;
		if (write_all(out_buf, sizeof(*res) + out.len) < 0) return 1;
	}
}

int main(int argc, char **argv)
{
	struct setup s = {0};
	struct files_res ready = {0, 0};

	parse_args(argc, argv, &s);
	int root = s.mnt_fd >= 0 ? root_of_namespace(s.mnt_fd) : s.root_fd;
	if (fcntl(root, F_SETFD, FD_CLOEXEC) < 0) fail(errno, "bad root fd: %s", strerror(errno));
	become(&s);
	files_set_root(root);
	if (write_all(&ready, sizeof(ready)) < 0) return 1;
	return serve();
}
