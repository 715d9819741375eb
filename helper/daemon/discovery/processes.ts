// Reads what /proc says about a set of processes: their namespace links,
// the nsfs files they hold open, their cgroup (for container hints) and the
// nsfs bind mounts of each mount namespace, a process a step (see procfs.ts
// for why synchronously).
import * as procAt from '../../../native/procAt';
import { ContainerHint, isNsType, NSTYPES, NsType } from '../../common/protocol';
import { netAddresses } from './addresses';
import { containerFromCgroup } from './hints';
import type { RawMount } from './mountinfo';
import { nsfsMounts } from './mountTables';
import {
  listFdsAt,
  PF_KTHREAD,
  readFileAt,
  readFileCapped,
  readNsInodeAt,
  readNsLinkAt,
  readStatAt,
  StatFields,
} from './procfs';
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
  const parts = new ScanParts(cache, known);
  const fds = { left: FDS_PER_SCAN };
  for (const pid of pids) {
    yield;
    const p = readProcess(pid, fds, cache, before?.get(pid));
    if (p) parts.add(p);
  }
  return parts.scan;
}

/**
 * What a scan collects besides processes, each once: the container hint of
 * each set of namespaces, the nsfs mounts of each mount namespace, the
 * addresses of each net namespace, read through the first process found in
 * it, and only those KNOWN lacks.
 */
export class ScanParts {
  readonly scan: RawScan = { processes: [], mounts: [], addresses: [], hints: [] };
  private readonly nets = new Set<number>();
  private readonly mntns = new Set<number>();
  private readonly sets = new Set<string>();
  /** The namespace records (interned: see ScanCache.intern) whose parts are all read or known. */
  private readonly done = new Set<RawProcess['ns']>();

  constructor(
    private readonly cache: ScanCache,
    private readonly known?: ProcState,
  ) {}

  add(p: RawProcess): void {
    const { scan, known, cache } = this;
    scan.processes.push(p);
    // Most processes share all their namespaces with others (one interned record): the first read their parts.
    if (this.done.has(p.ns)) return;
    const pid = p.pid;
    const set = setOf(p.ns);
    if (!this.sets.has(set) && !known?.hints.has(set)) {
      const cgroup = readFileCapped(`/proc/${pid}/cgroup`);
      if (cgroup !== undefined) {
        this.sets.add(set);
        scan.hints.push([set, containerFromCgroup(cgroup) ?? null]);
      }
    }
    const mntns = p.ns.mnt;
    if (mntns !== undefined && !this.mntns.has(mntns) && !known?.mounts.has(mntns)) {
      const mounts = nsfsMounts(pid, mntns, cache.mountTables);
      if (mounts !== undefined) {
        this.mntns.add(mntns);
        scan.mounts.push([mntns, pid, mounts]);
      }
    }
    const netns = p.ns.net;
    if (netns !== undefined && !this.nets.has(netns)) {
      this.nets.add(netns);
      scan.addresses.push([netns, netAddresses(pid)]);
    }
    // Read, or known: a process that exited before its cgroup or mount table could be read leaves them to the next.
    const hinted = this.sets.has(set) || known?.hints.has(set);
    if (hinted && (mntns === undefined || this.mntns.has(mntns) || known?.mounts.has(mntns))) this.done.add(p.ns);
  }
}

/**
 * The empty list most processes have (no arguments: a kernel thread; no fd
 * to a namespace: nearly all), one for all of them. Never added to: a
 * process with some gets an array of its own.
 */
const NONE: never[] = [];

/** Enough of a command line to show; any process may make its own megabytes long. */
const MAX_CMDLINE = 4096;

/**
 * The links a scan reads of a process, relative to its /proc/PID: its
 * namespaces' (NSTYPES' order), then the pid and time namespaces its
 * children will have. libnsxscan reads the same list (see sliceReader.ts).
 */
export const LINKS = [...NSTYPES.map((type) => `ns/${type}`), 'ns/pid_for_children', 'ns/time_for_children'];
const PID_FOR_CHILDREN = NSTYPES.length;
const TIME_FOR_CHILDREN = NSTYPES.length + 1;

/** The inodes of LINKS of the process being read (undefined: a link it lacks), filled by its reader before withLinks. */
export const inodes: (number | undefined)[] = [];

/** What a process's fd folder said: its nsfs files, one entry per namespace (see NsFds), and how many fds were not read. */
export interface Held {
  nsfds: RawProcess['nsfds'];
  unread: number;
}

/** What a process with no fd to a namespace, all its fds read, holds (most processes): one for all of them. */
export const HOLDS_NOTHING: Held = { nsfds: NONE, unread: 0 };

/** The ns of a process whose links are not read yet (see readHead). */
const UNREAD: RawProcess['ns'] = Object.freeze({});

