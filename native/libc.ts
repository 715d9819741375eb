// Typed bindings to the few libc calls Node does not expose: SO_PEERCRED,
// the nsfs ioctls, pty ioctls, mount(2) and the host's user database (NSS).
// Every function throws an ErrnoError on failure, so callers never see -1.
// This module imports nothing of ours.
import { closeSync } from 'node:fs';
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');

export class ErrnoError extends Error {
  constructor(
    readonly call: string,
    readonly errno: number,
    readonly code: string,
  ) {
    super(`${call}: ${code} (${describeErrno(errno)})`);
  }
}

const errnoNames = new Map<number, string>(
  Object.entries(koffi.os.errno as Record<string, number>).map(([name, no]) => [no, name]),
);
const strerror = libc.func('const char *strerror(int errnum)');

function describeErrno(errno: number): string {
  return String(strerror(errno));
}

export function check(call: string, result: number): number {
  if (result < 0) {
    const errno = koffi.errno();
    throw new ErrnoError(call, errno, errnoNames.get(errno) ?? `E${errno}`);
  }
  return result;
}

const closeRangeRaw = libc.func('int close_range(unsigned int first, unsigned int last, unsigned int flags)');
const ioctlRaw = libc.func('int ioctl(int fd, unsigned long request, ...)');
const getsockoptRaw = libc.func(
  'int getsockopt(int fd, int level, int name, _Out_ uint8_t *value, _Inout_ uint32_t *len)',
);
const mountRaw = libc.func(
  'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
);
const umount2Raw = libc.func('int umount2(const char *target, int flags)');
const malloptRaw = libc.func('int mallopt(int param, int value)');
const socketRaw = libc.func('int socket(int domain, int type, int protocol)');
const bindRaw = libc.func('int bind(int fd, const uint8_t *addr, uint32_t len)');
const sendRaw = libc.func('intptr_t send(int fd, const uint8_t *buf, size_t len, int flags)');
const recvRaw = libc.func('intptr_t recv(int fd, _Out_ uint8_t *buf, size_t len, int flags)');
const setsockoptRaw = libc.func('int setsockopt(int fd, int level, int name, const uint8_t *value, uint32_t len)');
const getgrouplistRaw = libc.func(
  'int getgrouplist(const char *user, uint32_t group, _Out_ uint32_t *groups, _Inout_ int *ngroups)',
);

koffi.struct('nsx_passwd', {
  pw_name: 'const char *',
  pw_passwd: 'const char *',
  pw_uid: 'uint32_t',
  pw_gid: 'uint32_t',
  pw_gecos: 'const char *',
  pw_dir: 'const char *',
  pw_shell: 'const char *',
});
koffi.struct('nsx_group', {
  gr_name: 'const char *',
  gr_passwd: 'const char *',
  gr_gid: 'uint32_t',
  gr_mem: 'void *',
});
const getpwuidR = libc.func(
  'int getpwuid_r(uint32_t uid, _Out_ nsx_passwd *pwd, uint8_t *buf, size_t buflen, _Out_ void **result)',
);
const getgrnamR = libc.func(
  'int getgrnam_r(const char *name, _Out_ nsx_group *grp, uint8_t *buf, size_t buflen, _Out_ void **result)',
);

// <linux/nsfs.h>: _IO(0xb7, n)
const NS_GET_USERNS = 0xb701;
const NS_GET_PARENT = 0xb702;
const NS_GET_NSTYPE = 0xb703;
const NS_GET_OWNER_UID = 0xb704;
// _IOR(0xb7, 5, __u64)
const NS_GET_MNTNS_ID = 0x8008b705;
// <asm-generic/ioctls.h>
const TIOCSPTLCK = 0x40045431;
const TIOCGPTPEER = 0x5441;

export const SOL_SOCKET = 1;
export const SO_PEERCRED = 17;

export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MS_SHARED = 1 << 20;
export const MS_PRIVATE = 1 << 18;
export const MNT_DETACH = 0x2;
export const UMOUNT_NOFOLLOW = 0x8;

