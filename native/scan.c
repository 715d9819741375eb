/*
 * libnsxscan: what a full scan reads of each process, but its command
 * line, for nsxd, on libuv's threads (koffi's async call), while nsxd's own
 * thread makes records of what was read. A scan at 20,000 processes is
 * mostly the kernel's work for these reads (a stat line, ten namespace links
 * and every fd's link a process); read here, they take the host's second
 * CPU and no JavaScript isolate.
 *
 * Each /proc/PID is opened once (nsx_open_dirs) and read through its fd:
 * a pid reused meanwhile is another directory, so every read here through
 * the old fd fails, as nsxd's own do. A link is decoded as
 * helper/daemon/discovery/procfs.ts decodes it (that reader stays, for
 * updates and where this library is missing; a test holds the two to the
 * same answer). Nothing here allocates or keeps state: it writes only into
 * the caller's arrays, whose sizes the caller passes, and the fds it opens
 * are the caller's to close.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "scan.h"

/* A link is read into this much: an nsfs link is short, a longer one is no namespace (as procfs.ts). */
#define LINK_MAX 256

/*
 * The link NAME of DIR, if it ends as nsfs's do ("net:[4026531840]"): its
 * inode, after the '[' (0 if it is none, or gone). *TYPE is the index in
 * TYPES of what is before ":[", or -1.
 */
static uint32_t nsfs_link(int dir, const char *name, const char *const *types, int ntypes, int *type)
{
	char link[LINK_MAX];
	ssize_t n = readlinkat(dir, name, link, sizeof(link));
	const char *open;
	uint32_t inode = 0;

	*type = -1;
	if (n <= 0 || n >= (ssize_t)sizeof(link) || link[n - 1] != ']') return 0;
	open = memchr(link, '[', n);
	if (!open) return 0;
	for (const char *c = open + 1; c < link + n - 1; c++) {
		if (*c < '0' || *c > '9') return 0;
		inode = inode * 10 + (uint32_t)(*c - '0');
	}
	for (int t = 0; t < ntypes; t++)
		if (open - link >= 2 && open[-1] == ':' && (size_t)(open - 1 - link) == strlen(types[t]) &&
		    memcmp(link, types[t], open - 1 - link) == 0)
			*type = t;
	return inode;
}

/*
 * The directory /proc/PID of each of the N PIDS, opened into DIRS[i] (-1:
 * gone, or no such process), close-on-exec, not following a link, as nsxd
 * opens one itself. Returns N. The caller closes them, once every read
 * through them is done.
 */
