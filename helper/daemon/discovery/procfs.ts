// Reads what /proc says about a set of processes: their namespace links,
// the nsfs files they hold open, their cgroup (for container hints) and the
// nsfs bind mounts of each mount namespace. Synchronous on purpose: /proc
// answers from memory, readlinkSync is the fastest way to ask it, and the
// scanner shares nsxd's thread by taking a few milliseconds at a time.
import { closeSync, openSync, opendirSync, readdirSync, readlinkSync, readSync, statSync } from 'node:fs';
import { ContainerHint, NSTYPES, NsType } from '../../common/protocol';
import { containerFromCgroup } from './hints';
import type { ScanCache } from './scanCache';

export interface RawProcess {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string[];
  uid: number;
  ns: Partial<Record<NsType, number>>;
  pidForChildren?: number;
  timeForChildren?: number;
  /** nsfs files held open among the fds read, one entry per namespace: [lowest fd, type, inode, how many fds]. */
  nsfds: [number, NsType, number, number][];
  /** Fds the scan did not read, past its bounds (see FDS_PER_PROCESS); absent when it read them all. */
  fdsUnread?: number;
}

export interface RawMount {
  type: NsType;
  inode: number;
  path: string;
}

export interface RawScan {
  processes: RawProcess[];
  /** Addresses by net namespace inode, read through one member process. */
  addresses: [netns: number, addresses: string[]][];
  /** nsfs mounts by mount namespace inode, read through one member process. */
  mounts: [mntns: number, pid: number, mounts: RawMount[]][];
  /** What /proc/PID/cgroup says of a set of namespaces (setOf), read through its first process: a container, or null. */
  hints: [set: string, hint: ContainerHint | null][];
}

/**
 * What nsxd knows of /proc: a full scan's parts put together, then patched by
 * the processes that events name (see Scanner). Keyed as the model needs it:
 * mount tables by mount namespace, addresses by net namespace, container hints by set.
 */
export interface ProcState {
  processes: Map<number, RawProcess>;
  mounts: Map<number, { pid: number; mounts: RawMount[] }>;
  addresses: Map<number, string[]>;
  hints: Map<string, ContainerHint | null>;
}

/** A full scan as the state updates patch, its processes in pid order. */
export function stateOf(scan: RawScan): ProcState {
  const state: ProcState = { processes: new Map(), mounts: new Map(), addresses: new Map(), hints: new Map() };
  for (const p of [...scan.processes].sort((a, b) => a.pid - b.pid)) state.processes.set(p.pid, p);
  merge(state, scan);
  return state;
}

/** Puts what SCAN read of mount tables, addresses and cgroups into STATE (not its processes), over what was there. */
export function merge(state: ProcState, scan: RawScan): void {
  for (const [mntns, pid, mounts] of scan.mounts) state.mounts.set(mntns, { pid, mounts });
  for (const [netns, addresses] of scan.addresses) state.addresses.set(netns, addresses);
  for (const [set, hint] of scan.hints) state.hints.set(set, hint);
}

/**
 * Processes that share these namespaces are one container's (or the host's):
 * one cgroup file, read for the first of them, speaks for all.
 */
export function setOf(ns: RawProcess['ns']): string {
  return `${ns.mnt}/${ns.cgroup}/${ns.pid}/${ns.net}`;
}

const NSFS_LINK = /^(\w+):\[(\d+)\]$/;

/** The namespace types this kernel has (time needs Linux 5.6). */
export const KERNEL_NSTYPES: NsType[] = NSTYPES.filter((t) => readNsLink(`/proc/self/ns/${t}`) !== undefined);

/** A namespace link, as /proc/PID/ns/net or an fd to nsfs: its type and inode; undefined if it is none (or gone). */
export function readNsLink(path: string): [string, number] | undefined {
  try {
    const m = NSFS_LINK.exec(readlinkSync(path));
    return m ? [m[1], Number(m[2])] : undefined;
  } catch {
    return undefined;
  }
}

