// Turns what a scan read, and the updates since, into the namespace model:
// members, holders, pins, container hints (modelBuilder.ts), and the
// hierarchy the nsfs ioctls report (hierarchy.ts).
import type { EngineApi, Namespace, NsType, Pin, Snapshot } from '../../common/protocol';
import type { EngineContainer } from './engines';
import { sameNamespace } from './diff';
import { resolveHierarchy } from './hierarchy';
import { ModelBuilder } from './modelBuilder';
import type { ModelIndex } from './modelUpdate';
import type { ProcState, RawProcess } from './processes';
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
  /** What the updates after a full build change in place (see applyPatch): the snapshot becomes a new one each time. */
  index?: ModelIndex;
}

export function buildModel(
  state: ProcState,
  ctx: ScanContext,
  started: number,
  cache: ScanCache,
  previous?: Model,
): Model {
  const b = new ModelBuilder(ctx, state.hints, cache.made);
  for (const p of inPidOrder(state.processes)) b.addProcess(p);
  b.addMembers();
  // A patched state may still hold what a namespace nobody is in any more said; only a full scan forgets it.
  const lives = (inode: number) => (b.namespaces.get(inode)?.pids.length ?? 0) > 0;
  for (const [mntns, { pid, mounts }] of state.mounts) if (lives(mntns)) b.addMounts(mntns, pid, mounts);
  for (const [netns, addresses] of state.addresses)
    if (addresses.length && lives(netns)) b.namespaces.get(netns)!.addresses = addresses;
  b.assignContainers();
  b.markInitial();
  // Each process's Process as this build made it, found without a map of every process.
  const containers = b.addContainers(ctx.containers, (pid) => {
    const raw = state.processes.get(pid);
    return raw && cache.made.get(raw);
  });
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
  if (previous) keepUnchanged(model, previous);
  model.index = indexOf(b, model, state, ctx);
  model.snapshot.scanMs = Date.now() - started;
  return model;
}

/**
 * The processes by pid: a namespace's holders are listed (and the first
 * MAX_HOLDERS kept) in this order, which an update that changes them keeps.
 */
function inPidOrder(processes: ProcState['processes']): Iterable<RawProcess> {
  let last = -1;
  for (const pid of processes.keys()) {
    if (pid < last) return [...processes.values()].sort((a, b) => a.pid - b.pid);
    last = pid;
  }
  return processes.values();
}

/** What the updates after this build need of it (see ModelIndex). */
function indexOf(b: ModelBuilder, model: Model, state: ProcState, ctx: ScanContext): ModelIndex {
  const nsAt = new Map<number, number>();
  model.snapshot.namespaces.forEach((ns, i) => nsAt.set(ns.inode, i));
  const procAt = new Map<number, number>();
  model.snapshot.processes.forEach((p, i) => procAt.set(p.pid, i));
  const enginePids = new Set<number>();
  for (const c of ctx.containers) if (c.pid !== undefined) enginePids.add(c.pid);
  return {
    nsAt,
    procAt,
    votes: b.hintVotes,
    hints: b.hints,
    hinted: b.hinted,
    named: b.named,
    enginePids,
    initPid: b.initPid,
    heldBy: b.heldBy,
    ownMounts: state.mounts.get(ctx.selfMntns)?.mounts ?? [],
  };
}

/**
 * Each namespace that is as it was in PREVIOUS becomes PREVIOUS's object
 * again: the one just built dies young instead of living on in the heap until
 * the next build (at 20,000 processes, garbage collection of whole models was
 * most of what an update cost), and the watcher's diff passes it over by
 * identity. Nothing changes a model's namespaces once it is built.
 */
function keepUnchanged(model: Model, previous: Model): void {
  const list = model.snapshot.namespaces;
  for (let i = 0; i < list.length; i++) {
    const old = previous.byInode.get(list[i].inode);
    if (old && old !== list[i] && sameNamespace(old, list[i])) {
      list[i] = old;
      model.byInode.set(old.inode, old);
    }
  }
}
