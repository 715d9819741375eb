// Turns what the scan workers read into the namespace model: members,
// holders, pins, container hints, and the hierarchy the nsfs ioctls report
// (owning user namespace, parent, owner uid). Namespaces that nothing but a
// child or an owned namespace keeps alive are found through those ioctls.
import { closeSync, constants, fstatSync, openSync, statSync } from 'node:fs';
import * as libc from '../../../native/libc';
import { ContainerHint, Holder, MAX_HOLDERS, Namespace, NsKey, NsType, NSTYPES, Pin, Process, Snapshot, nsId } from '../../common/protocol';
import { containerFromCgroup } from './containers';
import type { Found } from './engines';
import type { RawMount, RawProcess, RawScan } from './procfs';

/** How nsxd can open a namespace again: paths whose nsfs inode must be checked after open. */
export type Openers = Map<string, string[]>;

export interface ScanContext {
  /** nsxd's own mount namespace: mount paths in it are opened directly. */
  selfMntns: number;
  /** What the container engines reported, as the scan started. */
  containers: Found[];
  userName(uid: number): string;
  /** Recognizes a pin, or another tool's `ip netns` name, among nsfs mount paths of nsxd's mount namespace. */
  mountAt(path: string, type: NsType, inode: number): { pin: Pin } | { netns: string } | undefined;
}

export interface Model {
  snapshot: Snapshot;
  openers: Openers;
  /** The containers with what a shell in one needs (its environment), which the snapshot leaves out. */
  containers: Found[];
}

export function buildModel(raws: RawScan[], ctx: ScanContext, started: number): Model {
  const b = new ModelBuilder(ctx);
  for (const raw of raws) for (const p of raw.processes) b.addProcess(p);
  for (const raw of raws) for (const [mntns, pid, mounts] of raw.mounts) b.addMounts(mntns, pid, mounts);
  for (const raw of raws) for (const [netns, addresses] of raw.addresses) if (addresses.length) b.namespace('net', netns).addresses = addresses;
  b.assignContainers();
  b.markInitial();
  const containers = b.addContainers(ctx.containers);
  resolveHierarchy(b.namespaces, b.openers, (type, inode) => b.namespace(type, inode));
  return {
    snapshot: {
      namespaces: [...b.namespaces.values()],
      processes: b.processes,
      containers: containers.map(({ exec: _exec, ...c }) => c),
      scanMs: Date.now() - started,
    },
    openers: b.openers,
    containers,
  };
}

/** The model as it is put together from one scan, process by process and mount table by mount table. */
class ModelBuilder {
  readonly namespaces = new Map<string, Namespace>();
  readonly openers: Openers = new Map();
  readonly processes: Process[] = [];
  /** Per namespace, how many of its processes each container hint got. */
  private readonly hintVotes = new Map<string, Map<string, number>>();
  private readonly hints = new Map<string, ContainerHint>();
  private readonly seenMntns = new Set<number>();

  constructor(private readonly ctx: ScanContext) {}

  namespace(type: NsType, inode: number): Namespace {
    const id = nsId({ type, inode });
    let ns = this.namespaces.get(id);
    if (!ns) {
      ns = { type, inode, pids: [], holders: [], initial: false, pins: [] };
      this.namespaces.set(id, ns);
      this.openers.set(id, []);
    }
    return ns;
  }

  private addHolder(ns: Namespace, holder: Holder): void {
    // Names (pins, ip netns names) always count: only root can make them, and they are what users know a namespace by.
    const named = holder.kind === 'mount' && (holder.pin !== undefined || holder.netns !== undefined);
    if (ns.holders.length < MAX_HOLDERS || named) ns.holders.push(holder);
    else ns.holdersOmitted = (ns.holdersOmitted ?? 0) + 1;
  }

  /** A few paths nsxd can open the namespace by again; the first that still holds it wins. */
  private addOpener(ns: NsKey, path: string): void {
    const list = this.openers.get(nsId(ns))!;
    if (list.length < 3) list.push(path);
  }

  /** A process: a member of each of its namespaces, and a holder of what its *_for_children links and nsfs fds name. */
  addProcess(p: RawProcess): void {
    const proc: Process = { pid: p.pid, ppid: p.ppid, comm: p.comm, cmdline: p.cmdline, uid: p.uid, user: this.ctx.userName(p.uid), ns: p.ns };
    const hint = p.cgroup !== undefined ? containerFromCgroup(p.cgroup) : undefined;
    const hintKey = hint && JSON.stringify(hint);
    if (hint && hintKey) this.hints.set(hintKey, hint);
    for (const type of NSTYPES) {
      const inode = p.ns[type];
      if (inode === undefined) continue;
      const ns = this.namespace(type, inode);
      ns.pids.push(p.pid);
      this.addOpener(ns, `/proc/${p.pid}/ns/${type}`);
      if (hintKey) {
        const votes = this.hintVotes.get(nsId(ns)) ?? new Map<string, number>();
        votes.set(hintKey, (votes.get(hintKey) ?? 0) + 1);
        this.hintVotes.set(nsId(ns), votes);
      }
    }
    if (p.pidForChildren !== undefined) {
      proc.pidForChildren = p.pidForChildren;
      const ns = this.namespace('pid', p.pidForChildren);
      this.addHolder(ns, { kind: 'pid_for_children', pid: p.pid, comm: p.comm });
      this.addOpener(ns, `/proc/${p.pid}/ns/pid_for_children`);
    }
    if (p.timeForChildren !== undefined) {
      proc.timeForChildren = p.timeForChildren;
      const ns = this.namespace('time', p.timeForChildren);
      this.addHolder(ns, { kind: 'time_for_children', pid: p.pid, comm: p.comm });
      this.addOpener(ns, `/proc/${p.pid}/ns/time_for_children`);
    }
    for (const [fd, type, inode, count] of p.nsfds) {
      const ns = this.namespace(type, inode);
      this.addHolder(ns, { kind: 'fd', pid: p.pid, fd, comm: p.comm, ...(count > 1 ? { count } : {}) });
      this.addOpener(ns, `/proc/${p.pid}/fd/${fd}`);
    }
    this.processes.push(proc);
  }

