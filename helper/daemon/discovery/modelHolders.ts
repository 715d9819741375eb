// What holds a namespace besides its members, as an update changes it: the
// processes that hold it by an fd or a *_for_children link, listed by pid,
// the first MAX_HOLDERS of them, as a full build lists them (modelBuilder.ts).
import { Holder, MAX_HOLDERS, Namespace, NsType } from '../../common/protocol';
import { heldBy } from './modelBuilder';
import type { ProcState, RawProcess } from './processes';

/** A holder that a process is: what an update can list again by itself (mounts and lineages are a full build's). */
export const isProcessHolder = (h: Holder): boolean =>
  h.kind === 'fd' || h.kind === 'pid_for_children' || h.kind === 'time_for_children';

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
