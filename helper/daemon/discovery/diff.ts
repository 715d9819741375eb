// What changed between two models, as subscribers are told it: a namespace's
// pids that joined and left rather than all of them, processes added, changed
// and removed, and the containers and engines whole when any changed.
import { Namespace, NamespaceChange, NamespacesChanged, Process, Snapshot } from '../../common/protocol';

/**
 * The processes an update read again, each as the snapshot FROM had it and as
 * now (undefined where it was not, or is not any more): every other process
 * of the update's snapshot is FROM's very object, so the diff of processes is
 * these alone, not a walk over every process the host has.
 */
export interface ProcessPatch {
  from: Snapshot;
  reread: Map<number, [before: Process | undefined, after: Process | undefined]>;
}

/** An update applied to the model in place (applyPatch), with what it changed, said from the patch itself. */
export interface ModelPatch {
  from: Snapshot;
  change: NamespacesChanged | undefined;
}

/**
 * What changed between two snapshots; undefined when nothing did. PATCH, when
 * it is from BEFORE, says which processes may have, or what changed outright.
 */
export function diff(
  before: Snapshot,
  after: Snapshot,
  patch?: ProcessPatch | ModelPatch,
): NamespacesChanged | undefined {
  if (patch && 'change' in patch && patch.from === before)
    return patch.change && { ...patch.change, scanMs: after.scanMs };
  const change = emptyChange(after.scanMs, after.cut);
  // By inode: no two namespaces that exist at once share one, whatever their types.
  const oldNs = new Map<number, Namespace>(before.namespaces.map((ns) => [ns.inode, ns]));
  for (const ns of after.namespaces) {
    const old = oldNs.get(ns.inode);
    if (old?.type !== ns.type) change.added.push(ns);
    else {
      oldNs.delete(ns.inode);
      if (old === ns) continue; // kept from the model before (see keepUnchanged)
      const nsChange = namespaceChange(old, ns);
      if (nsChange) change.changed.push(nsChange);
    }
  }
  change.removed = [...oldNs.values()].map(({ type, inode }) => ({ type, inode }));
  if (patch && 'reread' in patch && patch.from === before) processesPatched(change, patch);
  else processesDiff(change, before.processes, after.processes);
  if (!same(before.containers, after.containers)) change.containers = after.containers;
  if (!same(before.engines, after.engines)) change.engines = after.engines;
  return isEmpty(change) && same(before.cut, after.cut) ? undefined : change;
}

function processesDiff(change: NamespacesChanged, before: Process[], after: Process[]): void {
  const oldProc = new Map<number, Process>(before.map((p) => [p.pid, p]));
  for (const p of after) {
    const old = oldProc.get(p.pid);
    oldProc.delete(p.pid);
    if (!old) change.processesAdded.push(p);
    else if (!same(old, p)) change.processesChanged.push(p);
  }
  change.processesRemoved = [...oldProc.keys()];
}

function processesPatched(change: NamespacesChanged, patch: ProcessPatch): void {
  for (const [pid, [old, p]] of patch.reread) {
    if (!p) {
      if (old) change.processesRemoved.push(pid);
    } else if (!old) change.processesAdded.push(p);
    else if (!same(old, p)) change.processesChanged.push(p);
  }
}

/** Whether two namespaces say the same: their pids in the same order, and all else. */
export function sameNamespace(a: Namespace, b: Namespace): boolean {
  if (a.pids.length !== b.pids.length) return false;
  for (let i = 0; i < a.pids.length; i++) if (a.pids[i] !== b.pids[i]) return false;
  return same(a, b, 'pids');
}

/** The pids that joined and left a namespace, with its other fields as now; undefined when none changed. */
function namespaceChange(before: Namespace, after: Namespace): NamespaceChange | undefined {
  const { pidsAdded, pidsRemoved } = pidsDiff(before.pids, after.pids);
  if (!pidsAdded.length && !pidsRemoved.length && same(before, after, 'pids')) return undefined;
  const { pids: _pids, ...rest } = after;
  return { ...rest, pidsAdded, pidsRemoved };
}

/**
 * The pids in AFTER and not BEFORE, and the other way. Scans list a
 * namespace's pids in the same order, so what they share at the start and the
 * end is passed over first: a fork in the host's namespaces of 20,000
 * processes pays for sets of what changed, not of 20,000.
 */
function pidsDiff(before: number[], after: number[]): { pidsAdded: number[]; pidsRemoved: number[] } {
  let start = 0;
  while (start < before.length && start < after.length && before[start] === after[start]) start++;
  let endBefore = before.length;
  let endAfter = after.length;
  while (endBefore > start && endAfter > start && before[endBefore - 1] === after[endAfter - 1]) {
    endBefore--;
    endAfter--;
  }
  if (start === endBefore && start === endAfter) return { pidsAdded: [], pidsRemoved: [] };
  // Pids are unique in each list: one in the shared start or end cannot be in the middle of the other.
  const had = new Set(before.slice(start, endBefore));
  const has = new Set(after.slice(start, endAfter));
  return { pidsAdded: [...has].filter((pid) => !had.has(pid)), pidsRemoved: [...had].filter((pid) => !has.has(pid)) };
}

/**
 * Whether two values made of JSON's kinds are equal, as their JSON would be
 * (a key set to undefined is one left out), without writing the JSON: a scan
 * of 20,000 processes compares each of them. SKIP is a key of the top level
 * to leave out.
 */
export function same(a: unknown, b: unknown, skip?: string): boolean {
  if (a === b) return true;
  if (
    typeof a !== 'object' ||
    typeof b !== 'object' ||
    a === null ||
    b === null ||
    Array.isArray(a) !== Array.isArray(b)
  )
    return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((x, i) => same(x, (b as unknown[])[i]));
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const k in x) if (k !== skip && !same(x[k], y[k])) return false;
  for (const k in y) if (k !== skip && !(k in x) && y[k] !== undefined) return false;
  return true;
}

/** Nothing added, changed or removed: no change to send. */
export function isEmpty(change: NamespacesChanged): boolean {
  return (
    !change.added.length &&
    !change.changed.length &&
    !change.removed.length &&
    !change.processesAdded.length &&
    !change.processesChanged.length &&
    !change.processesRemoved.length &&
    !change.containers &&
    !change.engines
  );
}

/** A change with nothing in it yet, from a scan that took SCANMS and was CUT (or not). */
export function emptyChange(scanMs: number, cut: Snapshot['cut']): NamespacesChanged {
  return {
    added: [],
    changed: [],
    removed: [],
    processesAdded: [],
    processesChanged: [],
    processesRemoved: [],
    scanMs,
    ...(cut ? { cut } : {}),
  };
}
