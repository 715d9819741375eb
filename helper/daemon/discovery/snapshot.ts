// Turns what a scan read, and the updates since, into the namespace model:
// members, holders, pins, container hints, and the hierarchy the nsfs ioctls
// report (owning user namespace, parent, owner uid). Namespaces that nothing
// but a child or an owned namespace keeps alive are found through those ioctls.
import { closeSync, constants, fstatSync, openSync, statSync } from 'node:fs';
import * as libc from '../../../native/libc';
import {
  ContainerHint,
  EngineApi,
  Holder,
  MAX_CUT_PIDS,
  MAX_HOLDERS,
  Namespace,
  NsKey,
  NsType,
  NSTYPES,
  Pin,
  Process,
  ScanCut,
  Snapshot,
  nsId,
} from '../../common/protocol';
import type { EngineContainer } from './engines';
import type { RawMount } from './mountinfo';
import { ProcState, RawProcess, setOf } from './processes';
import type { ScanCache } from './scanCache';

export interface ScanContext {
  /** nsxd's own mount namespace: mount paths in it are opened directly. */
  selfMntns: number;
  /** What the container engines reported, as the scan started, and which of their APIs answered. */
  containers: EngineContainer[];
  engines: EngineApi[];
  userName(uid: number): string;
  /** Recognizes a pin, or another tool's `ip netns` name, among nsfs mount paths of nsxd's mount namespace. */
  mountAt(path: string, type: NsType, inode: number): { pin: Pin } | { netns: string } | undefined;
}

export interface Model {
  snapshot: Snapshot;
  /** The namespaces by inode: the kernel numbers every namespace, of whatever type, from one pool (proc_alloc_inum). */
  byInode: Map<number, Namespace>;
  /** The process each mount namespace's table was read through: its mount paths are relative to that process's root. */
  mountReaders: Map<number, number>;
  selfMntns: number;
  /** The containers with what a shell in one needs (its environment), which the snapshot leaves out. */
  containers: EngineContainer[];
}

export function buildModel(state: ProcState, ctx: ScanContext, started: number, cache: ScanCache): Model {
  const b = new ModelBuilder(ctx, state.hints, cache.made);
  for (const p of state.processes.values()) b.addProcess(p);
  b.addMembers();
  // A patched state may still hold what a namespace nobody is in any more said; only a full scan forgets it.
  const lives = (inode: number) => (b.namespaces.get(inode)?.pids.length ?? 0) > 0;
  for (const [mntns, { pid, mounts }] of state.mounts) if (lives(mntns)) b.addMounts(mntns, pid, mounts);
  for (const [netns, addresses] of state.addresses)
    if (addresses.length && lives(netns)) b.namespaces.get(netns)!.addresses = addresses;
  b.assignContainers();
  b.markInitial();
  const containers = b.addContainers(ctx.containers);
  const model: Model = {
    snapshot: {
      namespaces: [],
      processes: b.processes,
      containers: containers.map(({ exec: _exec, ...c }) => c),
      engines: ctx.engines,
      scanMs: 0,
      ...(b.cut ? { cut: b.cut } : {}),
    },
    byInode: b.namespaces,
    mountReaders: b.mountReaders,
    selfMntns: ctx.selfMntns,
    containers,
  };
  resolveHierarchy(model, cache.lineages, (type, inode) => b.namespace(type, inode));
  model.snapshot.namespaces = [...b.namespaces.values()];
  model.snapshot.scanMs = Date.now() - started;
  return model;
}

/**
 * The paths nsxd can open a namespace by again: a few members' links, then
 * what holds it. Each must be checked after open (openChecked): a process
 * may have exited and its pid been reused.
 */
function openers(model: Model, ns: Namespace): string[] {
  const paths = ns.pids.slice(0, 3).map((pid) => `/proc/${pid}/ns/${ns.type}`);
  for (const h of ns.holders) {
    if (h.kind === 'fd') paths.push(`/proc/${h.pid}/fd/${h.fd}`);
    else if (h.kind === 'pid_for_children' || h.kind === 'time_for_children') paths.push(`/proc/${h.pid}/ns/${h.kind}`);
    else if (h.kind === 'mount')
      paths.push(h.mntns === model.selfMntns ? h.path : `/proc/${model.mountReaders.get(h.mntns)}/root${h.path}`);
  }
  return paths;
}

