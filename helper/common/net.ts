// The network picture's part of the contract: every network namespace's
// links, addresses and routes, each link's other end resolved to a
// namespace (by inode) and an interface, as nsxd reads them from rtnetlink.
// A graph view draws from this alone: namespaces are boxes, links ports,
// `other` wires, `master` membership.
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';
import * as parse from './parse';

export const LINK_KINDS = [
  'veth',
  'bridge',
  'bond',
  'vlan',
  'macvlan',
  'macvtap',
  'ipvlan',
  'ipvtap',
  'vxlan',
  'geneve',
  'gre',
  'gretap',
  'ip6gre',
  'ipip',
  'sit',
  'ip6tnl',
  'wireguard',
  'tun',
  'tap',
  'dummy',
  'vrf',
  'netkit',
  'loopback',
  'physical',
  'other',
] as const;
export type LinkKind = (typeof LINK_KINDS)[number];

export type OperState = 'unknown' | 'notpresent' | 'down' | 'lowerlayerdown' | 'testing' | 'dormant' | 'up';

/** Where a link's other end is: a veth's peer, a vlan/macvlan/ipvlan's parent, a vxlan's underlay. */
export interface LinkEnd {
  relation: 'peer' | 'parent' | 'underlay';
  /** The namespace it is in, by inode; absent when nsxd could not tell which (one it does not see, or a gone one). */
  netns?: number;
  index: number;
  /** Its name, when its namespace is known. */
  name?: string;
}

export interface LinkStats {
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
  rxDropped: number;
  txDropped: number;
}

export interface NetLink {
  /** The ifindex: per namespace, so both ends of a veth may have the same one. */
  index: number;
  /** The name, as UTF-8; bytes that are not are U+FFFD here and exact in nameHex. */
  name: string;
  nameHex?: string;
  kind: LinkKind;
  /** The kernel's own word for the kind, where it is one `kind` does not list (other), or said more exactly. */
  kernelKind?: string;
  /** macvlan/macvtap: private, vepa, bridge, passthru, source; ipvlan: l2, l3, l3s. */
  mode?: string;
  vlan?: number;
  vni?: number;
  oper: OperState;
  adminUp: boolean;
  carrier: boolean;
  mtu: number;
  mac?: string;
  /** The bridge, bond or vrf it is a port of: an ifindex in the same namespace, and its name. */
  master?: { index: number; name?: string };
  other?: LinkEnd;
  /** In CIDR form. */
  addresses: string[];
  stats?: LinkStats;
  /** tun/tap: the pids of the processes that hold it open. */
  holders?: number[];
}

export interface NetRoute {
  family: 4 | 6;
  /** A prefix in CIDR form, or `default`. */
  dst: string;
  gateway?: string;
  src?: string;
  /** The ifindex of the route's device, and its name. */
  dev?: number;
  devName?: string;
  metric?: number;
}

/** What a namespace's answer left out to stay bounded. */
export interface NetCut {
  links: number;
  addresses: number;
  routes: number;
}

export interface NetNamespace {
  inode: number;
  links: NetLink[];
  /** The main table. */
  routes: NetRoute[];
  defaultGateway?: string;
  cut?: NetCut;
  /** Why nsxd could not read it (it went while being read, or a limit). */
  error?: string;
}

export interface NetList {
  namespaces: NetNamespace[];
}

/** client → nsxd: the wiring of every network namespace, or of those named. */
export interface NetListParams {
  inodes?: number[];
}
export const MAX_NET_INODES = 4096;
export const ListNet = new RequestType<NetListParams | undefined, NetList, void>('net/list');
export function parseNetList(value: unknown): NetListParams {
  if (value === undefined || value === null) return {};
  const p = parse.object(value);
  if (p.inodes === undefined) return {};
  if (!Array.isArray(p.inodes) || p.inodes.length > MAX_NET_INODES)
    throw parse.invalid(`inodes must be an array of at most ${MAX_NET_INODES} namespace inodes`);
  return { inodes: p.inodes.map(parse.inode) };
}

/** client → nsxd: the wiring now, then net/changed after every change until net/unsubscribe or the connection ends. */
export const SubscribeNet = new RequestType0<NetList, void>('net/subscribe');
export const UnsubscribeNet = new RequestType0<null, void>('net/unsubscribe');

/** nsxd → client: namespaces whose wiring changed (whole, replacing what the client had), and those gone. */
export interface NetChanged {
  changed: NetNamespace[];
  removed: number[];
}
export const NetChangedNotification = new NotificationType<NetChanged>('net/changed');

/** A client's copy of the wiring, with a change applied. */
export function applyNetChange(list: NetList, change: NetChanged): NetList {
  const byInode = new Map(list.namespaces.map((ns) => [ns.inode, ns]));
  for (const inode of change.removed) byInode.delete(inode);
  for (const ns of change.changed) byInode.set(ns.inode, ns);
  return { namespaces: [...byInode.values()].sort((a, b) => a.inode - b.inode) };
}

/** One namespace's counters, read now (they move without a change net/changed would report). */
export interface NetCounters {
  inode: number;
  /** By name, as /proc/net/dev says them (an interface's name is unique in its namespace). */
  links: { name: string; rxBytes: number; txBytes: number; rxPackets: number; txPackets: number }[];
}
/** client → nsxd: the counters of the namespaces named, each read through a process in it (none for one no process is in). */
export const ReadNetCounters = new RequestType<NetListParams, { namespaces: NetCounters[] }, void>('net/counters');
