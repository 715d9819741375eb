// An update's model: the last one with only what the processes an event
// named touch made again (their namespaces' members and container votes, the
// processes themselves), and what changed said from the patch, not found by
// comparing two models: at 20,000 processes a fork costs what it changed.
// What an update cannot tell by itself is left to a full build: holders (fds,
// *_for_children, mounts), the initial namespaces, the engines' containers,
// and a user or pid namespace left without members that its children or
// what it owns keep.
import {
  ContainerHint,
  Namespace,
  NamespaceChange,
  NamespacesChanged,
  NSTYPES,
  NsType,
  Process,
} from '../../common/protocol';
import { emptyChange, isEmpty, same } from './diff';
import { resolveFresh } from './hierarchy';
import { allHolders, heldAfter, mountsMoved, processHolders } from './modelHolders';
import type { RawMount } from './mountinfo';
import { makeProcess } from './modelBuilder';
import { ProcState, RawProcess, setOf } from './processes';
import type { ScanCache } from './scanCache';
import type { Model, ScanContext } from './snapshot';

/** What a full build knew besides the snapshot, for the updates after it. */
export interface ModelIndex {
  /** Where each namespace (by inode) and each process (by pid) is in the snapshot's lists. */
  nsAt: Map<number, number>;
  procAt: Map<number, number>;
  /** Per namespace, how many of its processes each container hint (by key) got; the hints by key; each set's key. */
  votes: Map<number, Map<string, number>>;
  hints: Map<string, ContainerHint>;
  hinted: Map<string, string>;
  /** What the engines' containers named, by inode; the processes they named them by. */
  named: Map<number, Pick<Namespace, 'container' | 'hostname'>>;
  enginePids: Set<number>;
  /** The process whose namespaces are the initial ones. */
  initPid: number;
  /** The pids of the processes that hold each namespace (by inode) by an fd or a *_for_children link. */
  heldBy: Map<number, Set<number>>;
  /** nsxd's own nsfs mounts (pins, ip netns names), as the model has them. */
  ownMounts: RawMount[];
}

/** The processes an update read again: each pid with what the state had for it at the model's build. */
export type Reread = Map<number, RawProcess | undefined>;

type Pair = [pid: number, was: RawProcess | undefined, now: RawProcess | undefined];

/** What the update does to one namespace: the pids that join and leave it, and the votes its container gets. */
interface Touch {
  type: NsType;
  joined: number[];
  left: number[];
  votes: Map<string, number>;
  /** Where the processes that hold it by fds or links changed: those that hold it after. */
  held?: Set<number>;
  /** Whether its mounts in nsxd's own mount namespace changed. */
  mounts?: boolean;
}

/**
 * Applies the processes in REREAD (as STATE has them now) to MODEL, in place:
 * its snapshot becomes a new one, and the one before stays as it was. Returns
 * what changed (undefined: nothing), or false, with MODEL untouched, where
 * only a full build can tell.
 */
export function applyPatch(
  model: Model,
  state: ProcState,
  reread: Reread,
  ctx: ScanContext,
  cache: ScanCache,
): NamespacesChanged | undefined | false {
  const idx = model.index;
  if (!idx || ctx.selfMntns !== model.selfMntns) return false;
  const ownMounts = state.mounts.get(ctx.selfMntns)?.mounts ?? [];
  const pairs: Pair[] = [];
  for (const [pid, was] of reread) {
    const now = state.processes.get(pid);
    if (pid <= idx.initPid || idx.enginePids.has(pid) || !plain(was) || !plain(now)) return false;
    if (was && !cache.made.has(was)) return false;
    pairs.push([pid, was, now]);
  }
  const touches = touchesOf(pairs, (set) => hintKey(idx, state, set));
  for (const [inode, { type, pids }] of heldAfter(pairs, idx.heldBy)) {
    const t = touches.get(inode);
    if (t && t.type !== type) return false;
    if (t) t.held = pids;
    else touches.set(inode, { type, joined: [], left: [], votes: new Map(), held: pids });
  }
  for (const [inode, type] of mountsMoved(idx.ownMounts, ownMounts)) {
    const t = touches.get(inode);
    if (t && t.type !== type) return false;
    if (t) t.mounts = true;
    else touches.set(inode, { type, joined: [], left: [], votes: new Map(), mounts: true });
  }
  const next = namespacesNext(model, state, touches, ctx, cache);
  if (!next) return false;
  const change = emptyChange(0, model.snapshot.cut);
  const processes = processesNext(model, pairs, change, ctx, cache);
  const namespaces = commitNamespaces(model, state, next, touches, change, cache);
  idx.ownMounts = ownMounts;
  model.snapshot = { ...model.snapshot, namespaces, processes };
  return isEmpty(change) ? undefined : change;
}

