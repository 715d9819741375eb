/*
 * nsx-exec's namespaces: those nsxd opened (joined), and fresh ones
 * (unshared and set up as unshare(1) leaves them).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec.h"

/* The order util-linux nsenter joins in: user first (when it grants what the rest need), mnt late. */
const struct nstype nstypes[] = {
	{"user", CLONE_NEWUSER}, {"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
	{"net", CLONE_NEWNET},	 {"pid", CLONE_NEWPID},	      {"mnt", CLONE_NEWNS},  {"time", CLONE_NEWTIME},
};
_Static_assert(sizeof(nstypes) / sizeof(nstypes[0]) == NTYPES, "NTYPES counts nstypes");

int type_index(const char *name)
{
	for (size_t i = 0; i < NTYPES; i++)
		if (strcmp(nstypes[i].name, name) == 0) return (int)i;
	die("unknown namespace type %s", name);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(text);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len) die("write %s: %s", path, strerror(errno));
	close(fd);
}

static ino_t fd_inode(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0) die("fstat: %s", strerror(errno));
	return st.st_ino;
}

static int same_namespace(int fd, const char *own)
{
	struct stat a, b;

	if (fstat(fd, &a) < 0 || stat(own, &b) < 0) die("stat %s: %s", own, strerror(errno));
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Two passes, as nsenter: entering a user namespace first can deprive us of
 * the rights to enter the others (or be needed for them), so everything but
 * user goes first and whatever failed is retried after user. */
static void join_all(int fds[NTYPES])
{
	int self_user = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);

	if (fds[0] >= 0 && self_user >= 0 && fd_inode(fds[0]) == fd_inode(self_user)) {
		/* setns into one's own user namespace is EINVAL; it is a no-op anyway */
		close(fds[0]);
		fds[0] = -1;
	}
	if (self_user >= 0) close(self_user);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = pass ? 0 : 1; i < NTYPES; i++) {
			if (fds[i] < 0) continue;
			if (setns(fds[i], nstypes[i].flag) < 0) {
				if (pass == 1) die("setns(%s): %s", nstypes[i].name, strerror(errno));
				continue;
			}
			close(fds[i]);
			fds[i] = -1;
		}
	}
}

static void loopback_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0) die("socket: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) die("SIOCGIFFLAGS lo: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) die("bring lo up: %s", strerror(errno));
	close(s);
}

/* "0 UID 1": the caller is root inside, nobody else is mapped (unshare -r). */
static void map_root(uid_t uid, gid_t gid)
{
	char map[64];

	snprintf(map, sizeof(map), "0 %u 1", uid);
	write_file("/proc/self/uid_map", map);
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1", gid);
	write_file("/proc/self/gid_map", map);
}

/* Joins the namespaces nsxd opened; says whether a child must be forked to
 * be in them (a pid or time namespace applies to children only). */
int join_namespaces(struct request *req)
{
	/* Whether a joined pid or time namespace differs from ours must be known
	 * before joining: once in the target's mount namespace, its /proc is of
	 * another pid namespace and cannot tell us about ourselves. */
	int pid_fd = req->join_fds[type_index("pid")], time_fd = req->join_fds[type_index("time")];
	int other_pid = pid_fd >= 0 && !same_namespace(pid_fd, "/proc/self/ns/pid");
	int other_time = time_fd >= 0 && !same_namespace(time_fd, "/proc/self/ns/time");

	/* Supplementary groups are set while still root in our own user namespace:
	 * a joined one may deny setgroups, and then nothing would drop root's. */
	if (req->id.set && setgroups(req->id.ngroups, req->id.groups) < 0) die("setgroups: %s", strerror(errno));
	join_all(req->join_fds);
	exit_with_parent();
	return other_pid || other_time;
}

/* Fresh namespaces, set up as unshare(1) leaves them: loopback up, the
 * hostname set, mounts private. With --map-root the user (not root) makes
 * the user namespace and is root in it alone, as `unshare -r` does. */
void unshare_namespaces(struct request *req)
{
	int flags = req->unshare_flags;

	if (!flags) return;
	if (req->map_root) {
		become(&req->id);
		exit_with_parent();
		/* The maps under /proc/self are writable by a dumpable process only. */
		if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0) die("dumpable: %s", strerror(errno));
	}
	if (unshare(flags) < 0) die("unshare: %s", strerror(errno));
	if (req->map_root) {
		map_root(req->id.uid, req->id.gid);
		req->id.set = 0; /* already the user; root inside */
	}
	exit_with_parent();
	if (flags & CLONE_NEWNET) loopback_up();
	if (req->hostname && sethostname(req->hostname, strlen(req->hostname)) < 0)
		die("sethostname: %s", strerror(errno));
	if ((flags & CLONE_NEWNS) && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("make mounts private: %s", strerror(errno));
}
