/*
 * How nsx-files finds a file: only ever from its root, with openat2's
 * RESOLVE_IN_ROOT ("/" and ".." stop at the root, absolute symlinks start
 * there) and RESOLVE_NO_MAGICLINKS (a procfs inside never leads out). What
 * changes a name opens its parent that way, then acts on the last component
 * alone with an *at() call that does not follow it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "files.h"

static int root_fd = -1;

void files_set_root(int fd)
{
	root_fd = fd;
}

/* path from the root; an empty path is the root itself. -1 and errno on failure. */
int in_root(const char *path, int flags)
{
	struct open_how how = {
		/* openat2 refuses O_PATH with any flag but O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC. */
		.flags = (uint64_t)(flags | O_CLOEXEC | (flags & O_PATH ? 0 : O_NOCTTY)),
		.mode = 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd, tries = 0;

	/* A ".." walked while any rename or mount happens on the machine is EAGAIN: the kernel asks us to try again. */
	do fd = (int)syscall(SYS_openat2, root_fd, *path ? path : "/", &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN && ++tries < 64);
	return fd;
}

/*
 * The folder that holds path's last component (O_PATH, resolved in the root),
 * and that component in *name (a pointer into a static copy). A path whose
 * last component is none ("/", "a/.", "a/..") has no parent to act in: EBUSY,
 * as the kernel says of the root, so nothing is made, removed or renamed
 * through a name that means a folder above.
 */
int parent_of(const char *path, const char **name)
{
	static char dir[PATH_LIMIT + 1];
	size_t n = strlen(path);
	char *slash;

	if (n > PATH_LIMIT) return errno = ENAMETOOLONG, -1;
	memcpy(dir, path, n + 1);
	while (n > 1 && dir[n - 1] == '/') dir[--n] = '\0';
	slash = strrchr(dir, '/');
	*name = slash ? slash + 1 : dir;
	if (!**name || !strcmp(*name, ".") || !strcmp(*name, "..")) return errno = EBUSY, -1;
	if (!slash) return in_root("", O_PATH | O_DIRECTORY);
	*slash = '\0';
	return in_root(dir, O_PATH | O_DIRECTORY);
}

/*
 * An O_PATH fd opened for reading or writing, as the user: the same inode,
 * whatever now holds its name. Through our own /proc/self/fd, which a process
 * may always use, dumpable or not.
 */
int reopen(int fd, int flags)
{
	char link[64];

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	return open(link, flags | O_CLOEXEC | O_NOCTTY);
}

int join_path(char *dst, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(dst, cap, "%s%s%s", dir, *dir && dir[strlen(dir) - 1] == '/' ? "" : "/", name);

	return n < 0 || (size_t)n >= cap ? (errno = ENAMETOOLONG, -1) : 0;
}

/* Whether fd is the root of a mount: a recursive delete never descends into one (a volume, a bind mount). */
static int mount_root(int fd)
{
	struct statx sx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) < 0) return 1;
	return (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

static int remove_entries(int fd, int depth)
{
	DIR *d = fdopendir(fd);
	struct dirent *e;
	int err = 0;

	if (!d) return close(fd), errno;
	while (!err && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0) continue;
		if (errno != EISDIR && errno != EPERM)
			err = errno;
		else if ((err = remove_tree(dirfd(d), e->d_name, depth + 1)) == 0 &&
			 unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR) < 0)
			err = errno;
	}
	closedir(d);
	return err;
}

/* Empties the folder name in dirfd, never following a symlink or entering another mount. 0 or an errno. */
int remove_tree(int dirfd, const char *name, int depth)
{
	int fd;

	if (depth > DEPTH_LIMIT) return ELOOP;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) return errno;
	if (mount_root(fd)) return close(fd), EBUSY;
	return remove_entries(fd, depth);
}