/** The fields of /proc/PID/stat a scan needs. comm may hold spaces and parentheses: it runs from the first '(' to the last ')'. */
export function parseStat(text: string): {
  comm: string;
  state: string;
  ppid: number;
  flags: number;
  starttime: string;
  argStart?: string;
} {
  const close = text.lastIndexOf(')');
  // Field N of proc(5) is fields[N - 3]: the first two are pid and comm.
  const fields = text.slice(close + 2).split(' ', 46);
  return {
    comm: text.slice(text.indexOf('(') + 1, close),
    state: fields[0],
    ppid: Number(fields[1]),
    flags: Number(fields[6]),
    starttime: fields[19],
    argStart: fields[45],
  };
}

/** The flag of /proc/PID/stat that marks a kernel thread. */
const PF_KTHREAD = 0x00200000;

/** The pids in /proc, in order. Threads are not listed there, only thread-group leaders. */
export function listPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57) pids.push(Number(name));
  }
  return pids;
}

/**
 * Reads PIDS, and the mount tables and cgroups of the namespaces they are in,
 * each once, and only those KNOWN (the state an update patches) lacks.
 */
export function scanProcesses(pids: number[], cache: ScanCache, known?: ProcState): RawScan {
  const reading = readProcesses(pids, cache, known);
  for (;;) {
    const step = reading.next();
    if (step.done) return step.value;
  }
}

/** scanProcesses a process a step, so that a caller can share its thread between steps. */
export function* readProcesses(pids: number[], cache: ScanCache, known?: ProcState): Generator<void, RawScan> {
  const scan: RawScan = { processes: [], mounts: [], addresses: [], hints: [] };
  const seenNet = new Set<number>();
  const seenMntns = new Set<number>();
  const seenSets = new Set<string>();
  const fds = { left: FDS_PER_SCAN };
  for (const pid of pids) {
    yield;
    const p = readProcess(pid, fds, cache);
    if (!p) continue;
    const set = setOf(p.ns);
    if (!seenSets.has(set) && !known?.hints.has(set)) {
      const cgroup = readFileCapped(`/proc/${pid}/cgroup`);
      if (cgroup !== undefined) {
        seenSets.add(set);
        scan.hints.push([set, containerFromCgroup(cgroup) ?? null]);
      }
    }
    const mntns = p.ns.mnt;
    if (mntns !== undefined && !seenMntns.has(mntns) && !known?.mounts.has(mntns)) {
      const info = readFileCapped(`/proc/${pid}/mountinfo`);
      if (info !== undefined) {
        seenMntns.add(mntns);
        scan.mounts.push([mntns, pid, parseNsfsMounts(info)]);
      }
    }
    const netns = p.ns.net;
    if (netns !== undefined && !seenNet.has(netns)) {
      seenNet.add(netns);
      scan.addresses.push([netns, netAddresses(pid)]);
    }
    scan.processes.push(p);
  }
  return scan;
}

/** At most this many addresses a namespace: they are a label, not an inventory. */
const MAX_ADDRESSES = 8;

/**
 * The addresses of a process's net namespace, from /proc/PID/net (which is
 * that namespace's view, no setns needed): IPv4 from fib_trie's local routes,
 * IPv6 from if_inet6; loopback and link-local left out.
 */
export function netAddresses(pid: number): string[] {
  const found = new Set<string>();
  const trie = readFileCapped(`/proc/${pid}/net/fib_trie`, 'utf8', 256 * 1024) ?? '';
  const lines = trie.split('\n');
  for (let i = 1; i < lines.length && found.size < MAX_ADDRESSES; i++) {
    if (!lines[i].includes('/32 host LOCAL')) continue;
    const addr = /([0-9.]+)\s*$/.exec(lines[i - 1])?.[1];
    if (addr && !addr.startsWith('127.')) found.add(addr);
  }
  for (const line of (readFileCapped(`/proc/${pid}/net/if_inet6`, 'utf8', 64 * 1024) ?? '').split('\n')) {
    const [hex, , , scope] = line.trim().split(/\s+/);
    // scope 00 is global; 10 host (::1), 20 link
    if (found.size >= MAX_ADDRESSES || !hex || hex.length !== 32 || scope !== '00') continue;
    found.add(compressIpv6(hex));
  }
  return [...found];
}

