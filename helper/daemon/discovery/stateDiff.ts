// What a full scan read anew against the state before it (what the last
// model was built from, with every update since): the processes whose
// records are not the ones they were (a process that reads as it did is the
// record it was, see withLinks in processes.ts), when all else it read is
// as it was. A full scan of a quiet host (the schedule, a rescan asked for,
// events lost) then patches the model as an update does (applyPatch), where
// building it whole costs ~90 ms and its garbage at 20,000 processes.
import type { RawMount } from './mountinfo';
import type { Reread } from './modelUpdate';
import type { ProcState } from './processes';

/**
 * The processes of AFTER that are new, changed or gone since BEFORE, each
 * with its record in BEFORE; undefined if there are more than MAX, or if a
 * mount table, addresses or a cgroup BEFORE had is not AFTER's. What only
 * AFTER has is a new process's, which applyPatch takes from the state as an
 * update does (it refuses a new mount namespace with nsfs mounts); what only
 * BEFORE has is of namespaces nobody is in any more, and must say nothing.
 * The table of SELF (nsxd's own mount namespace: pins, ip netns names) is
 * applyPatch's to compare, as it does at every update.
 */
export function rereadSince(before: ProcState, after: ProcState, self: number, max: number): Reread | undefined {
  for (const [mntns, a] of before.mounts) {
    const b = after.mounts.get(mntns);
    if (mntns !== self && (b ? a.pid !== b.pid || !sameMounts(a.mounts, b.mounts) : a.mounts.length)) return undefined;
  }
  for (const [netns, a] of before.addresses)
    if (!sameList(a, after.addresses.get(netns) ?? [], (x, y) => x === y)) return undefined;
  for (const [set, hint] of before.hints)
    if (after.hints.has(set) && JSON.stringify(after.hints.get(set)) !== JSON.stringify(hint)) return undefined;
  const reread: Reread = new Map();
  for (const [pid, now] of after.processes) {
    const was = before.processes.get(pid);
    if (was !== now && reread.set(pid, was).size > max) return undefined;
  }
  for (const [pid, was] of before.processes)
    if (!after.processes.has(pid) && reread.set(pid, was).size > max) return undefined;
  return reread;
}

function sameMounts(a: RawMount[], b: RawMount[]): boolean {
  return sameList(a, b, (x, y) => x.type === y.type && x.inode === y.inode && x.path === y.path);
}

function sameList<T>(a: T[], b: T[], same: (x: T, y: T) => boolean): boolean {
  return a === b || (a.length === b.length && a.every((x, i) => same(x, b[i])));
}
