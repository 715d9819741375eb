/*
 * What nsx-files does for each request, as the user it became: stat, a page
 * of a folder, a chunk of a file read or written, mkdir, delete, rename,
 * symlink.
 * Reads and writes open only regular files (checked on an O_PATH fd, then
 * reopened: a device node or fifo a container made is never opened here).
 * A write into an existing file keeps its inode, so its owner and mode; a new
 * file gets 0666 under the umask 022.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"

static int close_keep(int fd, int err)
{
	if (fd >= 0) close(fd);
	return err;
}

/* -1, with the errno of what failed (close may set its own). */
static int close_failed(int fd)
{
	int err = errno;

	close(fd);
	errno = err;
	return -1;
}

static int append(struct out *out, const void *p, size_t n)
{
	if (out->len + n > out->cap) return ENOBUFS;
	memcpy(out->buf + out->len, p, n);
	out->len += n;
	return 0;
}

/* The target of a symlink at path, followed inside the root: its stat, or 0 if it leads nowhere. */
static int target_stat(const char *path, struct stat *st)
{
	int fd = in_root(path, O_PATH);

	if (fd < 0) return 0;
	int ok = fstat(fd, st) == 0;
	close(fd);
	return ok;
}

/* One entry: lstat's st, a symlink's target's mode and size (looked up at full), its name and link. */
static int put_entry(struct out *out, const struct stat *st, const char *full, const char *name, const char *link)
{
	struct files_entry e = {0};
	struct stat t;

	e.mode = st->st_mode;
	e.uid = st->st_uid;
	e.gid = st->st_gid;
	e.size = (uint64_t)st->st_size;
	e.mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	e.ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
	if (S_ISLNK(st->st_mode) && target_stat(full, &t)) {
		e.target_mode = t.st_mode;
		e.size = (uint64_t)t.st_size;
		e.mtime_ns = (int64_t)t.st_mtim.tv_sec * 1000000000 + t.st_mtim.tv_nsec;
	}
	e.name_len = (uint16_t)strlen(name);
	e.link_len = (uint16_t)strlen(link);
	if (out->len + sizeof(e) + e.name_len + e.link_len > out->cap) return ENOBUFS;
	append(out, &e, sizeof(e));
	append(out, name, e.name_len);
	return append(out, link, e.link_len);
}

/* lstat of dirfd/name, and its link text if it is a symlink. */
static int lstat_at(int dirfd, const char *name, struct stat *st, char link[PATH_LIMIT + 1])
{
	ssize_t n;

	link[0] = '\0';
	if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0) return errno;
	if (!S_ISLNK(st->st_mode)) return 0;
	n = readlinkat(dirfd, name, link, PATH_LIMIT);
	link[n < 0 ? 0 : n] = '\0';
	return 0;
}

int op_stat(const char *path, struct out *out)
{
	static char link[PATH_LIMIT + 1];
	const char *name;
	struct stat st;
	size_t n = strlen(path);
	int err, dir = n > 1 && path[n - 1] == '/' ? (errno = EBUSY, -1) : parent_of(path, &name);

	if (dir < 0 && errno == EBUSY) {
		/* The root, a path ending in . or .., or in / (its last symlink followed): the folder it resolves to.
		 */
		dir = in_root(path, O_PATH);
		if (dir < 0) return errno;
		err = fstat(dir, &st) < 0 ? errno : put_entry(out, &st, path, "", "");
		return close_keep(dir, err);
	}
	if (dir < 0) return errno;
	err = lstat_at(dir, name, &st, link);
	if (!err) err = put_entry(out, &st, path, "", link);
	return close_keep(dir, err);
}

/* Entries of the folder at path, skipping the first skip; a uint32 after the last says where the next page starts. */
int op_readdir(const char *path, uint64_t skip, struct out *out)
{
	static char link[PATH_LIMIT + 1], full[PATH_LIMIT + 1];
	uint32_t next = 0, count = 0, *more;
	uint64_t index = 0;
	struct dirent *e;
	struct stat st;
	DIR *d;
	int fd = in_root(path, O_RDONLY | O_DIRECTORY);

	if (fd < 0) return errno;
	if (!(d = fdopendir(fd))) return close_keep(fd, errno);
	more = (uint32_t *)out->buf;
	out->len = sizeof(*more);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || index++ < skip) continue;
		if (lstat_at(dirfd(d), e->d_name, &st, link)) continue; /* gone since, or unreadable: not listed */
		if (join_path(full, sizeof(full), path, e->d_name) < 0) continue;
		if (count >= PAGE_LIMIT || out->len > PAGE_BYTES || put_entry(out, &st, full, e->d_name, link)) {
			next = (uint32_t)(index - 1);
			break;
		}
		count++;
	}
	*more = next;
	closedir(d);
	return 0;
}