/** if_inet6's 32 hex digits as RFC 5952 writes them: no leading zeros, the longest run of zero groups as "::". */
export function compressIpv6(hex: string): string {
  const groups = Array.from({ length: 8 }, (_, i) => parseInt(hex.slice(i * 4, i * 4 + 4), 16));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const text = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  return best < 0 ? text(groups) : `${text(groups.slice(0, best))}::${text(groups.slice(best + bestLen))}`;
}

// One buffer for every small /proc file: open, read, close is three syscalls
// where readFileSync spends five, and syscalls are what a scan costs.
let buffer = Buffer.allocUnsafe(64 * 1024);

/** Enough of a command line to show; any process may make its own megabytes long. */
const MAX_CMDLINE = 4096;

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

function readProcess(pid: number, fds: FdBudget, cache: ScanCache): RawProcess | undefined {
  const base = `/proc/${pid}`;
  const text = readFileCapped(`${base}/stat`, 'latin1');
  if (text === undefined) return undefined; // exited while we looked
  const { comm, state, ppid, flags, starttime, argStart } = parseStat(text);
  // A zombie has left every namespace but its pid namespace, and has exited: its reaping sends no event of its own.
  if (state === 'Z') return undefined;
  const kernel = (flags & PF_KTHREAD) !== 0;
  const thread = kernel ? cache.kernelThreads.get(pid) : undefined;
  if (thread?.starttime === starttime) return { pid, ppid, comm, cmdline: [], uid: 0, ns: thread.ns, nsfds: [] };
  const st = statSync(base, { throwIfNoEntry: false });
  if (st === undefined) return undefined;
  const uid = st.uid;
  const cacheKey = `${starttime}/${argStart}/${comm}`;
  let ns: Partial<Record<NsType, number>> = {};
  for (const type of NSTYPES) {
    const link = readNsLink(`${base}/ns/${type}`);
    if (link) ns[type] = link[1];
  }
  if (Object.keys(ns).length === 0) return undefined; // no link readable: a zombie, or gone
  ns = cache.intern(ns);
  if (kernel) cache.kernelThreads.set(pid, { starttime, ns });
  let cached = cache.cmdlines.get(pid);
  if (cached?.key !== cacheKey) {
    cached = { key: cacheKey, cmdline: readCmdline(base) };
    cache.cmdlines.set(pid, cached);
  }
  const p: RawProcess = { pid, ppid, comm, cmdline: cached.cmdline, uid, ns, nsfds: [] };
  const pfc = readNsLink(`${base}/ns/pid_for_children`);
  if (pfc && pfc[1] !== ns.pid) p.pidForChildren = pfc[1];
  const tfc = readNsLink(`${base}/ns/time_for_children`);
  if (tfc && tfc[1] !== ns.time) p.timeForChildren = tfc[1];
  readNsFds(p, base, fds);
  return p;
}

function readCmdline(base: string): string[] {
  const raw = readFileCapped(`${base}/cmdline`, 'utf8', MAX_CMDLINE);
  if (!raw) return [];
  const args = raw.split('\0');
  if (args[args.length - 1] === '') args.pop();
  return args;
}

/**
 * Anyone can open a million fds, in as many processes as they like, and
 * anyone's processes are scanned; each fd costs a listing entry and a
 * readlink (5 µs together here), so a million of them is seconds of nsxd's
 * one thread at every full scan. A call of readProcesses (a full scan, an
 * update) reads at most FDS_PER_PROCESS fds of a process, its lowest, and
 * FDS_PER_SCAN in all (a third of a second here); once those are spent,
 * FDS_ONCE_SPENT of each process after, so that whoever spent them does not
 * hide every holder later in pid order. What is left is counted
 * (RawProcess.fdsUnread) and the answer says so (Snapshot.cut). Many fds to
 * one namespace are one entry.
 */
