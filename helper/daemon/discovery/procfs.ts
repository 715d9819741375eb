// How nsxd reads /proc: a small file whole, a namespace link, a stat line,
// the pids, and a scan's reads of one process through the fd of its
// /proc/PID (native/procAt.ts: the *at calls, a shorter path walk a read and
// no string made for a link that is not wanted). Synchronous on purpose:
// /proc answers from memory, a system call is the fastest way to ask it,
// and the scanner shares nsxd's thread by taking a few milliseconds at a time.
import { closeSync, openSync, readSync } from 'node:fs';
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
  let more = false;
  eachNumbered(dir, (fd) => {
    more = fds.length === max;
    if (!more) fds.push(fd);
    return !more;
  });
  return { fds, unread: more ? Math.max(1, procAt.sizeOf(dir) - max) : 0 };
}

/**
 * The entries of the directory DIR whose names are numbers (an fd folder's
 * fds, /proc's pids), in the kernel's order, read from its linux_dirent64
 * records: a string for each of 20,000 names would be 20,000 strings. VISIT
 * answers false to stop.
 */
function eachNumbered(dir: number, visit: (n: number) => boolean): void {
  for (let n; (n = procAt.getdents64(dir, dirents)) > 0;) {
    for (let at = 0, size; at < n; at += size) {
      size = dirents.readUInt16LE(at + procAt.DIRENT_RECLEN);
      if (size === 0) return; // never from a kernel; no loop without end if it were
      const name = at + procAt.DIRENT_NAME;
      let i = name;
      let number = 0;
      for (; i < at + size && dirents[i] >= 48 && dirents[i] <= 57; i++) number = number * 10 + dirents[i] - 48;
      if (i > name && dirents[i] === 0 && !visit(number)) return;
    }
  }
}

/** The fields of /proc/PID/stat a scan needs. */
export interface StatFields {
  comm: string;
  state: string;
  ppid: number;
  flags: number;
  starttime: string;
  argStart?: number;
}

/** parseStatBytes of a stat line as text. */
export function parseStat(text: string): StatFields {
  const bytes = Buffer.from(text, 'latin1');
  return parseStatBytes(bytes, 0, bytes.length);
}

/**
 * The fields a scan needs of the stat line in BYTES from AT to END, read
 * where they are: a scan of 20,000 processes makes no string of a line, nor
 * of a field it does not keep. comm may hold spaces and parentheses: it runs
 * from the first '(' to the last ')'. Where the arguments start is a number.
 */
export function parseStatBytes(bytes: Buffer, at: number, end: number): StatFields {
  const open = bytes.indexOf(0x28, at);
  const close = bytes.lastIndexOf(0x29, end - 1);
  const fields: StatFields = {
    comm: open >= at && close > open ? bytes.toString('latin1', open + 1, close) : '',
    state: '',
    ppid: NaN,
    flags: NaN,
    starttime: '',
    argStart: undefined,
  };
  // Field N of proc(5) is the (N - 3)th after comm: the five a scan needs are 0, 1, 6, 19 and 45.
  for (let i = 0, from = close + 2; i <= 45 && close > open && from < end; i++) {
    let to = bytes.indexOf(0x20, from);
    if (to < 0 || to > end) to = end;
    if (i === 0) fields.state = String.fromCharCode(bytes[from]);
    else if (i === 1) fields.ppid = decimal(bytes, from, to);
    else if (i === 6) fields.flags = decimal(bytes, from, to);
    else if (i === 19) fields.starttime = bytes.toString('latin1', from, to);
    else if (i === 45) fields.argStart = decimal(bytes, from, to);
    from = to + 1;
  }
  return fields;
}

/** The digits of BYTES from FROM to TO as a number (NaN if there are none, or something else). */
function decimal(bytes: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = bytes[i] - 48;
    if (d < 0 || d > 9) return bytes[i] === 10 && i > from ? n : NaN; // a line's last field ends with its newline
    n = n * 10 + d;
  }
  return to > from ? n : NaN;
}

/** The flag of /proc/PID/stat that marks a kernel thread. */
export const PF_KTHREAD = 0x00200000;

/** The pids in /proc, in order. Threads are not listed there, only thread-group leaders. */
export function listPids(): number[] {
  const pids: number[] = [];
  const proc = procAt.openDir('/proc');
  if (proc < 0) throw new Error('cannot open /proc');
  try {
    eachNumbered(proc, (pid) => pids.push(pid) > 0);
  } finally {
    procAt.close(proc);
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

/** The stat line of the process directory DIR (a /proc/PID), parsed where it was read; undefined if it is gone. */
export function readStatAt(dir: number): StatFields | undefined {
  const fd = procAt.openFile(dir, 'stat');
  if (fd < 0) return undefined;
  try {
    const n = procAt.read(fd, buffer, 0, buffer.length);
    return n > 0 ? parseStatBytes(buffer, 0, n) : undefined;
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
