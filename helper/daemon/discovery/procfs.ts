// How nsxd reads /proc: a small file whole, a namespace link, a stat line,
// the pids, and a scan's reads of one process through the fd of its
// /proc/PID (native/procAt.ts: the *at calls, a shorter path walk a read and
// no string made for a link that is not wanted). Synchronous on purpose:
// /proc answers from memory, a system call is the fastest way to ask it,
// and the scanner shares nsxd's thread by taking a few milliseconds at a time.
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import * as procAt from '../../../native/procAt';
import { NSTYPES, NsType } from '../../common/protocol';

export const NSFS_LINK = /^(\w+):\[(\d+)\]$/;

/** What a link is read into: an nsfs link is short, a longer one is no namespace. */
const link = Buffer.allocUnsafe(256);

/** The namespace types this kernel has (time needs Linux 5.6). */
export const KERNEL_NSTYPES: NsType[] = NSTYPES.filter((t) => readNsLink(`/proc/self/ns/${t}`) !== undefined);

/** A namespace link, as /proc/PID/ns/net or an fd to nsfs: its type and inode; undefined if it is none (or gone). */
export function readNsLink(path: string): [string, number] | undefined {
  return readNsLinkAt(procAt.AT_FDCWD, path);
}

/** The link NAME of the directory DIR (an fd folder), if it is a namespace's: its type and inode. */
export function readNsLinkAt(dir: number, name: string): [string, number] | undefined {
  const n = readNsfsLink(dir, name);
  const m = n > 0 ? NSFS_LINK.exec(link.toString('latin1', 0, n)) : null;
  return m ? [m[1], Number(m[2])] : undefined;
}

/**
 * The inode of the namespace link NAME (ns/net, which reads
 * `net:[4026531840]`) of the process directory DIR; undefined if it is gone.
 */
export function readNsInodeAt(dir: number, name: string): number | undefined {
  const n = readNsfsLink(dir, name);
  if (n <= 0) return undefined;
  let i = 0;
  while (i < n && link[i] !== 91) i++;
  let inode = 0;
  for (i++; i < n - 1; i++) inode = inode * 10 + link[i] - 48;
  return inode;
}

/**
 * The link NAME of DIR into `link`, if it ends as nsfs's do: its length, or 0.
 * Most fds are files ('/…'), sockets and pipes: only such a link is made a string.
 */
function readNsfsLink(dir: number, name: string): number {
  const n = procAt.readlinkAt(dir, name, link);
  return n > 0 && n < link.length && link[n - 1] === 93 ? n : 0;
}

/** linux_dirent64 records of a listing. */
const dirents = Buffer.allocUnsafe(16 * 1024);

/**
 * The lowest MAX fds of the fd folder DIR (/proc/PID/fd; the kernel lists
 * them in order), and how many more it holds: since Linux 6.2 the folder's
 * size says; before it is 0, and one more entry read says there is at least one.
 */
export function listFdsAt(dir: number, max: number): { fds: number[]; unread: number } {
  const fds: number[] = [];
  for (let n; (n = procAt.getdents64(dir, dirents)) > 0;) {
    for (let at = 0, size; at < n; at += size) {
      size = dirents.readUInt16LE(at + procAt.DIRENT_RECLEN);
      if (size === 0) return { fds, unread: 0 }; // never from a kernel; no loop without end if it were
      let i = at + procAt.DIRENT_NAME;
      if (dirents[i] === 46) continue; // . and ..
      let fd = 0;
      for (; i < at + size && dirents[i] !== 0; i++) fd = fd * 10 + dirents[i] - 48;
      if (fds.length === max) return { fds, unread: Math.max(1, procAt.sizeOf(dir) - max) };
      fds.push(fd);
    }
  }
  return { fds, unread: 0 };
}

/**
 * The fields of /proc/PID/stat a scan needs. comm may hold spaces and
 * parentheses: it runs from the first '(' to the last ')'. Where the
 * arguments start is a number: as a string (15 digits) it would be a slice
 * of the line, and keep the whole line alive with it in a scan's cache.
 */
export function parseStat(text: string): {
  comm: string;
  state: string;
  ppid: number;
  flags: number;
  starttime: string;
  argStart?: number;
} {
  const close = text.lastIndexOf(')');
  // Field N of proc(5) is the (N - 3)th after comm; cut out the five a scan needs, not all 52 (a string each).
  const field: string[] = [];
  for (let i = 0, from = close + 2; i <= 45 && from > 0; i++) {
    const to = text.indexOf(' ', from);
    if (i === 0 || i === 1 || i === 6 || i === 19 || i === 45) field[i] = text.slice(from, to < 0 ? undefined : to);
    from = to + 1;
  }
  return {
    comm: text.slice(text.indexOf('(') + 1, close),
    state: field[0],
    ppid: Number(field[1]),
    flags: Number(field[6]),
    starttime: field[19],
    argStart: field[45] === undefined ? undefined : Number(field[45]),
  };
}

/** The flag of /proc/PID/stat that marks a kernel thread. */
export const PF_KTHREAD = 0x00200000;

/** The pids in /proc, in order. Threads are not listed there, only thread-group leaders. */
export function listPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57) pids.push(Number(name));
  }
  return pids;
}

// One buffer for every small /proc file: open, read, close is three syscalls
// where readFileSync spends five, and syscalls are what a scan costs.
let buffer = Buffer.allocUnsafe(64 * 1024);

/**
 * A file read whole up to MAX bytes (a /proc file, or another program's JSON),
 * or undefined if it cannot be read (the process exited, say).
 */
export function readFileCapped(path: string, encoding: BufferEncoding = 'utf8', max = Infinity): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    return readAll(fd, (...args) => readSync(...args, null), encoding, max);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** The file NAME of the directory DIR (a /proc/PID, opened by procAt.openDir) read whole up to MAX bytes, or undefined. */
export function readFileAt(dir: number, name: string, encoding: BufferEncoding, max = Infinity): string | undefined {
  const fd = procAt.openFile(dir, name);
  if (fd < 0) return undefined;
  try {
    return readAll(fd, procAt.read, encoding, max);
  } finally {
    procAt.close(fd);
  }
}

/** FD read to its end, or to MAX bytes, with READ (which throws, or answers -1, on failure). */
function readAll(
  fd: number,
  read: (fd: number, buf: Buffer, offset: number, length: number) => number,
  encoding: BufferEncoding,
  max: number,
): string | undefined {
  let length = 0;
  for (;;) {
    const n = read(fd, buffer, length, Math.min(buffer.length, max) - length);
    if (n < 0) return undefined;
    if (n === 0) break;
    length += n;
    if (length >= max) break;
    if (length === buffer.length) {
      const bigger = Buffer.allocUnsafe(buffer.length * 2);
      buffer.copy(bigger);
      buffer = bigger;
    }
  }
  const text = buffer.toString(encoding, 0, length);
  // A huge file (anyone can make their mount table 70 MB) must not keep its buffer alive.
  if (buffer.length > 1024 * 1024) buffer = Buffer.allocUnsafe(64 * 1024);
  return text;
}
