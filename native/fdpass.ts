// The libc calls that Node does not offer, for fds between nsxd and its
// helpers: socketpairs (SOCK_SEQPACKET, one end for nsx-connect or the
// session spawner, one kept by nsxd; SOCK_STREAM, whose nsxd end Node reads
// as a socket), recvmsg with SCM_RIGHTS, to take the sockets nsx-connect
// makes inside a namespace, and sendmsg with them, to hand the spawner a
// supervisor's fds. Node's own streams read with read(2), which would drop them.
// This module imports nothing of ours but libc.ts's ErrnoError.
import koffi from 'koffi';
import { ErrnoError } from './libc';

const libc = koffi.load('libc.so.6');

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_SEQPACKET = 5;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const MSG_CTRUNC = 0x8;
const MSG_CMSG_CLOEXEC = 0x40000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const EAGAIN = 11;

koffi.struct('nsx_iovec', { iov_base: 'void *', iov_len: 'size_t' });
koffi.struct('nsx_msghdr', {
  msg_name: 'void *',
  msg_namelen: 'uint32_t',
  msg_iov: 'nsx_iovec *',
  msg_iovlen: 'size_t',
  msg_control: 'void *',
  msg_controllen: 'size_t',
  msg_flags: 'int',
});
const socketpairRaw = libc.func('int socketpair(int domain, int type, int protocol, _Out_ int *sv)');
const recvmsgRaw = libc.func('intptr_t recvmsg(int fd, _Inout_ nsx_msghdr *msg, int flags)');
const sendmsgRaw = libc.func('intptr_t sendmsg(int fd, nsx_msghdr *msg, int flags)');
const closeRaw = libc.func('int close(int fd)');

function errno(call: string): ErrnoError {
  const no = koffi.errno();
  return new ErrnoError(call, no, `E${no}`);
}

/** Two connected SOCK_SEQPACKET Unix sockets, both close-on-exec. */
export function seqpacketPair(): [number, number] {
  return socketpair(SOCK_SEQPACKET);
}

/** Two connected SOCK_STREAM Unix sockets, both close-on-exec. */
export function streamPair(): [number, number] {
  return socketpair(SOCK_STREAM);
}

function socketpair(type: number): [number, number] {
  const sv = [0, 0];
  if (socketpairRaw(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) < 0) throw errno('socketpair');
  return [sv[0], sv[1]];
}

/** A struct msghdr for koffi: one buffer of data and one of control messages. */
function msghdr(data: Buffer, control: Buffer) {
  return {
    msg_name: null,
    msg_namelen: 0,
    msg_iov: [{ iov_base: data, iov_len: data.length }],
    msg_iovlen: 1,
    msg_control: control,
    msg_controllen: control.length,
    msg_flags: 0,
  };
}

/** One message of DATA with FDS (at most 64) as SCM_RIGHTS, whole or not at all (a SOCK_SEQPACKET socket). */
export function sendWithFds(fd: number, data: Buffer, fds: number[]): void {
  const control = Buffer.alloc(16 + ((fds.length * 4 + 7) & ~7));
  control.writeBigUInt64LE(BigInt(16 + fds.length * 4), 0);
  control.writeInt32LE(SOL_SOCKET, 8);
  control.writeInt32LE(SCM_RIGHTS, 12);
  fds.forEach((f, i) => control.writeInt32LE(f, 16 + i * 4));
  const msg = msghdr(data, control);
  const n = Number(sendmsgRaw(fd, msg, MSG_DONTWAIT | MSG_NOSIGNAL));
  if (n < 0) throw errno('sendmsg');
  if (n !== data.length) throw new Error('sendmsg sent part of a message');
}

/**
 * One message with one fd: the 8-byte id it carries and the fd (close-on-exec
 * as it arrives). undefined when none is waiting. Any other fds that came
 * with it are closed; a message without an fd is an error.
 */
export function receiveFd(fd: number): { id: number; fd: number } | undefined {
  const data = Buffer.alloc(8);
  const control = Buffer.alloc(64);
  const msg = msghdr(data, control);
  const n = Number(recvmsgRaw(fd, msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC));
  if (n < 0) {
    if (koffi.errno() === EAGAIN) return undefined;
    throw errno('recvmsg');
  }
  const fds = rights(control, Number(msg.msg_controllen));
  if (n !== 8 || fds.length !== 1 || (msg.msg_flags & MSG_CTRUNC) !== 0) {
    for (const f of fds) closeRaw(f);
    throw new Error('nsx-connect sent a message that is not one socket');
  }
  return { id: Number(data.readBigUInt64LE(0)), fd: fds[0] };
}

/** The fds of the SCM_RIGHTS messages among control's first `length` bytes. */
function rights(control: Buffer, length: number): number[] {
  const fds: number[] = [];
  // struct cmsghdr on 64-bit Linux: size_t cmsg_len, int cmsg_level, int cmsg_type, then the data, 8-aligned.
  for (let off = 0; off + 16 <= length;) {
    const len = Number(control.readBigUInt64LE(off));
    if (len < 16 || off + len > length) break;
    if (control.readInt32LE(off + 8) === SOL_SOCKET && control.readInt32LE(off + 12) === SCM_RIGHTS)
      for (let p = off + 16; p + 4 <= off + len; p += 4) fds.push(control.readInt32LE(p));
    off += (len + 7) & ~7;
  }
  return fds;
}

export function closeFd(fd: number): void {
  closeRaw(fd);
}
