// The network picture in words, for nsx net and the extension alike: a
// namespace by what people call it (container, pin, ip netns name, "host"),
// an interface's state, and where its other end is. Every name here is the
// namespace owner's: callers escape them (field()) or show them as text.
import type { LinkEnd, NetLink, NetList, NetNamespace } from './net';
import type { Namespace, Snapshot } from './protocol';
import { containerName, netnsNames } from './words';

/** What people call a network namespace: `host`, a container's name, a pin's, an ip netns name, else net:[INODE]. */
export function netnsLabel(ns: Namespace | undefined, inode: number): string {
  if (!ns) return `net:[${inode}]`;
  if (ns.initial) return 'host';
  if (ns.container) return containerName(ns.container);
  if (ns.pins.length) return ns.pins[0].name;
  const named = netnsNames(ns);
  if (named.length) return named[0];
  return `net:[${inode}]`;
}

/** Labels for every net namespace of a snapshot, by inode. */
export function netnsLabels(snapshot: Snapshot): Map<number, string> {
  const out = new Map<number, string>();
  for (const ns of snapshot.namespaces) if (ns.type === 'net') out.set(ns.inode, netnsLabel(ns, ns.inode));
  return out;
}

/** up, down (not set up), no-carrier (up, nothing at the other end), or the kernel's operstate. */
export function linkState(l: NetLink): string {
  if (!l.adminUp) return 'down';
  if (l.oper === 'up' || (l.oper === 'unknown' && l.carrier)) return 'up';
  if (!l.carrier) return 'no-carrier';
  return l.oper;
}

/** A link's kind, with what qualifies it: `macvlan bridge`, `vlan 10`, `vxlan 42`. */
export function kindWords(l: NetLink): string {
  const kind = l.kind === 'other' && l.kernelKind ? l.kernelKind : l.kind;
  if (l.mode) return `${kind} ${l.mode}`;
  if (l.vlan !== undefined) return `${kind} ${l.vlan}`;
  if (l.vni !== undefined) return `${kind} ${l.vni}`;
  return kind;
}

/** The link at an end, if its namespace is in the list. */
export function linkAt(list: NetList, end: { netns?: number; index: number }): NetLink | undefined {
  const ns = list.namespaces.find((n) => n.inode === end.netns);
  return ns?.links.find((l) => l.index === end.index);
}

const ARROWS: Record<LinkEnd['relation'], string> = { peer: '↔', parent: '→ parent', underlay: '→ underlay' };

/** `↔ veth8da38ea9 on podman0 (host)`: the other end's name, its bridge, and whose namespace it is in. */
export function otherEndWords(list: NetList, labels: Map<number, string>, from: NetNamespace, l: NetLink): string {
  const o = l.other;
  if (!o) return '';
  if (o.netns === undefined) return `${ARROWS[o.relation]} ifindex ${o.index} in a namespace nsxd does not see`;
  const there = linkAt(list, o);
  const name = o.name ?? there?.name ?? `ifindex ${o.index}`;
  const on = there?.master?.name ? ` on ${there.master.name}` : '';
  const where = o.netns === from.inode ? 'here' : (labels.get(o.netns) ?? `net:[${o.netns}]`);
  return `${ARROWS[o.relation]} ${name}${on} (${where})`;
}

/** Who holds a tun/tap open: `held by pasta (1234)`. */
export function holderWords(l: NetLink, comm: (pid: number) => string | undefined): string {
  if (!l.holders?.length) return '';
  return `held by ${l.holders.map((pid) => `${comm(pid) ?? 'process'} (${pid})`).join(', ')}`;
}

/** All that is said of a link after its addresses: its other end, its bridge, its holders. */
export function linkWhere(
  list: NetList,
  labels: Map<number, string>,
  ns: NetNamespace,
  l: NetLink,
  comm: (pid: number) => string | undefined,
): string {
  const parts = [
    otherEndWords(list, labels, ns, l),
    l.master ? `port of ${l.master.name ?? `ifindex ${l.master.index}`}` : '',
    holderWords(l, comm),
  ];
  return parts.filter(Boolean).join('; ');
}