EXPORT int nsx_open_dirs(const int32_t *pids, int32_t n, int32_t *dirs)
{
	char path[32];

	for (int32_t i = 0; i < n; i++) {
		dirs[i] = -1;
		if (pids[i] > 0 && snprintf(path, sizeof(path), "/proc/%d", pids[i]) < (int)sizeof(path))
			dirs[i] = openat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	return n;
}

/*
 * For each of the N process directories DIRS, the inodes of its NLINKS
 * links LINKS (ns/cgroup, ..., in the caller's order) into INODES[i * NLINKS
 * + k], 0 where one cannot be read. Returns N.
 */
EXPORT int nsx_ns_links(const int32_t *dirs, int32_t n, const char *const *links, int32_t nlinks, uint32_t *inodes)
{
	int type;

	for (int32_t i = 0; i < n; i++)
		for (int32_t k = 0; k < nlinks; k++)
			inodes[(size_t)i * nlinks + k] = dirs[i] < 0 ? 0 : nsfs_link(dirs[i], links[k], NULL, 0, &type);
	return n;
}

/*
 * The stat line of each of the N process directories DIRS, one after
 * another in BUF (SIZE bytes): SPANS[i * 2] where it starts, SPANS[i * 2 +
 * 1] its length (-1: it could not be read), and the owner of the directory
 * in UIDS[i] (-1: gone). Returns how many directories were read: fewer than
 * N when BUF is full (the caller reads the rest itself).
 */
EXPORT int nsx_stats(const int32_t *dirs, int32_t n, uint8_t *buf, uint32_t size, int32_t *spans, int32_t *uids)
{
	uint32_t at = 0;

	for (int32_t i = 0; i < n; i++) {
		struct stat st;
		int fd = dirs[i] < 0 ? -1 : openat(dirs[i], "stat", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		uint32_t length = 0;
		ssize_t got = 0;

		spans[i * 2] = (int32_t)at;
		spans[i * 2 + 1] = -1;
		uids[i] = fd >= 0 && fstat(dirs[i], &st) == 0 ? (int32_t)st.st_uid : -1;
		if (fd < 0) continue;
		while (at + length < size && (got = read(fd, buf + at + length, size - at - length)) > 0) length += got;
		close(fd);
		if (at + length == size) return i; /* no room left: this one is the caller's to read */
		if (got < 0) continue;
		spans[i * 2 + 1] = (int32_t)length;
		at += length;
	}
	return n;
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* The size of the fd folder FD: its number of fds since Linux 6.2, 0 before (see procfs.ts's listFdsAt). */
static int64_t fds_held(int fd)
{
	struct stat st;

	return fstat(fd, &st) < 0 ? 0 : st.st_size;
}

/*
 * The fd folder of each of the N process directories DIRS, as procfs.ts's
 * listFdsAt and processes.ts's readNsFds read it: at most MAX(ONCE_SPENT,
 * MIN(PER_PROCESS, *LEFT)) fds of a process, its lowest, and *LEFT less by
 * as many (it may go below 0). STATE[i * 2] is how many fds were listed (-1:
 * the folder could not be opened), STATE[i * 2 + 1] how many were not.
 * Every fd whose link is a namespace of a type in TYPES is a record of
 * NSFDS: [i, fd, type's index, inode], *COUNT of them, at most CAP.
 * Returns how many directories were read whole: fewer than N when NSFDS is
 * full (the caller reads the rest itself).
 */
EXPORT int nsx_fd_links(const int32_t *dirs, int32_t n, const char *const *types, int32_t ntypes, int32_t per_process,
			int32_t once_spent, int32_t *left, int32_t *state, uint32_t *nsfds, int32_t cap, int32_t *count)
{
	char buf[16 * 1024];

	*count = 0;
	for (int32_t i = 0; i < n; i++) {
		int32_t max = *left < per_process ? *left : per_process, listed = 0, unread = 0;
		int32_t mark = *count;
		int fd = dirs[i] < 0 ? -1 : openat(dirs[i], "fd", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		ssize_t got;

		if (max < once_spent) max = once_spent;
		state[i * 2] = -1;
		state[i * 2 + 1] = 0;
		if (fd < 0) continue;
		while (unread == 0 && (got = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
			for (ssize_t at = 0; at < got;) {
				const struct linux_dirent64 *d = (const void *)(buf + at);
				int number = 0, type;
				uint32_t inode;

				if (d->d_reclen == 0 || at + d->d_reclen > got) break; /* never from a kernel */
				at += d->d_reclen;
				if (d->d_name[0] == '.') continue;
				if (listed == max) {
					int64_t more = fds_held(fd) - max;
					unread = more > 1 ? (int32_t)(more > INT32_MAX ? INT32_MAX : more) : 1;
					break;
				}
				for (const char *c = d->d_name; *c >= '0' && *c <= '9'; c++)
					number = number * 10 + (*c - '0');
				listed++;
				inode = nsfs_link(fd, d->d_name, types, ntypes, &type);
				if (!inode || type < 0) continue;
				if (*count == cap) {
					*count = mark; /* this directory is the caller's to read */
					close(fd);
					return i;
				}
				nsfds[*count * 4] = (uint32_t)i;
				nsfds[*count * 4 + 1] = (uint32_t)number;
				nsfds[*count * 4 + 2] = (uint32_t)type;
				nsfds[*count * 4 + 3] = inode;
				++*count;
			}
		}
		close(fd);
		*left -= listed;
		state[i * 2] = listed;
		state[i * 2 + 1] = unread;
	}
	return n;
}
