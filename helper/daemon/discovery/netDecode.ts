// What nsx-net writes, a JSON line a namespace, read into the contract's
// words: each field checked (the line is the kernel's, but its names are
// whoever made the interface's), kinds named, names decoded from the bytes
// nsx-net escaped one by one.
import { LINK_KINDS, LinkKind, LinkStats, NetCut, NetLink, NetRoute, OperState } from '../../common/net';

/** A link as nsx-net read it, before its other end is resolved: `link` and `linkNsid` say where that is. */
export interface RawLink extends Omit<NetLink, 'other' | 'master' | 'addresses'> {
  master?: number;
  /** IFLA_LINK (or a vxlan's IFLA_VXLAN_LINK): the other end's ifindex, in this namespace or the one linkNsid names. */
  link?: number;
  linkNsid?: number;
  relation?: 'peer' | 'parent' | 'underlay';
}

export interface RawNet {
  id: number;
  inode: number;
  links: RawLink[];
  addrs: [number, string][];
  routes: NetRoute[];
  cut?: NetCut;
  error?: string;
}

const OPER: OperState[] = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'];
const MACVLAN_MODES: Record<number, string> = { 1: 'private', 2: 'vepa', 4: 'bridge', 8: 'passthru', 16: 'source' };
const IPVLAN_MODES = ['l2', 'l3', 'l3s'];
const ARPHRD_ETHER = 1;
const ARPHRD_LOOPBACK = 772;
const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;
const IFF_LOWER_UP = 0x10000;
const PEERED = new Set(['veth', 'netkit']);
const PARENTED = new Set(['vlan', 'macvlan', 'macvtap', 'ipvlan', 'ipvtap']);

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** nsx-net escapes every byte of a name above 0x7e as \u00XX: the string holds the bytes as Latin-1. */
export function decodeName(latin1: string): { name: string; nameHex?: string } {
  const bytes = Buffer.from(latin1, 'latin1');
  try {
    return { name: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return { name: new TextDecoder('utf-8').decode(bytes), nameHex: bytes.toString('hex') };
  }
}

export function linkKind(kernel: string | undefined, arptype: number, flags: number, tunType?: number): LinkKind {
  if (kernel === 'tun') return tunType === 2 ? 'tap' : 'tun';
  if (kernel !== undefined) return (LINK_KINDS as readonly string[]).includes(kernel) ? (kernel as LinkKind) : 'other';
  if (arptype === ARPHRD_LOOPBACK || flags & IFF_LOOPBACK) return 'loopback';
  return arptype === ARPHRD_ETHER ? 'physical' : 'other';
}

function mode(kind: LinkKind, raw: unknown): string | undefined {
  const m = num(raw);
  if (m === undefined) return undefined;
  if (kind === 'macvlan' || kind === 'macvtap') return MACVLAN_MODES[m] ?? `mode ${m}`;
  if (kind === 'ipvlan' || kind === 'ipvtap') return IPVLAN_MODES[m] ?? `mode ${m}`;
  return undefined;
}

function stats(raw: unknown): LinkStats | undefined {
  if (!Array.isArray(raw) || raw.length !== 6 || !raw.every((n) => typeof n === 'number')) return undefined;
  const [rxBytes, txBytes, rxPackets, txPackets, rxDropped, txDropped] = raw as number[];
  return { rxBytes, txBytes, rxPackets, txPackets, rxDropped, txDropped };
}

/** Where the kind says the other end is: a veth's peer, a vlan's parent, a vxlan's underlay. */
function otherEnd(kind: LinkKind, r: Record<string, unknown>): Pick<RawLink, 'link' | 'linkNsid' | 'relation'> {
  const linkNsid = num(r.linkNsid);
  const nsid = linkNsid !== undefined && linkNsid >= 0 ? { linkNsid } : {};
  if (PEERED.has(kind) && num(r.link)) return { link: num(r.link), relation: 'peer', ...nsid };
  if (PARENTED.has(kind) && num(r.link)) return { link: num(r.link), relation: 'parent', ...nsid };
  if (kind === 'vxlan' && num(r.underlay)) return { link: num(r.underlay), relation: 'underlay', ...nsid };
  return {};
}

export function decodeLink(r: Record<string, unknown>): RawLink | undefined {
  const index = num(r.index);
  if (index === undefined || typeof r.name !== 'string') return undefined;
  const flags = num(r.flags) ?? 0;
  const kernelKind = str(r.kind);
  const kind = linkKind(kernelKind, num(r.arptype) ?? 0, flags, num(r.tunType));
  const link: RawLink = {
    index,
    ...decodeName(r.name),
    kind,
    ...(kernelKind !== undefined && kind === 'other' ? { kernelKind: decodeName(kernelKind).name } : {}),
    oper: OPER[num(r.oper) ?? 0] ?? 'unknown',
    adminUp: (flags & IFF_UP) !== 0,
    carrier: r.carrier !== undefined ? r.carrier === 1 : (flags & IFF_LOWER_UP) !== 0,
    mtu: num(r.mtu) ?? 0,
    ...otherEnd(kind, r),
  };
  const m = mode(kind, r.mode);
  if (m) link.mode = m;
  if (num(r.vlan) !== undefined) link.vlan = num(r.vlan);
  if (num(r.vni) !== undefined) link.vni = num(r.vni);
  if (str(r.mac)) link.mac = str(r.mac);
  if (num(r.master)) link.master = num(r.master);
  const s = stats(r.stats);
  if (s) link.stats = s;
  return link;
}

function decodeRoute(r: Record<string, unknown>): NetRoute | undefined {
  const dst = str(r.dst);
  if (!dst || (r.family !== 4 && r.family !== 6)) return undefined;
  const route: NetRoute = { family: r.family, dst };
  if (str(r.gateway)) route.gateway = str(r.gateway);
  if (str(r.src)) route.src = str(r.src);
  if (num(r.dev)) route.dev = num(r.dev);
  if (num(r.metric) !== undefined) route.metric = num(r.metric);
  return route;
}

const records = (v: unknown): Record<string, unknown>[] =>
  Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null) : [];

/** A namespace's line; undefined for a line that is not one. */
export function decodeNet(line: Record<string, unknown>): RawNet | undefined {
  const id = num(line.id);
  if (id === undefined) return undefined;
  if (typeof line.error === 'string')
    return { id, inode: 0, links: [], addrs: [], routes: [], error: decodeName(line.error).name };
  const inode = num(line.inode);
  if (inode === undefined) return undefined;
  const addrs = (Array.isArray(line.addrs) ? line.addrs : []).filter(
    (a): a is [number, string] => Array.isArray(a) && typeof a[0] === 'number' && typeof a[1] === 'string',
  );
  const cut = records([line.cut])[0];
  return {
    id,
    inode,
    links: records(line.links).flatMap((r) => decodeLink(r) ?? []),
    addrs,
    routes: records(line.routes).flatMap((r) => decodeRoute(r) ?? []),
    ...(cut && {
      cut: { links: num(cut.links) ?? 0, addresses: num(cut.addrs) ?? 0, routes: num(cut.routes) ?? 0 },
    }),
  };
}
