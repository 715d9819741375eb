/*
 * nsx-exec: the single-threaded launcher of every session (started by the
 * session's supervisor, nsx-session) and of what nsxd does inside namespaces
 * for one request alone (namespaces/create, --cat: started by nsxd itself).
 *
 * nsxd is a Node process, so it is multi-threaded and may never setns() or
 * unshare() itself (setns into a mnt or user namespace fails with EINVAL in a
 * multi-threaded process, and any switch would move one thread only). It
 * opens and checks the namespace fds, then hands them to this program, which
 * does the privileged steps in the careful order util-linux nsenter/unshare
 * use, drops to the requesting user, and execs the shell.
 *
 * Only nsxd runs it, itself or through nsx-session, which hands nsxd's
 * arguments and fds on unchanged; it trusts its arguments but still checks them.
 * Errors before exec are written to --status-fd as "E<message>" and exit 125;
 * a successful exec closes that fd with nothing written (it is O_CLOEXEC).
 *
 *   nsx-exec [--join TYPE:FD]... [--unshare TYPE]...
 *            [--map-root] [--hostname NAME] [--mount-proc] [--hold]
 *            [--uid N --gid N --groups G,G,...] [--pty] [--home DIR]
 *            [--shell PATH]... --status-fd FD [-- COMMAND ARGS...]
 *            [--cat -- FILE...]   (print files from inside, with no binary needed there)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"

int status_fd = -1;

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	die_status(status_fd, "nsx-exec", fmt, ap);
}

long number(const char *s, long max)
{
	long v;

	if (!parse_number(s, max, &v)) die("bad number %s", s);
	return v;
}

/* --join TYPE:FD */
static void parse_join(struct request *req, char *arg)
{
	char *colon = strchr(arg, ':');

	if (!colon) die("--join wants TYPE:FD");
	*colon = '\0';
	req->join_fds[type_index(arg)] = (int)number(colon + 1, 1 << 20);
}

/* What no request may ask for, whatever nsxd meant. */
static void check_request(const struct request *req)
{
	if (req->id.set && req->id.uid != 0)
		for (size_t i = 0; i < req->id.ngroups; i++)
			if (req->id.groups[i] == 0) die("group 0 is root's: it never reaches a non-root shell");
	if (req->map_root && (!req->id.set || !(req->unshare_flags & CLONE_NEWUSER)))
		die("--map-root needs --uid and --unshare user");
}

static const struct option options[] = {
	{"join", required_argument, 0, 'j'},
	{"unshare", required_argument, 0, 'n'},
	{"map-root", no_argument, 0, 'r'},
	{"hostname", required_argument, 0, 'h'},
	{"mount-proc", no_argument, 0, 'p'},
	{"hold", no_argument, 0, 'H'},
	{"uid", required_argument, 0, 'u'},
	{"gid", required_argument, 0, 'g'},
	{"groups", required_argument, 0, 'G'},
	{"pty", no_argument, 0, 't'},
	{"home", required_argument, 0, 'd'},
	{"shell", required_argument, 0, 's'},
	{"status-fd", required_argument, 0, 'S'},
	{"cat", no_argument, 0, 'C'},
	{0, 0, 0, 0},
};

static void parse_args(int argc, char **argv, struct request *req)
{
	int opt, have_uid = 0, have_gid = 0;

	memset(req, 0, sizeof(*req));
	req->home = "/";
	for (size_t i = 0; i < NTYPES; i++) req->join_fds[i] = -1;
	while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		switch (opt) {
		case 'j': parse_join(req, optarg); break;
		case 'n': req->unshare_flags |= nstypes[type_index(optarg)].flag; break;
		case 'r': req->map_root = 1; break;
		case 'h': req->hostname = optarg; break;
		case 'p': req->mount_proc = 1; break;
		case 'H': req->hold = 1; break;
		case 'u':
			req->id.uid = (uid_t)number(optarg, 0xfffffffe);
			have_uid = 1;
			break;
		case 'g':
			req->id.gid = (gid_t)number(optarg, 0xfffffffe);
			have_gid = 1;
			break;
		case 'G': parse_groups(&req->id, optarg); break;
		case 't': req->pty = 1; break;
		case 'd': req->home = optarg; break;
		case 's':
			if (req->nshells < sizeof(req->shells) / sizeof(req->shells[0]))
				req->shells[req->nshells++] = optarg;
			break;
		case 'S': status_fd = (int)number(optarg, 1 << 20); break;
		case 'C': req->builtin_cat = 1; break;
		default: die("bad arguments");
		}
	}
	if (have_uid != have_gid) die("--uid and --gid go together");
	req->id.set = have_uid;
	check_request(req);
	req->command = optind < argc ? argv + optind : NULL;
}

/*
 * The order of the steps, and where it differs from util-linux:
 *  - fds are closed first (nsenter and unshare keep what they inherit): a
 *    session's processes may belong to the user, who can take any fd they
 *    hold with pidfd_getfd.
 *  - groups are set before joining, not after as nsenter -G does: a joined
 *    user namespace may deny setgroups, which would leave root's groups.
 *  - the parent-death signal is set again after every credential change and
 *    fork (the kernel clears it), so nothing of a session outlives its
 *    supervisor nsx-session (which itself outlives nsxd, by design).
 *  - the uid/gid drop comes after the fork, as nsenter -S does, so the
 *    supervisor of a joined session stays root and the user cannot reach it;
 *    only --map-root drops before unsharing, as unshare -r must.
 */
int main(int argc, char **argv)
{
	struct request req;
	int joined_other;

	parse_args(argc, argv, &req);
	close_inherited(&req);
	joined_other = join_namespaces(&req);
	unshare_namespaces(&req);
	if (req.hold) hold();
	fork_into_namespaces(&req, joined_other);
	become_session_user(&req);
	exec_shell(&req);
}