export const O_RDWR = 0o2;
/** Names a file without opening it: no device open, no FIFO wait, no controlling terminal. */
export const O_PATH = 0o10000000;
export const O_NOCTTY = 0o400;
export const O_CLOEXEC = 0o2000000;
const CLOSE_RANGE_CLOEXEC = 1 << 2;

/** CLONE_NEW* values, as NS_GET_NSTYPE returns them. */
export const CLONE_NEW = {
  cgroup: 0x02000000,
  ipc: 0x08000000,
  mnt: 0x00020000,
  net: 0x40000000,
  pid: 0x20000000,
  time: 0x00000080,
  user: 0x10000000,
  uts: 0x04000000,
} as const;

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** The credentials the kernel recorded for the peer of a connected Unix socket. */
export function peerCred(fd: number): PeerCred {
  const buf = Buffer.alloc(12);
  const len = [12];
  check('getsockopt(SO_PEERCRED)', getsockoptRaw(fd, SOL_SOCKET, SO_PEERCRED, buf, len));
  return { pid: buf.readInt32LE(0), uid: buf.readUInt32LE(4), gid: buf.readUInt32LE(8) };
}

/**
 * A net.Socket's fd. Node keeps it on its private handle and offers no way
 * to it: this is the one place that reaches in.
 */
function socketFd(socket: unknown): number {
  const fd = (socket as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the socket has no fd');
  return fd;
}

/** The credentials of the peer of a connected net.Socket. */
export function socketPeerCred(socket: unknown): PeerCred {
  return peerCred(socketFd(socket));
}

const SO_SNDBUFFORCE = 32;

/** A socket's send buffer, past the system's cap (root alone may): how much may wait for its reader. */
export function setSendBuffer(socket: unknown, bytes: number): void {
  const value = Buffer.alloc(4);
  value.writeInt32LE(bytes);
  check('setsockopt(SO_SNDBUFFORCE)', setsockoptRaw(socketFd(socket), SOL_SOCKET, SO_SNDBUFFORCE, value, 4));
}

/** Marks every fd from `first` up close-on-exec: what a process inherited must not reach what it starts. */
export function cloexecFrom(first: number): void {
  check('close_range(CLOSE_RANGE_CLOEXEC)', closeRangeRaw(first, 0xffffffff, CLOSE_RANGE_CLOEXEC));
}

/** NS_GET_USERNS: a new fd (the kernel makes it close-on-exec) for the user namespace that owns the namespace behind fd. */
export function nsGetUserns(fd: number): number {
  return check('ioctl(NS_GET_USERNS)', ioctlRaw(fd, NS_GET_USERNS));
}

/** NS_GET_PARENT: a new fd (close-on-exec) for the parent of a pid or user namespace. */
export function nsGetParent(fd: number): number {
  return check('ioctl(NS_GET_PARENT)', ioctlRaw(fd, NS_GET_PARENT));
}

/** NS_GET_NSTYPE: the CLONE_NEW* constant of the namespace behind fd. */
export function nsGetNstype(fd: number): number {
  return check('ioctl(NS_GET_NSTYPE)', ioctlRaw(fd, NS_GET_NSTYPE));
}

/** NS_GET_OWNER_UID: the uid (in the caller's user namespace) that created a user namespace. */
export function nsGetOwnerUid(fd: number): number {
  const out = Buffer.alloc(4);
  check('ioctl(NS_GET_OWNER_UID)', ioctlRaw(fd, NS_GET_OWNER_UID, 'uint8_t *', out));
  return out.readUInt32LE(0);
}

/** <malloc.h>: mallopt's parameters. */
export const M_TRIM_THRESHOLD = -1;
export const M_MMAP_THRESHOLD = -3;

/** mallopt(3): glibc's allocator tuned; it returns 1 on success, 0 on failure (no errno). */
export function mallopt(param: number, value: number): boolean {
  return malloptRaw(param, value) === 1;
}

/** NS_GET_MNTNS_ID (Linux 6.11): a mount namespace's 64-bit id, never reused, as listmount takes it (mounts.ts). */
export function nsGetMntnsId(fd: number): bigint {
  const out = Buffer.alloc(8);
  check('ioctl(NS_GET_MNTNS_ID)', ioctlRaw(fd, NS_GET_MNTNS_ID, 'uint8_t *', out));
  return out.readBigUInt64LE(0);
}

/**
 * Unlocks a /dev/ptmx master and opens its peer by fd, never by a path that
 * could be swapped (the benchmark's raw pty; sessions' ptys are their
 * supervisors'). The peer is close-on-exec.
 */
export function openPtyPeer(masterFd: number): number {
  const zero = Buffer.alloc(4);
  check('ioctl(TIOCSPTLCK)', ioctlRaw(masterFd, TIOCSPTLCK, 'uint8_t *', zero));
  return check('ioctl(TIOCGPTPEER)', ioctlRaw(masterFd, TIOCGPTPEER, 'int', O_RDWR | O_NOCTTY | O_CLOEXEC));
}

export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null = null,
): void {
  check(`mount(${target})`, mountRaw(source, target, fstype, flags, data));
}