function readProcess(pid: number, fds: FdBudget, cache: ScanCache, before?: RawProcess): RawProcess | undefined {
  // Every read through one fd of /proc/PID: if the pid is reused meanwhile, it is another directory and the reads fail.
  const dir = procAt.openDir(`/proc/${pid}`);
  if (dir < 0) return undefined; // exited while we looked
  try {
    const head = readHead(dir, pid, cache, before);
    if (!head || !needsLinks(head)) return head;
    return withLinks(head, readLinks(dir, fds), cache, before);
  } finally {
    procAt.close(dir);
  }
}

/** The links of the process directory DIR read here, into inodes, and its fd folder with FDS of the budget left. */
function readLinks(dir: number, fds: FdBudget): Held {
  for (let i = 0; i < LINKS.length; i++) inodes[i] = readNsInodeAt(dir, LINKS[i]);
  return readNsFds(dir, fds);
}

/** Whether HEAD (from readHead) still needs its links read. */
export const needsLinks = (head: RawProcess): boolean => head.ns === UNREAD;

/**
 * What the files of the process directory DIR say: its stat line, owner and
 * command line (STAT and OWNER, where the caller read them; a STAT of null,
 * a stat line it could not). A RawProcess whose links are still to be read
 * (needsLinks), or a kernel thread read whole; undefined if it is gone or a
 * zombie.
 */
export function readHead(
  dir: number,
  pid: number,
  cache: ScanCache,
  before?: RawProcess,
  stat: StatFields | null = readStatAt(dir) ?? null,
  owner = -1,
): RawProcess | undefined {
  if (!stat) return undefined;
  const { state, ppid, flags, starttime, argStart } = stat;
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
  const uid = owner >= 0 ? owner : procAt.ownerOf(dir);
  if (uid < 0) return undefined;
  const same = before?.starttime === starttime && before.argStart === argStart && before.comm === comm;
  const cmdline = same ? before.cmdline : readCmdline(dir, cache);
  return { pid, ppid, comm, cmdline, starttime, argStart, uid, ns: UNREAD, nsfds: NONE };
}

/**
 * HEAD made whole by its links (inodes, as its reader filled them) and its
 * fds: undefined if no link could be read (a zombie, or gone). A process that
 * reads as it did is the record it was: the model keeps what it made of it
 * (ScanCache.made), and a full scan of a quiet host makes next to nothing that lives.
 */
export function withLinks(head: RawProcess, held: Held, cache: ScanCache, before?: RawProcess): RawProcess | undefined {
  let links = 0;
  for (let i = 0; i < NSTYPES.length; i++) if (inodes[i] !== undefined) links++;
  if (links === 0) return undefined;
  const p = head;
  const ns = (p.ns = cache.intern(before && sameInodes(before.ns) ? before.ns : recordOf()));
  const pfc = inodes[PID_FOR_CHILDREN];
  if (pfc !== undefined && pfc !== ns.pid) p.pidForChildren = pfc;
  const tfc = inodes[TIME_FOR_CHILDREN];
  if (tfc !== undefined && tfc !== ns.time) p.timeForChildren = tfc;
  p.nsfds = held.nsfds;
  if (held.unread > 0) p.fdsUnread = held.unread;
  return before && unchanged(before, p) ? before : p;
}

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
export const FDS_PER_SCAN = 65536;
export const FDS_ONCE_SPENT = 64;

/** What is left of a call's FDS_PER_SCAN. */
export interface FdBudget {
  left: number;
}

/** How many fds of a process a scan reads, with LEFT of its budget left. */
const fdsToRead = (left: number): number => Math.max(FDS_ONCE_SPENT, Math.min(FDS_PER_PROCESS, left));

/** The nsfs files among the fds of the process directory DIR, read with FDS of the budget left. */
export function readNsFds(dir: number, fds: FdBudget): Held {
  const fdDir = procAt.openDir('fd', dir);
  if (fdDir < 0) return HOLDS_NOTHING; // exited while we looked
  try {
    const { fds: open, unread } = listFdsAt(fdDir, fdsToRead(fds.left));
    fds.left -= open.length;
    const held = new NsFds();
    for (const fd of open) {
      const link = readNsLinkAt(fdDir, String(fd));
      if (link && isNsType(link[0])) held.add(fd, link[0], link[1]);
    }
    const nsfds = held.list();
    return nsfds === NONE && unread === 0 ? HOLDS_NOTHING : { nsfds, unread };
  } finally {
    procAt.close(fdDir);
  }
}

/** A process's nsfs files, one entry per namespace: [lowest fd, type, inode, how many fds]. */
export class NsFds {
  private byNs: Map<number, RawProcess['nsfds'][number]> | undefined;

  add(fd: number, type: NsType, inode: number): void {
    // An inode names one namespace, whatever its type (the kernel numbers them from one pool).
    this.byNs ??= new Map();
    const seen = this.byNs.get(inode);
    if (!seen) this.byNs.set(inode, [fd, type, inode, 1]);
    else {
      seen[0] = Math.min(seen[0], fd);
      seen[3]++;
    }
  }

  list(): RawProcess['nsfds'] {
    return this.byNs ? [...this.byNs.values()] : NONE;
  }
}
