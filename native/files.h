/*
 * nsx-files: one root of a mount namespace, served to nsxd as the requesting
 * user over stdin/stdout for as long as stdin stays open. Every path is
 * resolved with openat2(root, path, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS):
 * an absolute symlink, a chain of "..", a procfs magic link inside all stay
 * in that root. Never a library, NSS lookup or program of the container.
 *
 * The frames, in the host's byte order (nsxd is the only peer, on this
 * machine): a request is struct files_req, then path, path2 and data; an
 * answer is struct files_res, then its payload. err is an errno, 0 when it
 * worked. helper/daemon/kernel/filesHelper.ts speaks the other side.
 */
#ifndef NSX_FILES_H
#define NSX_FILES_H

#include <stdint.h>
#include <sys/stat.h>

enum files_op {
	OP_STAT = 1,
	OP_READDIR = 2,
	OP_READ = 3,
	OP_WRITE = 4,
	OP_MKDIR = 5,
	OP_DELETE = 6,
	OP_RENAME = 7,
	OP_SYMLINK = 8,
};

/* write: create if absent; replace if present; truncate first (the first chunk). */
#define F_CREATE    1
#define F_OVERWRITE 2
#define F_TRUNCATE  4
/* delete: a folder and everything in it. */
#define F_RECURSIVE 8

#define PATH_LIMIT 4096
/* The most one read or write moves, and one readdir page's entries and bytes. */
#define CHUNK_LIMIT (1024 * 1024)
#define PAGE_LIMIT  1024
#define PAGE_BYTES  (512 * 1024)
/* A recursive delete goes no deeper (each level holds an fd). */
#define DEPTH_LIMIT 128

struct files_req {
	uint32_t len; /* bytes after this header: path_len + path2_len + data */
	uint8_t op;
	uint8_t flags;
	uint16_t pad;
	uint32_t path_len;
	uint32_t path2_len;
	uint64_t offset; /* read/write: byte offset; readdir: entries to skip */
	uint32_t count;	 /* read: bytes wanted */
	uint32_t pad2;
};

struct files_res {
	uint32_t len;
	int32_t err;
};

/* One file as stat and readdir answer, then its name and a symlink's target. */
struct files_entry {
	uint32_t mode; /* lstat's: S_IFLNK for a symlink */
	uint32_t uid;
	uint32_t gid;
	uint32_t target_mode; /* a symlink's target's mode (inside the root), 0 if it resolves to nothing */
	uint64_t size;	      /* of the target, for a symlink that resolves */
	int64_t mtime_ns;
	int64_t ctime_ns;
	uint16_t name_len;
	uint16_t link_len;
	uint32_t pad;
};

/* Where an answer is built: buf holds up to cap bytes; len of them so far. */
struct out {
	char *buf;
	size_t len, cap;
};

/* files-path.c */
void files_set_root(int fd);
int in_root(const char *path, int flags);
int parent_of(const char *path, const char **name);
int reopen(int fd, int flags);
int remove_tree(int dirfd, const char *name, int depth);
int join_path(char *dst, size_t cap, const char *dir, const char *name);

/* files-ops.c: each returns 0 or an errno, and appends its answer to out. */
int op_stat(const char *path, struct out *out);
int op_readdir(const char *path, uint64_t skip, struct out *out);
int op_read(const char *path, uint64_t offset, uint32_t count, struct out *out);
int op_write(const char *path, int flags, uint64_t offset, const char *data, size_t len);
void end_write(void);
int op_mkdir(const char *path);
int op_delete(const char *path, int flags);
int op_rename(const char *from, const char *to, int flags);
int op_symlink(const char *path, const char *target);

#endif