export const FDS_PER_PROCESS = 4096;
const FDS_PER_SCAN = 65536;
const FDS_ONCE_SPENT = 64;

/** What is left of a call's FDS_PER_SCAN. */
interface FdBudget {
  left: number;
}

function readNsFds(p: RawProcess, base: string, fds: FdBudget): void {
  const { names, unread } = fdNames(`${base}/fd`, Math.max(FDS_ONCE_SPENT, Math.min(FDS_PER_PROCESS, fds.left)));
  fds.left -= names.length;
  if (unread > 0) p.fdsUnread = unread;
  const byNs = new Map<string, RawProcess['nsfds'][number]>();
  for (const name of names) {
    const link = readNsLink(`${base}/fd/${name}`);
    if (!link || !(NSTYPES as readonly string[]).includes(link[0])) continue;
    const fd = Number(name);
    const key = `${link[0]}:${link[1]}`;
    const seen = byNs.get(key);
    if (!seen) byNs.set(key, [fd, link[0] as NsType, link[1], 1]);
    else {
      seen[0] = Math.min(seen[0], fd);
      seen[3]++;
    }
  }
  p.nsfds = [...byNs.values()];
}

/**
 * The names of a process's lowest MAX fds (the kernel lists them in order),
 * and how many more it holds. Since Linux 6.2 the folder's size is its
 * number of fds: within MAX it is listed in one call, four times cheaper
 * than entry by entry, which is what a bigger folder gets, up to MAX, or an
 * older kernel's (size 0), which says nothing of how many are left: past MAX,
 * one more entry read says there is at least one.
 */
function fdNames(dir: string, max: number): { names: string[]; unread: number } {
  try {
    const size = statSync(dir).size;
    if (size > 0 && size <= max) {
      const names = readdirSync(dir);
      // fds opened between the stat and the listing
      return names.length <= max ? { names, unread: 0 } : { names: names.slice(0, max), unread: names.length - max };
    }
    const names: string[] = [];
    const d = opendirSync(dir, { bufferSize: Math.min(1024, max + 1) });
    try {
      for (let entry; names.length < max && (entry = d.readSync()) !== null;) names.push(entry.name);
      const more = names.length === max && d.readSync() !== null;
      return { names, unread: !more ? 0 : size > 0 ? Math.max(1, size - max) : 1 };
    } finally {
      d.closeSync();
    }
  } catch {
    return { names: [], unread: 0 }; // the process exited while we looked
  }
}

/** A line of a mountinfo: what of its filesystem is mounted (root), where, and the filesystem's type. */
export interface MountEntry {
  root: string;
  mountPoint: string;
  fstype: string;
}

/**
 * The entries of a mountinfo, of one filesystem type when FSTYPE is given (a
 * mount table can be tens of megabytes: the other lines are skipped unsplit).
 */
export function parseMountinfo(mountinfo: string, fstype?: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of mountinfo.split('\n')) {
    if (fstype !== undefined && !line.includes(` - ${fstype} `)) continue;
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    if (dash < 0) continue;
    out.push({
      root: unescapeMountPath(fields[3]),
      mountPoint: unescapeMountPath(fields[4]),
      fstype: fields[dash + 1],
    });
  }
  return out;
}

/** nsfs entries of a mountinfo: the root field names the namespace, as `net:[4026532201]`. */
export function parseNsfsMounts(mountinfo: string): RawMount[] {
  const out: RawMount[] = [];
  for (const { root, mountPoint } of parseMountinfo(mountinfo, 'nsfs')) {
    const m = NSFS_LINK.exec(root);
    if (m && (NSTYPES as readonly string[]).includes(m[1]))
      out.push({ type: m[1] as NsType, inode: Number(m[2]), path: mountPoint });
  }
  return out;
}

/** mountinfo writes space, tab, newline and backslash as octal escapes. */
export function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