/** A process whose fds were all read: what a cut leaves out is counted by a full build. */
const plain = (p: RawProcess | undefined): boolean => !p || !p.fdsUnread;

/** The key of the container hint a set's cgroup gave, if any; a set new since the build is added to the index. */
function hintKey(idx: ModelIndex, state: ProcState, set: string): string | undefined {
  const known = idx.hinted.get(set);
  if (known !== undefined) return known;
  const hint = state.hints.get(set);
  if (!hint) return undefined;
  const key = JSON.stringify(hint);
  if (!idx.hints.has(key)) idx.hints.set(key, hint);
  idx.hinted.set(set, key);
  return key;
}

/** For each namespace the pairs' processes were or are in, what they change of it. */
function touchesOf(pairs: Pair[], keyOf: (set: string) => string | undefined): Map<number, Touch> {
  const touches = new Map<number, Touch>();
  const touch = (type: NsType, inode: number) => {
    let t = touches.get(inode);
    if (!t) touches.set(inode, (t = { type, joined: [], left: [], votes: new Map() }));
    return t;
  };
  const vote = (t: Touch, key: string | undefined, by: number) => {
    if (key !== undefined) t.votes.set(key, (t.votes.get(key) ?? 0) + by);
  };
  for (const [pid, was, now] of pairs) {
    const wasKey = was && keyOf(setOf(was.ns));
    const nowKey = now && keyOf(setOf(now.ns));
    for (const type of NSTYPES) {
      const before = was?.ns[type];
      const after = now?.ns[type];
      if (before !== undefined) {
        const t = touch(type, before);
        vote(t, wasKey, -1);
        if (before !== after) t.left.push(pid);
      }
      if (after !== undefined) {
        const t = touch(type, after);
        vote(t, nowKey, 1);
        if (before !== after) t.joined.push(pid);
      }
    }
  }
  return touches;
}

/**
 * Each touched namespace as it is now: the model's own object where nothing
 * of it changed, a new one where something did, null where it is gone.
 * Undefined where a full build must tell.
 */