/** An fd to a namespace of the model, opened by the first of its paths that still holds it; undefined if none does. */
export function openNamespace(model: Model, key: NsKey): number | undefined {
  const ns = model.byInode.get(key.inode);
  return ns?.type === key.type ? openChecked(openers(model, ns), key) : undefined;
}

/** The model as it is put together from one scan, process by process and mount table by mount table. */
class ModelBuilder {
  readonly namespaces = new Map<number, Namespace>();
  readonly processes: Process[] = [];
  readonly mountReaders = new Map<number, number>();
  /** The fds that the reads this model is made of left unread. */
  cut: ScanCut | undefined;
  /** Per namespace (by inode), how many of its processes each container hint got. */
  private readonly hintVotes = new Map<number, Map<string, number>>();
  private readonly hints = new Map<string, ContainerHint>();
  /** The pids of each namespace record (RawProcess.ns): processes that share all their namespaces share one (see ScanCache.intern). */
  private readonly byRecord = new Map<RawProcess['ns'], number[]>();
  /** The sets (setOf) whose cgroup names a container, with the key of its hint in `hints`. */
  private readonly hinted = new Map<string, string>();

  constructor(
    private readonly ctx: ScanContext,
    hints: ProcState['hints'],
    private readonly made: ScanCache['made'],
  ) {
    for (const [set, hint] of hints) {
      if (!hint) continue;
      const key = JSON.stringify(hint);
      this.hints.set(key, hint);
      this.hinted.set(set, key);
    }
  }

  namespace(type: NsType, inode: number): Namespace {
    let ns = this.namespaces.get(inode);
    if (!ns) {
      ns = { type, inode, pids: [], holders: [], initial: false, pins: [] };
      this.namespaces.set(inode, ns);
    }
    return ns;
  }

  private addHolder(ns: Namespace, holder: Holder): void {
    // Names (pins, ip netns names) always count: only root can make them, and they are what users know a namespace by.
    const named = holder.kind === 'mount' && (holder.pin !== undefined || holder.netns !== undefined);
    if (ns.holders.length < MAX_HOLDERS || named) ns.holders.push(holder);
    else ns.holdersOmitted = (ns.holdersOmitted ?? 0) + 1;
  }

  /** A process: a holder of what its *_for_children links and nsfs fds name; its memberships wait for addMembers. */
  addProcess(p: RawProcess): void {
    let proc = this.made.get(p);
    if (!proc) {
      proc = {
        pid: p.pid,
        ppid: p.ppid,
        comm: p.comm,
        cmdline: p.cmdline,
        uid: p.uid,
        user: this.ctx.userName(p.uid),
        ns: p.ns,
      };
      if (p.pidForChildren !== undefined) proc.pidForChildren = p.pidForChildren;
      if (p.timeForChildren !== undefined) proc.timeForChildren = p.timeForChildren;
      this.made.set(p, proc);
    }
    const pids = this.byRecord.get(p.ns);
    if (pids) pids.push(p.pid);
    else this.byRecord.set(p.ns, [p.pid]);
    if (p.pidForChildren !== undefined)
      this.addHolder(this.namespace('pid', p.pidForChildren), { kind: 'pid_for_children', pid: p.pid, comm: p.comm });
    if (p.timeForChildren !== undefined)
      this.addHolder(this.namespace('time', p.timeForChildren), {
        kind: 'time_for_children',
        pid: p.pid,
        comm: p.comm,
      });
    for (const [fd, type, inode, count] of p.nsfds) {
      this.addHolder(this.namespace(type, inode), {
        kind: 'fd',
        pid: p.pid,
        fd,
        comm: p.comm,
        ...(count > 1 ? { count } : {}),
      });
    }
    if (p.fdsUnread) {
      this.cut ??= { processes: 0, fds: 0, pids: [] };
      this.cut.processes++;
      this.cut.fds += p.fdsUnread;
      if (this.cut.pids.length < MAX_CUT_PIDS) this.cut.pids.push(p.pid);
    }
    this.processes.push(proc);
  }

