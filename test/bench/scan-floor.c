/*
 * The floor for a namespace scan: what a plain C program spends to read
 * every /proc/PID/ns/TYPE inode (openat + fstatat) and count the distinct
 * namespaces. npm run bench compares nsxd's full namespaces/list with it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *types[] = {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"};

static int cmp(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
	return x < y ? -1 : x > y;
}

int main(void)
{
	struct timespec t0, t1;
	size_t n = 0, cap = 1 << 16, distinct = 0, procs = 0;
	unsigned long *inodes = malloc(cap * sizeof(*inodes));
	DIR *proc;
	struct dirent *de;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	proc = opendir("/proc");
	if (!proc || !inodes) return 1;
	while ((de = readdir(proc))) {
		char path[64];
		int ns;

		if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
		snprintf(path, sizeof(path), "%s/ns", de->d_name);
		ns = openat(dirfd(proc), path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (ns < 0) continue;
		procs++;
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
			struct stat st;

			if (fstatat(ns, types[i], &st, 0) < 0) continue;
			if (n == cap) inodes = realloc(inodes, (cap *= 2) * sizeof(*inodes));
			inodes[n++] = st.st_ino;
		}
		close(ns);
	}
	closedir(proc);
	qsort(inodes, n, sizeof(*inodes), cmp);
	for (size_t i = 0; i < n; i++) distinct += i == 0 || inodes[i] != inodes[i - 1];
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%zu %zu %.3f\n", procs, distinct, (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	return 0;
}