function namespacesNext(
  model: Model,
  state: ProcState,
  touches: Map<number, Touch>,
  ctx: ScanContext,
  cache: ScanCache,
) {
  const idx = model.index!;
  const next = new Map<number, Namespace | null>();
  const mounted = (inode: number) => (state.mounts.get(inode)?.mounts.length ?? 0) > 0;
  for (const [inode, t] of touches) {
    const old = model.byInode.get(inode);
    if (old && old.type !== t.type) return undefined; // an inode of another type: the model is behind
    // Kept by its children or what it owns: those holders are a full build's (the kernel's lineage).
    const lineal = old?.holders.some((h) => h.kind === 'child' || h.kind === 'owner');
    if (lineal && (t.held || t.mounts || old!.pids.length === 0)) return undefined;
    const pids = t.joined.length || t.left.length ? withPids(old?.pids ?? [], t.joined, t.left) : (old?.pids ?? []);
    const mountHeld = t.mounts || old?.holders.some((h) => h.kind === 'mount');
    const processes = t.held ?? model.index!.heldBy.get(inode) ?? new Set<number>();
    const live = (mntns: number) => (model.byInode.get(mntns)?.pids.length ?? 0) > 0;
    const held: (Pick<Namespace, 'holders' | 'holdersOmitted'> & { pins?: Namespace['pins'] }) | undefined =
      t.held || t.mounts
        ? mountHeld
          ? allHolders(t.type, inode, processes, state, ctx, live, cache.made)
          : processHolders(inode, processes, state)
        : undefined;
    if (pids.length === 0 && (held ?? old ?? { holders: [] }).holders.length === 0) {
      if (!old) continue;
      if (old.initial || ((t.type === 'user' || t.type === 'pid') && keptByLineage(model, t.type, inode)))
        return undefined;
      if (t.type === 'mnt' && mounted(inode)) return undefined;
      next.set(inode, null);
      continue;
    }
    // A mount namespace whose mounts start or stop counting (as it gains or loses members) is a full build's.
    if (t.type === 'mnt' && (old?.pids.length ?? 0) > 0 !== pids.length > 0 && mounted(inode)) return undefined;
    const ns: Namespace = old ? { ...old, pids } : { type: t.type, inode, pids, holders: [], initial: false, pins: [] };
    if (held) {
      ns.holders = held.holders;
      if (held.holdersOmitted) ns.holdersOmitted = held.holdersOmitted;
      else delete ns.holdersOmitted;
      if (held.pins) ns.pins = held.pins;
    }
    const container =
      idx.named.get(inode)?.container ?? voted(idx, votesAfter(idx.votes.get(inode), t.votes), pids.length);
    if (container) ns.container = container;
    else delete ns.container;
    const addresses = t.type === 'net' && pids.length ? state.addresses.get(inode) : undefined;
    if (addresses?.length) ns.addresses = addresses;
    else delete ns.addresses;
    next.set(inode, old && pids === old.pids && same(old, ns, 'pids') ? old : ns);
  }
  return next;
}

/**
 * Whether a namespace of the model is INODE's child (a pid or user
 * namespace's) or owned by it (a user namespace's): those keep it alive
 * without members, which only a full build can tell. A walk over the
 * namespaces (a few thousand, well under a millisecond), only when a pid or
 * user namespace is left without members and holders: the last exit of a
 * container's processes, not every event.
 */
function keptByLineage(model: Model, type: NsType, inode: number): boolean {
  for (const ns of model.snapshot.namespaces)
    if ((ns.parent === inode && ns.type === type) || (type === 'user' && ns.owner === inode)) return true;
  return false;
}

/** SORTED with the pids of JOINED in and those of LEFT out, in a new list. */
function withPids(sorted: number[], joined: number[], left: number[]): number[] {
  const out = sorted.slice();
  for (const pid of left) {
    const i = lowerBound(out, pid);
    if (out[i] === pid) out.splice(i, 1);
  }
  for (const pid of joined) {
    const i = lowerBound(out, pid);
    if (out[i] !== pid) out.splice(i, 0, pid);
  }
  return out;
}

