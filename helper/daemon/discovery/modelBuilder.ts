// The model as one scan makes it: members, holders, pins, container hints.
import {
  ContainerHint,
  Holder,
  MAX_CUT_PIDS,
  MAX_HOLDERS,
  Namespace,
  NsType,
  NSTYPES,
  Process,
  ScanCut,
  nsId,
} from '../../common/protocol';
import type { EngineContainer } from './engines';
import type { RawMount } from './mountinfo';
import { ProcState, RawProcess, setOf } from './processes';
import type { ScanCache } from './scanCache';
import type { ScanContext } from './snapshot';

/** The model as it is put together from one scan, process by process and mount table by mount table. */
export class ModelBuilder {
  readonly namespaces = new Map<number, Namespace>();
  readonly processes: Process[] = [];
  readonly mountReaders = new Map<number, number>();
  /** The fds that the reads this model is made of left unread. */
  cut: ScanCut | undefined;
  /** Per namespace (by inode), how many of its processes each container hint got (by its key in `hints`). */
  readonly hintVotes = new Map<number, Map<string, number>>();
  readonly hints = new Map<string, ContainerHint>();
  /** The namespaces the engines' containers named (addContainers), with what they said: an update keeps it. */
  readonly named = new Map<number, Pick<Namespace, 'container' | 'hostname'>>();
  /** The pids of the processes that hold each namespace (by inode) by an fd or a *_for_children link. */
  readonly heldBy = new Map<number, Set<number>>();
  /** The process whose namespaces are the initial ones (markInitial). */
  initPid = 0;
  /** The pids of each namespace record (RawProcess.ns): processes that share all their namespaces share one (see ScanCache.intern). */
  private readonly byRecord = new Map<RawProcess['ns'], number[]>();
  /** The sets (setOf) whose cgroup names a container, with the key of its hint in `hints`. */
  readonly hinted = new Map<string, string>();

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

  /** A process: a holder of what its *_for_children links and nsfds fds name; its memberships wait for addMembers. */
  addProcess(p: RawProcess): void {
    let proc = this.made.get(p);
    if (!proc) this.made.set(p, (proc = makeProcess(p, this.ctx.userName)));
    const pids = this.byRecord.get(p.ns);
    if (pids) pids.push(p.pid);
    else this.byRecord.set(p.ns, [p.pid]);
    for (const [type, inode, holder] of heldBy(p)) {
      this.addHolder(this.namespace(type, inode), holder);
      const held = this.heldBy.get(inode);
      if (held) held.add(p.pid);
      else this.heldBy.set(inode, new Set([p.pid]));
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
    // In pid order, as an update keeps them: a diff of two lists in one order passes over what they share.
    for (const ns of this.namespaces.values()) if (ns.pids.length > 1) ns.pids.sort((a, b) => a - b);
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
  addContainers(found: EngineContainer[], processOf: (pid: number) => Process | undefined): EngineContainer[] {
    if (found.length === 0) return [];
    const named = new Set<string>();
    const out: EngineContainer[] = [];
    for (const c of found) {
      const p = c.pid !== undefined ? processOf(c.pid) : undefined;
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
        this.named.set(ns.inode, { container: ns.container, ...(ns.hostname ? { hostname: ns.hostname } : {}) });
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
    this.initPid = init.pid;
    for (const type of NSTYPES) {
      const inode = init.ns[type];
      if (inode !== undefined) this.namespace(type, inode).initial = true;
    }
  }
}

/** The Process a RawProcess is shown as. */
export function makeProcess(p: RawProcess, userName: (uid: number) => string): Process {
  const proc: Process = {
    pid: p.pid,
    ppid: p.ppid,
    comm: p.comm,
    cmdline: p.cmdline,
    uid: p.uid,
    user: userName(p.uid),
    ns: p.ns,
  };
  if (p.pidForChildren !== undefined) proc.pidForChildren = p.pidForChildren;
  if (p.timeForChildren !== undefined) proc.timeForChildren = p.timeForChildren;
  return proc;
}

/** What P holds besides its memberships, in the order a build lists it: its *_for_children links, then its nsfs fds. */
export function heldBy(p: RawProcess): [NsType, number, Holder][] {
  const out: [NsType, number, Holder][] = [];
  if (p.pidForChildren !== undefined)
    out.push(['pid', p.pidForChildren, { kind: 'pid_for_children', pid: p.pid, comm: p.comm }]);
  if (p.timeForChildren !== undefined)
    out.push(['time', p.timeForChildren, { kind: 'time_for_children', pid: p.pid, comm: p.comm }]);
  for (const [fd, type, inode, count] of p.nsfds)
    out.push([type, inode, { kind: 'fd', pid: p.pid, fd, comm: p.comm, ...(count > 1 ? { count } : {}) }]);
  return out;
}
