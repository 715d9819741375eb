// The hierarchy the nsfs ioctls report: each namespace's owning user
// namespace, its parent (pid and user namespaces), a user namespace's owner
// uid. Namespaces that nothing but a child or an owned namespace keeps alive
// are found through those ioctls.
import { closeSync, fstatSync } from 'node:fs';
import * as libc from '../../../native/libc';
import type { Holder, Namespace, NsType } from '../../common/protocol';
import { openChecked, openers } from './openNamespace';
import type { ScanCache } from './scanCache';
import type { Model } from './snapshot';

/** Each namespace's owner, parent and owner uid: from LINEAGES where known, else asked of the kernel and kept there. */
export function resolveHierarchy(
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
  const done = new Set(lineages.keys());
  resolveUnknown(model, done, [...namespaces.values()], get);
  for (const ns of namespaces.values()) keepLineage(lineages, ns);
}

/**
 * The lineage of FRESH, namespaces an update added to MODEL, asked of the
 * kernel; the namespaces the model had are resolved already, and a fresh
 * one's owner or parent that it lacks is made by GET (and resolved too).
 */
export function resolveFresh(
  model: Model,
  fresh: Namespace[],
  lineages: ScanCache['lineages'],
  get: (type: NsType, inode: number) => Namespace,
): void {
  const asked = new Set<number>();
  const made = new Set(fresh.map((ns) => ns.inode));
  const created = (type: NsType, inode: number) => {
    made.add(inode);
    return get(type, inode);
  };
  const done = {
    has: (inode: number) => asked.has(inode) || (model.byInode.has(inode) && !made.has(inode)),
    add: (inode: number) => asked.add(inode),
  };
  for (const ns of fresh) lineages.delete(ns.inode); // an inode of a namespace gone, used again
  resolveUnknown(model, done, fresh, created);
  for (const inode of made) keepLineage(lineages, model.byInode.get(inode)!);
}

function keepLineage(lineages: ScanCache['lineages'], ns: Namespace): void {
  if (!lineages.has(ns.inode) && (ns.owner !== undefined || ns.parent !== undefined)) {
    lineages.set(ns.inode, { type: ns.type, owner: ns.owner, parent: ns.parent, ownerUid: ns.ownerUid });
  }
}

/** Asks the kernel for the lineage of each of START not in DONE (by inode), and of what it finds related. */
function resolveUnknown(
  model: Model,
  done: Pick<Set<number>, 'has' | 'add'>,
  start: Namespace[],
  get: (type: NsType, inode: number) => Namespace,
): void {
  const namespaces = model.byInode;
  // Fds from the ioctls open namespaces that may have no path at all; they are
  // processed in the same queue and closed when done.
  const queue: [Namespace, number | undefined][] = start
    .filter((ns) => !done.has(ns.inode))
    .map((ns) => [ns, undefined]);
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