export function umount2(target: string, flags: number): void {
  check(`umount2(${target})`, umount2Raw(target, flags));
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

const NSS_BUF = 16384;

function passwdResult(
  call: string,
  rc: number,
  pwd: Record<string, unknown>,
  result: unknown[],
): PasswdEntry | undefined {
  if (rc !== 0) throw new ErrnoError(call, rc, errnoNames.get(rc) ?? `E${rc}`);
  if (!result[0]) return undefined;
  return {
    name: String(pwd.pw_name),
    uid: Number(pwd.pw_uid),
    gid: Number(pwd.pw_gid),
    home: String(pwd.pw_dir ?? '/'),
    shell: String(pwd.pw_shell ?? ''),
  };
}

/** The host's passwd entry for uid, through NSS (so LDAP/sssd users are found too). */
export function getpwuid(uid: number): PasswdEntry | undefined {
  const pwd = {};
  const result = [null];
  return passwdResult('getpwuid_r', getpwuidR(uid, pwd, Buffer.alloc(NSS_BUF), NSS_BUF, result), pwd, result);
}

export function getgrnam(name: string): { name: string; gid: number } | undefined {
  const grp: Record<string, unknown> = {};
  const result = [null];
  const rc = getgrnamR(name, grp, Buffer.alloc(NSS_BUF), NSS_BUF, result);
  if (rc !== 0) throw new ErrnoError('getgrnam_r', rc, errnoNames.get(rc) ?? `E${rc}`);
  return result[0] ? { name: String(grp.gr_name), gid: Number(grp.gr_gid) } : undefined;
}

/** Every gid the host's user database gives a user: primary and supplementary. */
export function getgrouplist(user: string, primaryGid: number): number[] {
  let size = 64;
  for (;;) {
    const groups = Buffer.alloc(size * 4);
    const n = [size];
    if (getgrouplistRaw(user, primaryGid, groups, n) >= 0) {
      return Array.from({ length: n[0] }, (_, i) => groups.readUInt32LE(i * 4));
    }
    if (n[0] <= size) throw new Error(`getgrouplist(${user}) failed`);
    size = n[0];
  }
}

// ---- the proc connector: the kernel's fork, exec and exit events ---------

const AF_NETLINK = 16;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_CONNECTOR = 11;
const CN_IDX_PROC = 1;
const CN_VAL_PROC = 1;
const PROC_CN_MCAST_LISTEN = 1;
const NLMSG_DONE = 3;
const SO_RCVTIMEO = 20;
/** What `what` of a proc_event is, for the events nsxd cares about (<linux/cn_proc.h>). */
export const PROC_EVENT = { FORK: 0x1, EXEC: 0x2, UID: 0x4, COMM: 0x200, EXIT: 0x80000000 } as const;

/**
 * A netlink socket subscribed to the proc connector (root only), with a
 * receive timeout so that a reader blocked in recv on another thread notices
 * when it should stop. Close-on-exec, like every fd nsxd makes.
 */
export function openProcEvents(timeoutMs: number): number {
  const fd = check('socket(NETLINK_CONNECTOR)', socketRaw(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR));
  try {
    const addr = Buffer.alloc(12); // sockaddr_nl: family, pad, pid (0: the kernel picks), groups
    addr.writeUInt16LE(AF_NETLINK, 0);
    addr.writeUInt32LE(CN_IDX_PROC, 8);
    check('bind(NETLINK_CONNECTOR)', bindRaw(fd, addr, addr.length));
    const tv = Buffer.alloc(16); // struct timeval
    tv.writeBigInt64LE(BigInt(Math.floor(timeoutMs / 1000)), 0);
    tv.writeBigInt64LE(BigInt((timeoutMs % 1000) * 1000), 8);
    check('setsockopt(SO_RCVTIMEO)', setsockoptRaw(fd, SOL_SOCKET, SO_RCVTIMEO, tv, tv.length));
    // nlmsghdr (16) + cn_msg (20) + the op (4): PROC_CN_MCAST_LISTEN
    const msg = Buffer.alloc(40);
    msg.writeUInt32LE(40, 0);
    msg.writeUInt16LE(NLMSG_DONE, 4);
    msg.writeUInt32LE(CN_IDX_PROC, 16);
    msg.writeUInt32LE(CN_VAL_PROC, 20);
    msg.writeUInt16LE(4, 32);
    msg.writeUInt32LE(PROC_CN_MCAST_LISTEN, 36);
    check('send(PROC_CN_MCAST_LISTEN)', Number(sendRaw(fd, msg, msg.length, 0)));
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** One proc_event: what happened, to which process, and where it stands in its CPU's sequence. */
export interface ProcEvent {
  what: number;
  cpu: number;
  /** Each CPU numbers the events it sends: a gap means some were lost (the socket's buffer overran). */
  seq: number;
  /** The thread group (process) it concerns; 0 when the event is about a thread other than the group's leader. */
  pid: number;
}

/**
 * The next datagram's events, read on a koffi worker thread so nsxd's event
 * loop never blocks; [] when nothing came within the receive timeout.
 */
export function readProcEvents(fd: number, buf: Buffer): Promise<ProcEvent[]> {
  return new Promise((resolve, reject) => {
    recvRaw.async(fd, buf, buf.length, 0, (err: Error | null, n: number | bigint) => {
      if (err) return reject(err);
      const len = Number(n);
      // The receive timeout, or an overrun (errno is another thread's here, so both read alike): the next event's seq tells of the loss.
      if (len < 0) return resolve([]);
      const events: ProcEvent[] = [];
      // Each netlink message: nlmsghdr (16); cn_msg (20: id, seq at 8, ack, len, flags); proc_event: what, cpu,
      // timestamp (8), then per kind pids as pid_t pairs (thread, group): fork's parent then child, the others' process.
      for (let off = 0; off + 16 <= len;) {
        const msgLen = buf.readUInt32LE(off);
        // Every proc_event's union is at least fork's two pairs long: a shorter message is not one.
        if (msgLen < 68 || off + msgLen > len) break;
        const what = buf.readUInt32LE(off + 36);
        const data = off + 52;
        const [thread, group] = what === PROC_EVENT.FORK ? [data + 8, data + 12] : [data, data + 4];
        const pid = buf.readInt32LE(thread) === buf.readInt32LE(group) ? buf.readInt32LE(group) : 0;
        events.push({ what, cpu: buf.readUInt32LE(off + 40), seq: buf.readUInt32LE(off + 24), pid });
        off += (msgLen + 3) & ~3;
      }
      resolve(events);
    });
  });
}
