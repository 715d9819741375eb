// The network picture as a graph: namespaces are boxes named in the user's
// words, their interfaces the ports inside, and the edges say how they are
// wired (a veth's two ends, a bridge's or bond's members, a vlan's, macvlan's
// or vxlan's parent, the process holding a tun). Pure functions of the
// protocol's values, so the webview only draws and the rules are unit-tested.
import type { NetLink, NetList, NetNamespace } from '../../helper/common/net';

export interface GraphNode {
  id: string;
  /** The namespace box an interface is drawn in. */
  parent?: string;
  label: string;
  /** A line or two more, shown on hover and in the text outline. */
  detail: string;
  /** Style classes: the link's kind, and marks (down, nocarrier, host, holder, match). */
  classes: string[];
  /** The net namespace this node is, or is in (a holder process: the namespace of its tun). */
  inode: number;
  /** An interface's name, for commands that act on one (capture). */
  link?: string;
}

export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  label: string;
  /** wire (veth), member (bridge/bond/vrf port), parent (vlan, macvlan, ipvlan), underlay (vxlan), holder (tun). */
  classes: string[];
}

export interface Graph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Namespaces left out for having nothing but loopback. */
  isolated: number;
}

export interface GraphOptions {
  /** What the user calls a namespace: container, pod, pin, ip netns name, host. */
  nameOf(inode: number): string;
  /** The host's net namespace (nsxd's), drawn first and marked. */
  hostInode?: number;
  /** A holder's words: its command and pid. */
  processName?(pid: number): string;
  /** Loopback links are in every namespace and wired to nothing: off unless asked. */
  showLoopback?: boolean;
  /** Namespaces with nothing but loopback (every `unshare -n`): many on a busy host, and wired to nothing. */
  showIsolated?: boolean;
  /** Bytes a second through each interface (rx + tx), by linkId. */
  rates?: Map<string, number>;
}

export const nsNodeId = (inode: number): string => `ns:${inode}`;
export const linkId = (inode: number, index: number): string => `if:${inode}:${index}`;

const DOWN: ReadonlySet<string> = new Set(['down', 'lowerlayerdown', 'notpresent']);

/** The whole picture of a wiring. */
export function buildGraph(list: NetList, options: GraphOptions): Graph {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  let isolated = 0;
  const present = new Map<string, NetLink>();
  const shown = (l: NetLink): boolean => l.kind !== 'loopback' || options.showLoopback === true;
  for (const ns of list.namespaces) for (const l of ns.links) if (shown(l)) present.set(linkId(ns.inode, l.index), l);
  // The host first: layouts keep the input's order where they may, so it is drawn at one side.
  const order = [...list.namespaces].sort(
    (a, b) => Number(b.inode === options.hostInode) - Number(a.inode === options.hostInode),
  );
  for (const ns of order) {
    if (!ns.links.some((l) => l.kind !== 'loopback') && ns.inode !== options.hostInode && !options.showIsolated) {
      isolated++;
      continue;
    }
    nodes.push(namespaceNode(ns, options));
    for (const l of ns.links) {
      if (!shown(l)) continue;
      nodes.push(linkNode(ns, l, options));
      edges.push(...linkEdges(ns, l, present, options));
    }
  }
  nodes.push(...holderNodes(list, options));
  edges.push(...holderEdges(list));
  return { nodes, edges, isolated };
}

function namespaceNode(ns: NetNamespace, options: GraphOptions): GraphNode {
  const name = options.nameOf(ns.inode);
  const detail = [`net:[${ns.inode}]`];
  if (ns.defaultGateway) detail.push(`default via ${ns.defaultGateway}`);
  if (ns.cut)
    detail.push(`cut: ${ns.cut.links} links, ${ns.cut.addresses} addresses, ${ns.cut.routes} routes left out`);
  if (ns.error) detail.push(ns.error);
  const classes = ['namespace'];
  if (ns.inode === options.hostInode) classes.push('host');
  if (ns.error) classes.push('error');
  return { id: nsNodeId(ns.inode), label: name, detail: detail.join('\n'), classes, inode: ns.inode };
}

function linkNode(ns: NetNamespace, l: NetLink, options: GraphOptions): GraphNode {
  const classes = ['link', l.kind];
  if (!l.adminUp || DOWN.has(l.oper)) classes.push('down');
  else if (!l.carrier) classes.push('nocarrier');
  const words = [kindWords(l), l.adminUp ? l.oper : 'admin down', `mtu ${l.mtu}`];
  if (l.mac) words.push(l.mac);
  const detail = [words.join(' · ')];
  if (l.addresses.length) detail.push(l.addresses.join(' '));
  const rate = options.rates?.get(linkId(ns.inode, l.index));
  if (rate !== undefined) detail.push(formatRate(rate));
  return {
    id: linkId(ns.inode, l.index),
    parent: nsNodeId(ns.inode),
    label: l.addresses.length ? `${l.name}\n${l.addresses[0]}` : l.name,
    detail: detail.join('\n'),
    classes,
    inode: ns.inode,
    link: l.name,
  };
}

