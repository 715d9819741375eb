// How nsx and the extension put protocol values into words, so that both
// sides say the same thing about the same namespace.
import { ContainerHint, Holder, Namespace, nsId, UnpinResult } from './protocol';

/** A holder in words. */
export function describeHolder(h: Holder): string {
  switch (h.kind) {
    case 'fd':
      return `fd ${h.fd}${h.count && h.count > 1 ? ` (and ${h.count - 1} more)` : ''} of ${h.comm} (${h.pid})`;
    case 'mount':
      return `bind mount ${h.path} in mnt:[${h.mntns}]${h.pin ? ` (pin ${h.pin})` : h.netns ? ` (ip netns ${h.netns}, made by another tool)` : ''}`;
    case 'pid_for_children':
    case 'time_for_children':
      return `${h.kind} of ${h.comm} (${h.pid})`;
    case 'child':
      return `child namespace ${nsId(h.of)}`;
    case 'owner':
      return `namespace it owns, ${nsId(h.of)}`;
  }
}

/** The `ip netns` names other tools gave a namespace (nsxd's own net pins are in `pins`). */
export function netnsNames(ns: Namespace): string[] {
  return ns.holders.flatMap((h) => (h.kind === 'mount' && h.netns ? [h.netns] : []));
}

/** A container a namespace belongs to, by what people call it: its name, else its id. */
export function containerName(c: ContainerHint): string {
  return c.name ?? c.id;
}

/** The container in a column of its own (`nsx list`'s CONTAINER): `web (podman)`. */
export function containerLabel(c: ContainerHint): string {
  return `${containerName(c)} (${c.runtime})`;
}

/** The container among other words about a namespace (`nsx tree`, details, tooltips): `podman web`. */
export function runtimeAndContainer(c: ContainerHint): string {
  return `${c.runtime} ${containerName(c)}`;
}

/** An engine: `podman` for root's, `podman (uid 1000)` for a user's rootless one. */
export function engineLabel(engine: string, uid: number): string {
  return uid === 0 ? engine : `${engine} (uid ${uid})`;
}

/** After an unpin: whether the namespace lives on, and what holds it (nsx prints it as it is, the extension as a sentence). */
export function unpinned(what: string, r: UnpinResult): string {
  const rest = [
    r.remaining.processes ? `${r.remaining.processes} process(es)` : '',
    ...r.remaining.holders.map(describeHolder),
  ].filter(Boolean);
  return rest.length
    ? `unpinned ${what}; ${nsId(r)} lives on, held by ${rest.join('; ')}`
    : `unpinned ${what}; nothing else holds ${nsId(r)}, so it is gone`;
}