/* A regular file at path (symlinks followed inside the root), reopened with flags; -1 and errno otherwise. */
static int open_regular(const char *path, int flags)
{
	struct stat st;
	int fd = in_root(path, O_PATH), rw;

	if (fd < 0) return -1;
	if (fstat(fd, &st) < 0) return close_failed(fd);
	if (S_ISDIR(st.st_mode)) return close(fd), errno = EISDIR, -1;
	if (!S_ISREG(st.st_mode)) return close(fd), errno = EINVAL, -1;
	rw = reopen(fd, flags);
	int saved = errno;
	close(fd);
	errno = saved;
	return rw;
}

int op_read(const char *path, uint64_t offset, uint32_t count, struct out *out)
{
	int fd = open_regular(path, O_RDONLY);
	ssize_t n = 1;

	if (fd < 0) return errno;
	if (count > out->cap) count = (uint32_t)out->cap;
	while (out->len < count && n > 0) {
		n = pread(fd, out->buf + out->len, count - out->len, (off_t)(offset + out->len));
		if (n < 0 && errno == EINTR)
			n = 1;
		else if (n < 0)
			return close_keep(fd, errno);
		else
			out->len += (size_t)n;
	}
	return close_keep(fd, 0);
}

/* A new file at path, never through a symlink or over anything there. */
static int create_file(const char *path)
{
	const char *name;
	int fd, dir = parent_of(path, &name);

	if (dir < 0) return errno == EBUSY ? (errno = EISDIR, -1) : -1;
	fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0666);
	int saved = errno;
	close(dir);
	errno = saved;
	return fd;
}

/*
 * The file the last write opened, kept for the chunks after its first: every
 * chunk of one file lands in the inode its first chunk opened, whatever is
 * renamed or swapped in at that path meanwhile. Any other request ends it.
 */
static int write_fd = -1;
static char write_path[PATH_LIMIT + 1];

void end_write(void)
{
	if (write_fd >= 0) close(write_fd);
	write_fd = -1;
}

/* The file a write goes to: the one kept if this continues it, else opened (or made) now. */
static int write_target(const char *path, int flags, uint64_t offset)
{
	int fd;

	if (write_fd >= 0 && offset > 0 && !(flags & F_TRUNCATE) && !strcmp(path, write_path)) return write_fd;
	end_write();
	fd = open_regular(path, O_WRONLY);
	/* Truncated in place once it may be: the inode, its owner and mode stay. */
	if (fd >= 0 && !(flags & F_OVERWRITE)) return close(fd), errno = EEXIST, -1;
	if (fd >= 0 && (flags & F_TRUNCATE) && ftruncate(fd, 0) < 0) return close_failed(fd);
	if (fd < 0 && errno == ENOENT && (flags & F_CREATE)) fd = create_file(path);
	if (fd < 0) return -1;
	snprintf(write_path, sizeof(write_path), "%s", path);
	return write_fd = fd;
}

int op_write(const char *path, int flags, uint64_t offset, const char *data, size_t len)
{
	int fd = write_target(path, flags, offset);
	size_t done = 0;

	if (fd < 0) return errno;
	while (done < len) {
		ssize_t n = pwrite(fd, data + done, len - done, (off_t)(offset + done));
		if (n < 0 && errno != EINTR) {
			int err = errno;
			end_write();
			return err;
		}
		if (n > 0) done += (size_t)n;
	}
	return 0;
}

int op_mkdir(const char *path)
{
	const char *name;
	int dir = parent_of(path, &name);

	if (dir < 0) return errno == EBUSY ? EEXIST : errno;
	return close_keep(dir, mkdirat(dir, name, 0777) < 0 ? errno : 0);
}

int op_delete(const char *path, int flags)
{
	const char *name;
	struct stat st;
	int err = 0, dir = parent_of(path, &name);

	if (dir < 0) return errno;
	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return close_keep(dir, errno);
	if (S_ISDIR(st.st_mode) && (flags & F_RECURSIVE)) err = remove_tree(dir, name, 0);
	if (!err && unlinkat(dir, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0) err = errno;
	return close_keep(dir, err);
}

int op_rename(const char *from, const char *to, int flags)
{
	static char copy[PATH_LIMIT + 1];
	const char *name, *name2;
	int err, dir2, dir = parent_of(from, &name);

	if (dir < 0) return errno;
	/* parent_of keeps its name in one static buffer: the first name is copied before the second lookup. */
	snprintf(copy, sizeof(copy), "%s", name);
	dir2 = parent_of(to, &name2);
	if (dir2 < 0) return close_keep(dir, errno);
	err = renameat2(dir, copy, dir2, name2, flags & F_OVERWRITE ? 0 : RENAME_NOREPLACE) < 0 ? errno : 0;
	close(dir2);
	return close_keep(dir, err);
}

/* A symlink at path whose text is target: only text, never resolved here (every lookup of ours stays in the root). */
int op_symlink(const char *path, const char *target)
{
	const char *name;
	int dir = parent_of(path, &name);

	if (dir < 0) return errno == EBUSY ? EEXIST : errno;
	if (!*target) return close_keep(dir, EINVAL);
	return close_keep(dir, symlinkat(target, dir, name) < 0 ? errno : 0);
}