function lowerBound(xs: number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A namespace's votes with DELTA added, without the hints left at none. */
function votesAfter(votes: Map<string, number> | undefined, delta: Map<string, number>): Map<string, number> {
  const out = new Map(votes);
  for (const [key, by] of delta) {
    const n = (out.get(key) ?? 0) + by;
    if (n > 0) out.set(key, n);
    else out.delete(key);
  }
  return out;
}

/** As ModelBuilder.assignContainers: a namespace is a container's when its processes agree, and most are in it. */
function voted(idx: ModelIndex, votes: Map<string, number>, members: number): ContainerHint | undefined {
  if (votes.size !== 1) return undefined;
  const [[key, count]] = [...votes];
  return count * 2 > members ? idx.hints.get(key) : undefined;
}

/** The snapshot's processes with the pairs' applied (a copy: the snapshot before stays), and told in CHANGE. */
function processesNext(
  model: Model,
  pairs: Pair[],
  change: NamespacesChanged,
  ctx: ScanContext,
  cache: ScanCache,
): Process[] {
  const at = model.index!.procAt;
  const list = model.snapshot.processes.slice();
  for (const [pid, was, now] of pairs) {
    const before = was && cache.made.get(was);
    let after = now && cache.made.get(now);
    if (now && !after) cache.made.set(now, (after = makeProcess(now, ctx.userName)));
    const i = at.get(pid);
    if (!after) {
      if (i !== undefined) removeAt(list, i, at, (p) => p.pid);
      if (before) change.processesRemoved.push(pid);
      continue;
    }
    if (i === undefined) {
      at.set(pid, list.length);
      list.push(after);
    } else list[i] = after;
    if (!before) change.processesAdded.push(after);
    else if (!same(before, after)) change.processesChanged.push(after);
  }
  return list;
}

/** Takes LIST's item at I out by putting its last in its place, and keeps AT (each item's place by key) true. */
function removeAt<T>(list: T[], i: number, at: Map<number, number>, key: (item: T) => number): void {
  at.delete(key(list[i]));
  const last = list.pop()!;
  if (i === list.length) return;
  list[i] = last;
  at.set(key(last), i);
}

/**
 * The namespaces NEXT says into the model (byInode, the index, a new list),
 * and told in CHANGE: the pids that joined and left each, from the patch;
 * new ones' lineages are asked of the kernel (and what those find added too).
 */
function commitNamespaces(
  model: Model,
  state: ProcState,
  next: Map<number, Namespace | null>,
  touches: Map<number, Touch>,
  change: NamespacesChanged,
  cache: ScanCache,
): Namespace[] {
  const idx = model.index!;
  const list = model.snapshot.namespaces.slice();
  const fresh: Namespace[] = [];
  const add = (ns: Namespace) => {
    model.byInode.set(ns.inode, ns);
    idx.nsAt.set(ns.inode, list.length);
    list.push(ns);
    fresh.push(ns);
    if (ns.type === 'mnt' && state.mounts.has(ns.inode))
      model.mountReaders.set(ns.inode, state.mounts.get(ns.inode)!.pid);
  };
  for (const [inode, ns] of next) {
    const t = touches.get(inode)!;
    if (t.held?.size) idx.heldBy.set(inode, t.held);
    else if (t.held) idx.heldBy.delete(inode);
    const votes = votesAfter(idx.votes.get(inode), t.votes);
    if (votes.size && ns) idx.votes.set(inode, votes);
    else idx.votes.delete(inode);
    const old = model.byInode.get(inode);
    if (ns === old) continue;
    if (!ns) {
      removeAt(list, idx.nsAt.get(inode)!, idx.nsAt, (n) => n.inode);
      model.byInode.delete(inode);
      model.mountReaders.delete(inode);
      cache.lineages.delete(inode);
      change.removed.push({ type: t.type, inode });
    } else if (!old) add(ns);
    else {
      list[idx.nsAt.get(inode)!] = ns;
      model.byInode.set(inode, ns);
      const { pids: _pids, ...rest } = ns;
      const nsChange: NamespaceChange = { ...rest, pidsAdded: t.joined, pidsRemoved: t.left };
      change.changed.push(nsChange);
    }
  }
  const own = state.mounts.get(model.selfMntns);
  if (own) model.mountReaders.set(model.selfMntns, own.pid);
  resolveFresh(model, fresh.slice(), cache.lineages, (type, inode) => {
    const ns: Namespace = { type, inode, pids: [], holders: [], initial: false, pins: [] };
    add(ns);
    return ns;
  });
  change.added.push(...fresh);
  return list;
}
