/*
 * nsx-capture's last confinement, once its sockets are bound: a seccomp
 * filter that lets it read packets, wait, and write to its output and status
 * fds alone. Its packet sockets could send as well as receive (CAP_NET_RAW
 * is checked when a socket is made, not when it is used): no send, sendmsg,
 * sendto or write to them gets through, so that even a subverted capturer
 * cannot put a frame on a wire. Anything not listed fails with EPERM; a
 * system call of another ABI (x32, i386 on x86-64) kills it.
 */
#ifndef NSX_CAPTURE_SECCOMP_H
#define NSX_CAPTURE_SECCOMP_H

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define NSX_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NSX_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#define NR_OFFSET   offsetof(struct seccomp_data, nr)
#define ARCH_OFFSET offsetof(struct seccomp_data, arch)
#define ARG0_OFFSET offsetof(struct seccomp_data, args[0])
#define ALLOW(nr)   BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static void confine(int out_fd, int status)
{
#ifdef NSX_AUDIT_ARCH
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARCH_OFFSET),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NSX_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR_OFFSET),
#ifdef __x86_64__
		/* x32's numbers have bit 30 set. */
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
#endif
		/* write: to the output, the status fd, or stderr (where a failure goes if status cannot take it). */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_write, 0, 6),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_OFFSET),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)out_fd, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)status, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 2, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		ALLOW(SYS_recvmsg),
		ALLOW(SYS_epoll_pwait),
		ALLOW(SYS_epoll_ctl),
		ALLOW(SYS_getsockopt),
		ALLOW(SYS_getsockname),
		ALLOW(SYS_clock_gettime),
		ALLOW(SYS_rt_sigreturn),
		ALLOW(SYS_brk),
		ALLOW(SYS_mmap),
		ALLOW(SYS_munmap),
		ALLOW(SYS_madvise),
		ALLOW(SYS_exit),
		ALLOW(SYS_exit_group),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_fprog prog = {(unsigned short)(sizeof(filter) / sizeof(filter[0])), filter};

	/* no_new_privs is set already (drop_privileges), as an unprivileged filter needs. */
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0) die("seccomp: %s", strerror(errno));
#else
	(void)out_fd;
	(void)status;
#endif
}

#endif
