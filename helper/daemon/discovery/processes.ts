// Reads what /proc says about a set of processes: their namespace links,
// the nsfs files they hold open, their cgroup (for container hints) and the
// nsfs bind mounts of each mount namespace, a process a step (see procfs.ts
// for why synchronously).
import * as procAt from '../../../native/procAt';
import { ContainerHint, NSTYPES, NsType } from '../../common/protocol';
import { netAddresses } from './addresses';
import { containerFromCgroup } from './hints';
import type { RawMount } from './mountinfo';
import { nsfsMounts } from './mountTables';
import { listFdsAt, parseStat, PF_KTHREAD, readFileAt, readFileCapped, readNsInodeAt, readNsLinkAt } from './procfs';
import type { ScanCache } from './scanCache';

export interface RawProcess {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string[];
  /**
   * What says the command line is still the one read: the start time (the
   * same process), where the arguments start (exec puts them somewhere new)
   * and comm (an exec of a program of another name).
   */
  starttime: string;
  argStart?: number;
  uid: number;
  ns: Partial<Record<NsType, number>>;
  pidForChildren?: number;
  timeForChildren?: number;
  /** nsfs files held open among the fds read, one entry per namespace: [lowest fd, type, inode, how many fds]. */
  nsfds: [number, NsType, number, number][];
  /** Fds the scan did not read, past its bounds (see FDS_PER_PROCESS); absent when it read them all. */
  fdsUnread?: number;
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

/**
 * scanProcesses a process a step, so that a caller can share its thread
 * between steps. BEFORE is what was read of each process last: a command
 * line that cannot have changed is not read again (reading another
 * process's memory is the dearest read of a scan).
 */
export function* readProcesses(
  pids: number[],
  cache: ScanCache,
  known?: ProcState,
  before = known?.processes,
): Generator<void, RawScan> {
  const scan: RawScan = { processes: [], mounts: [], addresses: [], hints: [] };
  const seenNet = new Set<number>();
  const seenMntns = new Set<number>();
  const seenSets = new Set<string>();
  const fds = { left: FDS_PER_SCAN };
  for (const pid of pids) {
    yield;
    const p = readProcess(pid, fds, cache, before?.get(pid));
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
      const mounts = nsfsMounts(pid, mntns, cache.mountTables);
      if (mounts !== undefined) {
        seenMntns.add(mntns);
        scan.mounts.push([mntns, pid, mounts]);
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

/**
 * The empty list most processes have (no arguments: a kernel thread; no fd
 * to a namespace: nearly all), one for all of them. Never added to: a
 * process with some gets an array of its own.
 */
const NONE: never[] = [];

/** Enough of a command line to show; any process may make its own megabytes long. */
const MAX_CMDLINE = 4096;

/** The links of a process's namespaces, relative to its /proc/PID. */
const NS_LINKS = NSTYPES.map((type) => `ns/${type}`);

function readProcess(pid: number, fds: FdBudget, cache: ScanCache, before?: RawProcess): RawProcess | undefined {
  // Every read through one fd of /proc/PID: if the pid is reused meanwhile, it is another directory and the reads fail.
  const dir = procAt.openDir(`/proc/${pid}`);
  if (dir < 0) return undefined; // exited while we looked
  try {
    return readProcessAt(dir, pid, fds, cache, before);
  } finally {
    procAt.close(dir);
  }
}

function readProcessAt(
  dir: number,
  pid: number,
  fds: FdBudget,
  cache: ScanCache,
  before?: RawProcess,
): RawProcess | undefined {
  const text = readFileAt(dir, 'stat', 'latin1');
  if (text === undefined) return undefined;
  const { state, ppid, flags, starttime, argStart, ...stat } = parseStat(text);
  const comm = cache.comm(stat.comm);
  // A zombie has left every namespace but its pid namespace, and has exited: its reaping sends no event of its own.
  if (state === 'Z') return undefined;
  // A kernel thread never joins another namespace and holds no fds: after its first scan, only its stat line
  // is read again (a kworker renames itself). A laptop has hundreds, most of the processes a small host has.
  const kernel = (flags & PF_KTHREAD) !== 0;
  if (kernel && before?.starttime === starttime)
    return before.ppid === ppid && before.comm === comm
      ? before
      : { pid, ppid, comm, cmdline: NONE, starttime, uid: 0, ns: before.ns, nsfds: NONE };
  const uid = procAt.ownerOf(dir);
  if (uid < 0) return undefined;
  let links = 0;
  for (let i = 0; i < NSTYPES.length; i++) {
    inodes[i] = readNsInodeAt(dir, NS_LINKS[i]);
    if (inodes[i] !== undefined) links++;
  }
  if (links === 0) return undefined; // no link readable: a zombie, or gone
  const ns = cache.intern(before && sameInodes(before.ns) ? before.ns : recordOf());
  const same = before?.starttime === starttime && before.argStart === argStart && before.comm === comm;
  const cmdline = same ? before.cmdline : readCmdline(dir, cache);
  const p: RawProcess = { pid, ppid, comm, cmdline, starttime, argStart, uid, ns, nsfds: NONE };
  const pfc = readNsInodeAt(dir, 'ns/pid_for_children');
  if (pfc !== undefined && pfc !== ns.pid) p.pidForChildren = pfc;
  const tfc = readNsInodeAt(dir, 'ns/time_for_children');
  if (tfc !== undefined && tfc !== ns.time) p.timeForChildren = tfc;
  readNsFds(p, dir, fds);
  // The same record for a process that reads as it did: the model keeps what it made of it (ScanCache.made), and
  // a full scan of a quiet host makes next to nothing that lives.
  return before && unchanged(before, p) ? before : p;
}

/** The inodes of the links of the process being read, in NSTYPES' order (undefined: a link it lacks). */
const inodes: (number | undefined)[] = [];

function sameInodes(record: RawProcess['ns']): boolean {
  for (let i = 0; i < NSTYPES.length; i++) if (record[NSTYPES[i]] !== inodes[i]) return false;
  return true;
}

function recordOf(): RawProcess['ns'] {
  const ns: RawProcess['ns'] = {};
  for (let i = 0; i < NSTYPES.length; i++) if (inodes[i] !== undefined) ns[NSTYPES[i]] = inodes[i];
  return ns;
}

function unchanged(was: RawProcess, now: RawProcess): boolean {
  return (
    was.starttime === now.starttime &&
    was.argStart === now.argStart &&
    was.ppid === now.ppid &&
    was.comm === now.comm &&
    was.cmdline === now.cmdline &&
    was.uid === now.uid &&
    was.ns === now.ns &&
    was.pidForChildren === now.pidForChildren &&
    was.timeForChildren === now.timeForChildren &&
    was.nsfds.length === 0 &&
    now.nsfds.length === 0 &&
    was.fdsUnread === now.fdsUnread
  );
}

function readCmdline(dir: number, cache: ScanCache): string[] {
  const raw = readFileAt(dir, 'cmdline', 'utf8', MAX_CMDLINE);
  return raw ? cache.argv(raw) : NONE;
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

function readNsFds(p: RawProcess, dir: number, fds: FdBudget): void {
  const fdDir = procAt.openDir('fd', dir);
  if (fdDir < 0) return; // exited while we looked
  try {
    const { fds: open, unread } = listFdsAt(fdDir, Math.max(FDS_ONCE_SPENT, Math.min(FDS_PER_PROCESS, fds.left)));
    fds.left -= open.length;
    if (unread > 0) p.fdsUnread = unread;
    let byNs: Map<string, RawProcess['nsfds'][number]> | undefined;
    for (const fd of open) {
      const link = readNsLinkAt(fdDir, String(fd));
      if (!link || !(NSTYPES as readonly string[]).includes(link[0])) continue;
      const key = `${link[0]}:${link[1]}`;
      byNs ??= new Map();
      const seen = byNs.get(key);
      if (!seen) byNs.set(key, [fd, link[0] as NsType, link[1], 1]);
      else {
        seen[0] = Math.min(seen[0], fd);
        seen[3]++;
      }
    }
    p.nsfds = byNs ? [...byNs.values()] : NONE;
  } finally {
    procAt.close(fdDir);
  }
}
