// How nsx and the extension put protocol values into words, so that both
// sides say the same thing about the same namespace.
import { Holder, Namespace, nsId } from './protocol';

/** A holder in words. */
export function describeHolder(h: Holder): string {
  switch (h.kind) {
    case 'fd': return `fd ${h.fd}${h.count && h.count > 1 ? ` (and ${h.count - 1} more)` : ''} of ${h.comm} (${h.pid})`;
    case 'mount': return `bind mount ${h.path} in mnt:[${h.mntns}]${h.pin ? ` (pin ${h.pin})` : h.netns ? ` (ip netns ${h.netns}, made by another tool)` : ''}`;
    case 'pid_for_children':
    case 'time_for_children': return `${h.kind} of ${h.comm} (${h.pid})`;
    case 'child': return `child namespace ${nsId(h.of)}`;
    case 'owner': return `namespace it owns, ${nsId(h.of)}`;
  }
}

/** The `ip netns` names other tools gave a namespace (nsxd's own net pins are in `pins`). */
export function netnsNames(ns: Namespace): string[] {
  return ns.holders.flatMap((h) => (h.kind === 'mount' && h.netns ? [h.netns] : []));
}