  /**
   * Every process a member of each of its namespaces, a record at a time (a
   * host of 20,000 processes has a few thousand records); a record's processes
   * share their set, so they vote together for the container its cgroup names.
   */
  addMembers(): void {
    for (const [record, pids] of this.byRecord) {
      const hint = this.hinted.size > 0 ? this.hinted.get(setOf(record)) : undefined;
      for (const type of NSTYPES) {
        if (record[type] === undefined) continue;
        const ns = this.namespace(type, record[type]!);
        for (const pid of pids) ns.pids.push(pid);
        if (hint) {
          let votes = this.hintVotes.get(ns.inode);
          if (!votes) this.hintVotes.set(ns.inode, (votes = new Map()));
          votes.set(hint, (votes.get(hint) ?? 0) + pids.length);
        }
      }
    }
  }

  /** The nsfs mounts of one mount namespace (read through PID): holders, and in nsxd's own, pins and ip netns names. */
  addMounts(mntns: number, pid: number, mounts: RawMount[]): void {
    this.mountReaders.set(mntns, pid);
    const own = mntns === this.ctx.selfMntns;
    for (const m of mounts) {
      const ns = this.namespace(m.type, m.inode);
      const what = own ? this.ctx.mountAt(m.path, m.type, m.inode) : undefined;
      const pin = what && 'pin' in what ? what.pin : undefined;
      const netns = what && 'netns' in what ? what.netns : undefined;
      this.addHolder(ns, {
        kind: 'mount',
        path: m.path,
        mntns,
        ...(pin ? { pin: pin.name } : {}),
        ...(netns ? { netns } : {}),
      });
      if (pin) {
        const same = ns.pins.find((p) => p.name === pin.name);
        if (same) same.paths.push(...pin.paths);
        else ns.pins.push(pin);
      }
    }
  }

  /** A namespace is a container's only when its processes agree and some are not in it by chance (the host). */
  assignContainers(): void {
    for (const [id, votes] of this.hintVotes) {
      if (votes.size !== 1) continue;
      const ns = this.namespaces.get(id)!;
      const [[key, count]] = [...votes];
      if (count * 2 > ns.pids.length) ns.container = this.hints.get(key);
    }
  }

  /**
   * The containers engines reported, each with the namespaces of its first
   * process, and those namespaces named after it: by the engine's word, so the
   * name stays while other processes (our shells) join. The host's own
   * namespaces (a container run with --net=host, say) keep no container name;
   * a namespace that a pod's containers share is the pod's.
   */
  addContainers(found: EngineContainer[]): EngineContainer[] {
    if (found.length === 0) return [];
    const byPid = new Map(this.processes.map((p) => [p.pid, p]));
    const named = new Set<string>();
    const out: EngineContainer[] = [];
    for (const c of found) {
      const p = c.pid !== undefined ? byPid.get(c.pid) : undefined;
      const namespaces = p
        ? NSTYPES.flatMap((type) => (p.ns[type] !== undefined ? [{ type, inode: p.ns[type]! }] : []))
        : [];
      out.push({ ...c, ...(p ? {} : { pid: undefined }), namespaces });
      for (const key of namespaces) {
        const ns = this.namespace(key.type, key.inode);
        if (ns.initial) continue;
        if (key.type === 'uts' && c.hostname) ns.hostname = c.hostname;
        if (!named.has(nsId(ns))) ns.container = { runtime: c.engine, id: c.id.slice(0, 12), name: c.name };
        else if (c.pod) ns.container = { runtime: c.engine, id: c.pod, name: c.pod };
        named.add(nsId(ns));
      }
    }
    return out;
  }

  /**
   * The initial namespaces are PID 1's; where PID 1 hides its links (a sandbox's
   * init may), the oldest process whose links nsxd can read stands in.
   */
  markInitial(): void {
    const init = this.processes.reduce<Process | undefined>((a, p) => (!a || p.pid < a.pid ? p : a), undefined);
    if (!init) return;
    for (const type of NSTYPES) {
      const inode = init.ns[type];
      if (inode !== undefined) this.namespace(type, inode).initial = true;
    }
  }
}

/** The device of nsfs: every namespace file is on it. */
let nsfsDev: number | undefined;