  /** The nsfs mounts of one mount namespace (read through PID): holders, and in nsxd's own, pins and ip netns names. */
  addMounts(mntns: number, pid: number, mounts: RawMount[]): void {
    if (this.seenMntns.has(mntns)) return;
    this.seenMntns.add(mntns);
    const own = mntns === this.ctx.selfMntns;
    for (const m of mounts) {
      const ns = this.namespace(m.type, m.inode);
      const what = own ? this.ctx.mountAt(m.path, m.type, m.inode) : undefined;
      const pin = what && 'pin' in what ? what.pin : undefined;
      const netns = what && 'netns' in what ? what.netns : undefined;
      this.addHolder(ns, { kind: 'mount', path: m.path, mntns, ...(pin ? { pin: pin.name } : {}), ...(netns ? { netns } : {}) });
      if (pin) {
        const same = ns.pins.find((p) => p.name === pin.name);
        if (same) same.paths.push(...pin.paths);
        else ns.pins.push(pin);
      }
      this.addOpener(ns, own ? m.path : `/proc/${pid}/root${m.path}`);
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
  addContainers(found: Found[]): Found[] {
    const byPid = new Map(this.processes.map((p) => [p.pid, p]));
    const named = new Set<string>();
    const out: Found[] = [];
    for (const c of found) {
      const p = c.pid !== undefined ? byPid.get(c.pid) : undefined;
      const namespaces = p ? NSTYPES.flatMap((type) => (p.ns[type] !== undefined ? [{ type, inode: p.ns[type]! }] : [])) : [];
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
export function openChecked(paths: string[] | undefined, expected: NsKey): number | undefined {
  nsfsDev ??= statSync('/proc/self/ns/net').dev;
  for (const path of paths ?? []) {
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

/**
 * A namespace's owner, parent and owner uid are fixed for its life, so they are
 * asked once per namespace and kept while it exists (a freed inode is dropped
 * at the next scan, before it can be reused for another namespace).
 */
interface Lineage {
  owner?: number;
  parent?: number;
  ownerUid?: number;
}
const lineages = new Map<string, Lineage>();

function resolveHierarchy(namespaces: Map<string, Namespace>, openers: Openers, get: (type: NsType, inode: number) => Namespace): void {
  for (const id of lineages.keys()) if (!namespaces.has(id)) lineages.delete(id);
  // Known lineages first: their related namespaces must exist in the map too.
  for (const [id, ns] of namespaces) {
    const known = lineages.get(id);
    if (!known) continue;
    Object.assign(ns, known);
    if (known.owner !== undefined && !namespaces.has(nsId({ type: 'user', inode: known.owner }))) lineages.delete(id);
    if (known.parent !== undefined && !namespaces.has(nsId({ type: ns.type, inode: known.parent }))) lineages.delete(id);
  }
  resolveUnknown(namespaces, openers, get);
  for (const [id, ns] of namespaces) {
    if (!lineages.has(id) && (ns.owner !== undefined || ns.parent !== undefined)) {
      lineages.set(id, { owner: ns.owner, parent: ns.parent, ownerUid: ns.ownerUid });
    }
  }
}

function resolveUnknown(namespaces: Map<string, Namespace>, openers: Openers, get: (type: NsType, inode: number) => Namespace): void {
  // Fds from the ioctls open namespaces that may have no path at all; they are
  // processed in the same queue and closed when done.
  const done = new Set<string>([...lineages.keys()].filter((id) => namespaces.has(id)));
  const queue: [Namespace, number | undefined][] = [...namespaces.entries()].filter(([id]) => !done.has(id)).map(([, ns]) => [ns, undefined]);
  while (queue.length > 0) {
    const [ns, given] = queue.pop()!;
    const id = nsId(ns);
    if (done.has(id)) {
      if (given !== undefined) closeSync(given);
      continue;
    }
    const fd = given ?? openChecked(openers.get(id), ns);
    if (fd === undefined) continue;
    done.add(id);
    try {
      const related = (ioctl: (fd: number) => number, type: NsType, holder: Holder): number | undefined => {
        let rfd: number;
        try {
          rfd = ioctl(fd);
        } catch {
          return undefined; // EPERM at the top of nsxd's view, or not applicable
        }
        const inode = fstatSync(rfd).ino;
        const other = namespaces.get(nsId({ type, inode }));
        if (other && done.has(nsId(other))) {
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
