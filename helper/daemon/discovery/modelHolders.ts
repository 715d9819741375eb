// What holds a namespace besides its members, as an update changes it: the
// processes that hold it by an fd or a *_for_children link, listed by pid,
// the first MAX_HOLDERS of them, as a full build lists them (modelBuilder.ts).
import { Holder, MAX_HOLDERS, Namespace, NsType } from '../../common/protocol';
import { heldBy, ModelBuilder } from './modelBuilder';
import type { RawMount } from './mountinfo';
import type { ProcState, RawProcess } from './processes';
import type { ScanCache } from './scanCache';
import type { ScanContext } from './snapshot';

/** The namespaces, by inode, whose mounts in BEFORE and AFTER (one mount namespace's nsfs mounts) differ, with their types. */
export function mountsMoved(before: RawMount[], after: RawMount[]): Map<number, NsType> {
  const moved = new Map<number, NsType>();
  if (before === after) return moved;
  const key = (m: RawMount) => `${m.type} ${m.inode} ${m.path}`;
  const had = new Set(before.map(key));
  const has = new Set(after.map(key));
  for (const m of before) if (!has.has(key(m))) moved.set(m.inode, m.type);
  for (const m of after) if (!had.has(key(m))) moved.set(m.inode, m.type);
  return moved;
}

/**
 * Everything but its lineage that holds namespace INODE, as a full build lists
 * it: the processes PIDS, then the mounts of each mount namespace that LIVE
 * says has members, with the pins and names among nsxd's own.
 */
export function allHolders(
  type: NsType,
  inode: number,
  pids: Set<number>,
  state: ProcState,
  ctx: ScanContext,
  live: (mntns: number) => boolean,
  made: ScanCache['made'],
): Pick<Namespace, 'holders' | 'holdersOmitted' | 'pins'> {
  const b = new ModelBuilder(ctx, new Map(), made);
  const ns = b.namespace(type, inode);
  Object.assign(ns, processHolders(inode, pids, state));
  for (const [mntns, { pid, mounts }] of state.mounts) {
    const mine = mounts.filter((m) => m.inode === inode);
    if (mine.length && live(mntns)) b.addMounts(mntns, pid, mine);
  }
  return { holders: ns.holders, pins: ns.pins, ...(ns.holdersOmitted ? { holdersOmitted: ns.holdersOmitted } : {}) };
}

/**
 * For each namespace that WAS or NOW (a process as the model had it, as it
 * is) holds, the pids that hold it after: HELD, the model's, with that
 * process taken out or put in. The type of each is its holder's.
 */
export function heldAfter(
  pairs: [pid: number, was: RawProcess | undefined, now: RawProcess | undefined][],
  held: Map<number, Set<number>>,
): Map<number, { type: NsType; pids: Set<number> }> {
  const out = new Map<number, { type: NsType; pids: Set<number> }>();
  const entry = (type: NsType, inode: number) => {
    let e = out.get(inode);
    if (!e) out.set(inode, (e = { type, pids: new Set(held.get(inode)) }));
    return e;
  };
  for (const [pid, was, now] of pairs) {
    if (was) for (const [type, inode] of heldBy(was)) entry(type, inode).pids.delete(pid);
    if (now) for (const [type, inode] of heldBy(now)) entry(type, inode).pids.add(pid);
  }
  return out;
}

/** The holders of namespace INODE that the processes PIDS are, as a full build lists them, and how many it leaves out. */
export function processHolders(
  inode: number,
  pids: Set<number>,
  state: ProcState,
): Pick<Namespace, 'holders' | 'holdersOmitted'> {
  const holders: Holder[] = [];
  let omitted = 0;
  for (const pid of [...pids].sort((a, b) => a - b)) {
    const p = state.processes.get(pid);
    if (!p) continue;
    for (const [, held, holder] of heldBy(p)) {
      if (held !== inode) continue;
      if (holders.length < MAX_HOLDERS) holders.push(holder);
      else omitted++;
    }
  }
  return { holders, ...(omitted ? { holdersOmitted: omitted } : {}) };
}