/**
 * Opens a namespace by the first of its paths whose nsfs inode still matches.
 * A path through another process's root (a bind mount in a container) may have
 * been bent by that container to point anywhere, a device or a FIFO included,
 * so it is first only named (O_PATH: nothing is opened, nothing waits), and
 * opened for real, through that very fd, only once it is the namespace.
 */
function openChecked(paths: string[], expected: NsKey): number | undefined {
  nsfsDev ??= statSync('/proc/self/ns/net').dev;
  for (const path of paths) {
    let named: number;
    try {
      named = openSync(path, libc.O_PATH); // Node opens every fd close-on-exec
    } catch {
      continue;
    }
    let fd: number | undefined;
    try {
      const st = fstatSync(named);
      if (st.dev === nsfsDev && st.ino === expected.inode) fd = openSync(`/proc/self/fd/${named}`, constants.O_RDONLY);
      if (fd !== undefined && libc.nsGetNstype(fd) === libc.CLONE_NEW[expected.type]) return fd;
    } catch {
      // gone, or not a namespace after all
    } finally {
      closeSync(named);
    }
    if (fd !== undefined) closeSync(fd);
  }
  return undefined;
}

/** Each namespace's owner, parent and owner uid: from LINEAGES where known, else asked of the kernel and kept there. */
function resolveHierarchy(
  model: Model,
  lineages: ScanCache['lineages'],
  get: (type: NsType, inode: number) => Namespace,
): void {
  const namespaces = model.byInode;
  const exists = (type: NsType, inode: number) => namespaces.get(inode)?.type === type;
  for (const [inode, known] of lineages) if (!exists(known.type, inode)) lineages.delete(inode);
  // Known lineages first: their related namespaces must exist in the map too.
  for (const [inode, known] of lineages) {
    const { type: _type, ...lineage } = known;
    Object.assign(namespaces.get(inode)!, lineage);
    if (
      (known.owner !== undefined && !exists('user', known.owner)) ||
      (known.parent !== undefined && !exists(known.type, known.parent))
    )
      lineages.delete(inode);
  }
  resolveUnknown(model, new Set(lineages.keys()), get);
  for (const ns of namespaces.values()) {
    if (!lineages.has(ns.inode) && (ns.owner !== undefined || ns.parent !== undefined)) {
      lineages.set(ns.inode, { type: ns.type, owner: ns.owner, parent: ns.parent, ownerUid: ns.ownerUid });
    }
  }
}

/** Asks the kernel for the lineage of every namespace not in DONE (by inode). */
function resolveUnknown(model: Model, done: Set<number>, get: (type: NsType, inode: number) => Namespace): void {
  const namespaces = model.byInode;
  // Fds from the ioctls open namespaces that may have no path at all; they are
  // processed in the same queue and closed when done.
  const queue: [Namespace, number | undefined][] = [...namespaces.entries()]
    .filter(([inode]) => !done.has(inode))
    .map(([, ns]) => [ns, undefined]);
  while (queue.length > 0) {
    const [ns, given] = queue.pop()!;
    if (done.has(ns.inode)) {
      if (given !== undefined) closeSync(given);
      continue;
    }
    const fd = given ?? openChecked(openers(model, ns), ns);
    if (fd === undefined) continue;
    done.add(ns.inode);
    try {
      const related = (ioctl: (fd: number) => number, type: NsType, holder: Holder): number | undefined => {
        let rfd: number;
        try {
          rfd = ioctl(fd);
        } catch {
          return undefined; // EPERM at the top of nsxd's view, or not applicable
        }
        const inode = fstatSync(rfd).ino;
        const other = namespaces.get(inode);
        if (other && done.has(inode)) {
          closeSync(rfd);
        } else {
          const target = other ?? get(type, inode);
          if (!other || (target.pids.length === 0 && target.holders.length === 0)) target.holders.push(holder);
          queue.push([target, rfd]);
        }
        return inode;
      };
      ns.owner = related(libc.nsGetUserns, 'user', { kind: 'owner', of: { type: ns.type, inode: ns.inode } });
      if (ns.type === 'pid' || ns.type === 'user') {
        ns.parent = related(libc.nsGetParent, ns.type, { kind: 'child', of: { type: ns.type, inode: ns.inode } });
      }
      if (ns.type === 'user') ns.ownerUid = libc.nsGetOwnerUid(fd);
    } finally {
      closeSync(fd);
    }
  }
}
