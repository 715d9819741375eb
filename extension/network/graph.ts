// The network picture as a graph: namespaces are boxes named in the user's
// words, their interfaces the ports inside, a bridge (bond, vrf) a box of its
// own around its ports, and the edges say how they are wired (a veth's two
// ends, a vlan's, macvlan's or vxlan's parent, the process holding a tun). Pure functions of the
// protocol's values, so the webview only draws and the rules are unit-tested.
import type { NetCounters, NetLink, NetList, NetNamespace } from '../../helper/common/net';
import { kindWords } from '../../helper/common/netWords';

export interface GraphNode {
  id: string;
  /** The box it is drawn in: its namespace's, or the bridge, bond or vrf it is a port of. */
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
  /** wire (veth), parent (vlan, macvlan, ipvlan), underlay (vxlan), holder (tun). */
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
  /** Bytes a second through each interface (received and sent), by linkId. */
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
  // The host first: a wire runs from the end in the namespace that comes first, so layers go outward from it.
  const order = [...list.namespaces].sort(
    (a, b) => Number(b.inode === options.hostInode) - Number(a.inode === options.hostInode) || a.inode - b.inode,
  );
  const rank = new Map(order.map((ns, i) => [ns.inode, i]));
  for (const ns of order) {
    if (!ns.links.some((l) => l.kind !== 'loopback') && ns.inode !== options.hostInode && !options.showIsolated) {
      isolated++;
      continue;
    }
    nodes.push(namespaceNode(ns, options));
    for (const l of ns.links) {
      if (!shown(l)) continue;
      nodes.push(linkNode(ns, l, present));
      edges.push(...linkEdges(ns, l, present, rank, options.rates));
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

function linkNode(ns: NetNamespace, l: NetLink, present: Map<string, NetLink>): GraphNode {
  const classes = ['link', l.kind];
  const master = l.master && linkId(ns.inode, l.master.index);
  if (!l.adminUp || DOWN.has(l.oper)) classes.push('down');
  else if (!l.carrier) classes.push('nocarrier');
  const words = [kindWords(l), l.adminUp ? l.oper : 'admin down', `mtu ${l.mtu}`];
  if (l.mac) words.push(l.mac);
  const detail = [words.join(' · ')];
  if (l.addresses.length) detail.push(l.addresses.join(' '));
  // The address people use: a link-local one only when it has no other.
  const shown = l.addresses.find((a) => !a.startsWith('fe80:')) ?? l.addresses[0];
  return {
    id: linkId(ns.inode, l.index),
    parent: master && present.has(master) ? master : nsNodeId(ns.inode),
    label: shown ? `${l.name}\n${shown}` : l.name,
    detail: detail.join('\n'),
    classes,
    inode: ns.inode,
    link: l.name,
  };
}

function linkEdges(
  ns: NetNamespace,
  l: NetLink,
  present: Map<string, NetLink>,
  rank: Map<number, number>,
  rates?: Map<string, number>,
): GraphEdge[] {
  const id = linkId(ns.inode, l.index);
  const edges: GraphEdge[] = [];
  const other = l.other;
  if (other?.netns === undefined) return edges;
  const otherId = linkId(other.netns, other.index);
  const peer = present.get(otherId);
  if (!peer) return edges;
  if (other.relation === 'peer') {
    // A veth pair is one wire: drawn once, from the end in the namespace that comes first (the host's), or
    // from the lower ifindex when both ends are in one namespace.
    const here = rank.get(ns.inode)!;
    const there = rank.get(other.netns)!;
    const drawnThere = there < here || (there === here && other.index < l.index);
    if (drawnThere && peer.other?.relation === 'peer') return edges;
    const classes = ['wire'];
    if (peer.mtu !== l.mtu) classes.push('mismatch');
    const rate = rates?.get(id);
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

/** Bytes a second through each interface, from two readings of the counters `seconds` apart, by linkId. */
export function rates(
  list: NetList,
  before: NetCounters[],
  after: NetCounters[],
  seconds: number,
): Map<string, number> {
  const out = new Map<string, number>();
  if (seconds <= 0) return out;
  const total = (c: NetCounters['links'][number]) => c.rxBytes + c.txBytes;
  const was = new Map<string, number>(
    before.flatMap((ns) => ns.links.map((c) => [`${ns.inode}/${c.name}`, total(c)] as const)),
  );
  const index = new Map<string, string>(
    list.namespaces.flatMap((ns) => ns.links.map((l) => [`${ns.inode}/${l.name}`, linkId(ns.inode, l.index)] as const)),
  );
  for (const ns of after)
    for (const c of ns.links) {
      const key = `${ns.inode}/${c.name}`;
      const id = index.get(key);
      const then = was.get(key);
      if (id !== undefined && then !== undefined && total(c) >= then) out.set(id, (total(c) - then) / seconds);
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
