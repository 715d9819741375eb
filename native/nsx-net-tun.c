/*
 * Who holds each tun/tap device: every fd on /dev/net/tun (read from
 * /proc/PID/fd, at most max_fds of them in all), its device's name from
 * fdinfo's "iff:" line, and its device's namespace from TUNGETDEVNETNS on a
 * copy of that fd (pidfd_getfd), closed at once. A device may live in
 * another namespace than its holder (slirp4netns, pasta): the name alone
 * would not say which.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nsx-net.h"

#ifndef TUNGETDEVNETNS
#define TUNGETDEVNETNS _IO('T', 227)
#endif

/* The name after "iff:" in /proc/PID/fdinfo/FD, or nothing (a tun fd not attached to a device). */
static int tun_name(int pid, int fd, char name[64])
{
	char path[64], buf[1024], *p, *end;
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0) return -1;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0) return -1;
	buf[n] = 0;
	p = strstr(buf, "\niff:");
	if (!p) return -1;
	p += 5;
	while (*p == '\t' || *p == ' ') p++;
	end = strchr(p, '\n');
	if (!end || end == p || end - p >= 64) return -1;
	memcpy(name, p, (size_t)(end - p));
	name[end - p] = 0;
	return 0;
}

/* The inode of the namespace the device of PID's fd lives in; 0 if it cannot be had. */
static unsigned long tun_netns(int pid, int fd)
{
	struct stat st;
	unsigned long ino = 0;
	int pidfd, copy, ns;

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) return 0;
	copy = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	close(pidfd);
	if (copy < 0) return 0;
	ns = ioctl(copy, TUNGETDEVNETNS);
	close(copy);
	if (ns < 0) return 0;
	if (fstat(ns, &st) == 0) ino = (unsigned long)st.st_ino;
	close(ns);
	return ino;
}

static unsigned scan_pid(int pid, tun_found found, void *ctx, unsigned budget)
{
	char path[64], target[32], name[64];
	struct dirent *e;
	unsigned used = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d) return 0;
	while (used < budget && (e = readdir(d))) {
		ssize_t n;
		unsigned long ino;
		int fd;

		if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
		used++;
		n = readlinkat(dirfd(d), e->d_name, target, sizeof(target) - 1);
		if (n != 12 || memcmp(target, "/dev/net/tun", 12) != 0) continue;
		fd = atoi(e->d_name);
		if (tun_name(pid, fd, name) < 0) continue;
		ino = tun_netns(pid, fd);
		if (ino) found(ctx, ino, name, pid);
	}
	closedir(d);
	return used;
}

void tun_scan(tun_found found, void *ctx, unsigned max_fds)
{
	struct dirent *e;
	unsigned used = 0;
	DIR *proc = opendir("/proc");

	if (!proc) return;
	while (used < max_fds && (e = readdir(proc))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end || pid <= 0) continue;
		used += scan_pid((int)pid, found, ctx, max_fds - used);
	}
	closedir(proc);
}