/** The kind as `ip -d link` says it: `macvlan bridge`, `vlan 10`, `vxlan 42`. */
export function kindWords(l: NetLink): string {
  const kind = l.kind === 'other' ? (l.kernelKind ?? 'other') : l.kind;
  if (l.vlan !== undefined) return `${kind} ${l.vlan}`;
  if (l.vni !== undefined) return `${kind} ${l.vni}`;
  return l.mode ? `${kind} ${l.mode}` : kind;
}

function linkEdges(ns: NetNamespace, l: NetLink, present: Map<string, NetLink>, options: GraphOptions): GraphEdge[] {
  const id = linkId(ns.inode, l.index);
  const edges: GraphEdge[] = [];
  if (l.master && present.has(linkId(ns.inode, l.master.index)))
    edges.push({ id: `${id}>m`, source: id, target: linkId(ns.inode, l.master.index), label: '', classes: ['member'] });
  const other = l.other;
  if (other?.netns === undefined) return edges;
  const otherId = linkId(other.netns, other.index);
  const peer = present.get(otherId);
  if (!peer) return edges;
  if (other.relation === 'peer') {
    // A veth pair is one wire: drawn once, from the end whose id sorts first.
    if (otherId < id && peer.other?.relation === 'peer') return edges;
    const classes = ['wire'];
    if (peer.mtu !== l.mtu) classes.push('mismatch');
    const rate = options.rates?.get(id);
    const label = [peer.mtu !== l.mtu ? `mtu ${l.mtu} ≠ ${peer.mtu}` : '', rate ? formatRate(rate) : '']
      .filter(Boolean)
      .join(' · ');
    edges.push({ id: `${id}=${otherId}`, source: id, target: otherId, label, classes });
  } else {
    edges.push({ id: `${id}>${other.relation}`, source: id, target: otherId, label: '', classes: [other.relation] });
  }
  return edges;
}

/** A tun or tap leads to the process that holds it: pasta, slirp4netns, qemu, a VPN. */
function holderNodes(list: NetList, options: GraphOptions): GraphNode[] {
  const seen = new Set<number>();
  const nodes: GraphNode[] = [];
  for (const ns of list.namespaces)
    for (const l of ns.links)
      for (const pid of l.holders ?? []) {
        if (seen.has(pid)) continue;
        seen.add(pid);
        const label = options.processName?.(pid) ?? `pid ${pid}`;
        nodes.push({ id: `pid:${pid}`, label, detail: `holds ${l.name}`, classes: ['holder'], inode: ns.inode });
      }
  return nodes;
}

/** From each tun/tap to its holders (a holder is drawn once, however many it holds). */
function holderEdges(list: NetList): GraphEdge[] {
  const edges: GraphEdge[] = [];
  for (const ns of list.namespaces)
    for (const l of ns.links)
      for (const pid of l.holders ?? [])
        edges.push({
          id: `${linkId(ns.inode, l.index)}>pid:${pid}`,
          source: linkId(ns.inode, l.index),
          target: `pid:${pid}`,
          label: '',
          classes: ['holder'],
        });
  return edges;
}

/** Bytes a second through each interface, from two readings of its counters `seconds` apart. */
export function rates(before: NetList, after: NetList, seconds: number): Map<string, number> {
  const out = new Map<string, number>();
  if (seconds <= 0) return out;
  const old = new Map<string, NetLink>();
  for (const ns of before.namespaces) for (const l of ns.links) old.set(linkId(ns.inode, l.index), l);
  for (const ns of after.namespaces)
    for (const l of ns.links) {
      const id = linkId(ns.inode, l.index);
      const was = old.get(id);
      if (!was?.stats || !l.stats) continue;
      const bytes = l.stats.rxBytes + l.stats.txBytes - (was.stats.rxBytes + was.stats.txBytes);
      if (bytes >= 0) out.set(id, bytes / seconds);
    }
  return out;
}

export function formatRate(bytesPerSecond: number): string {
  const units = ['B/s', 'kB/s', 'MB/s', 'GB/s'];
  let v = bytesPerSecond;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v < 10 && u > 0 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}
