/*
 * nsx-exec's last steps: the requesting user (groups, gid, uid, no
 * capability), the session and terminal, and the exec of the shell.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "exec.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

void parse_groups(struct identity *id, const char *list)
{
	char *copy = strdup(list), *save = NULL, *tok;

	if (!copy) die("out of memory");
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (id->ngroups >= NGROUPS_MAX) die("too many groups");
		id->groups[id->ngroups++] = (gid_t)number(tok, 0xfffffffe);
	}
	free(copy);
}

/* Become the requesting user (its groups are already set): gid, uid, then no
 * way back. A non-root user keeps no capability in any set (bounding set
 * dropped while we still may). The ids are those of the user namespace we are
 * in by now; nsxd translated them through the joined one's maps. */
void become(const struct identity *id)
{
	if (id->uid != 0) {
		/* Past the kernel's last capability PR_CAPBSET_DROP says EINVAL: up to 63 covers any kernel. */
		for (int cap = 0; cap < 64; cap++)
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
				die("drop capability %d: %s", cap, strerror(errno));
	}
	if (setresgid(id->gid, id->gid, id->gid) < 0)
		die("setgid(%u): %s%s", id->gid, strerror(errno),
		    errno == EINVAL ? " (the gid has no mapping in the target's user namespace)" : "");
	if (setresuid(id->uid, id->uid, id->uid) < 0)
		die("setuid(%u): %s%s", id->uid, strerror(errno),
		    errno == EINVAL ? " (the uid has no mapping in the target's user namespace)" : "");
	if (id->uid != 0) {
		struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
		struct __user_cap_data_struct data[2];

		memset(data, 0, sizeof(data));
		if (syscall(SYS_capset, &hdr, data) < 0) die("capset: %s", strerror(errno));
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
			die("clear ambient capabilities: %s", strerror(errno));
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("no_new_privs: %s", strerror(errno));
	}
}

/* The user, home, session and terminal of the shell; then only 0-2 stay
 * (the status fd closes on exec). */
void become_session_user(const struct request *req)
{
	if (req->id.set) become(&req->id);
	exit_with_parent();
	if (chdir(req->home) < 0 && chdir("/") < 0) die("chdir /: %s", strerror(errno));
	if (setsid() < 0) die("setsid: %s", strerror(errno));
	if (req->pty && ioctl(0, TIOCSCTTY, 0) < 0) die("controlling terminal: %s", strerror(errno));
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		for (int fd = 3; fd < 65536; fd++)
			if (fd != status_fd) close(fd);
}

/* --cat: the files, one after another, on stdout; 1 at the first that cannot be read whole (a read error too). */
static int cat(char **files)
{
	char buf[65536];
	ssize_t n;

	for (; *files; files++) {
		int fd = open(*files, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			dprintf(2, "%s: %s\n", *files, strerror(errno));
			return 1;
		}
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (write(1, buf, n) != n) return 1;
		if (n < 0) {
			dprintf(2, "%s: %s\n", *files, strerror(errno));
			return 1;
		}
		close(fd);
	}
	return 0;
}

/* The command, or the first login shell that exists in this mount namespace. */
void __attribute__((noreturn)) exec_shell(const struct request *req)
{
	if (req->command) {
		if (req->builtin_cat) {
			close(status_fd);
			_exit(cat(req->command));
		}
		execvp(req->command[0], req->command);
		die("%s: %s", req->command[0], strerror(errno));
	}
	for (size_t i = 0; i < req->nshells; i++) {
		if (access(req->shells[i], X_OK) == 0) {
			const char *base = strrchr(req->shells[i], '/');
			char argv0[256];

			snprintf(argv0, sizeof(argv0), "-%s", base ? base + 1 : req->shells[i]);
			setenv("SHELL", req->shells[i], 1);
			execl(req->shells[i], argv0, (char *)NULL);
		}
	}
	die("no shell found in the target's mount namespace (tried %zu)", req->nshells);
}
