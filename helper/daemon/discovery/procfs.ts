// How nsxd reads /proc: a small file whole, a namespace link, a stat line,
// the pids. Synchronous on purpose: /proc answers from memory, readlinkSync
// is the fastest way to ask it, and the scanner shares nsxd's thread by
// taking a few milliseconds at a time.
import { closeSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { NSTYPES, NsType } from '../../common/protocol';

export const NSFS_LINK = /^(\w+):\[(\d+)\]$/;

/** The namespace types this kernel has (time needs Linux 5.6). */
export const KERNEL_NSTYPES: NsType[] = NSTYPES.filter((t) => readNsLink(`/proc/self/ns/${t}`) !== undefined);

/** A namespace link, as /proc/PID/ns/net or an fd to nsfs: its type and inode; undefined if it is none (or gone). */
export function readNsLink(path: string): [string, number] | undefined {
  try {
    const link = readlinkSync(path);
    // Most fds are files ('/…'), sockets and pipes: only a link that ends as nsfs's do is matched.
    if (link.charCodeAt(link.length - 1) !== 93) return undefined;
    const m = NSFS_LINK.exec(link);
    return m ? [m[1], Number(m[2])] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The inode of a namespace link whose type the path says (/proc/PID/ns/net
 * reads `net:[4026531840]`, as the kernel writes it); undefined if it is gone.
 * A scan reads ten a process: no pattern match, no array per link.
 */
export function readNsInode(path: string): number | undefined {
  try {
    const link = readlinkSync(path);
    return Number(link.slice(link.indexOf('[') + 1, -1));
  } catch {
    return undefined;
  }
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
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, Math.min(buffer.length, max) - length, null);
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
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
