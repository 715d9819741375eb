// Where each link's other end is. IFLA_LINK_NETNSID is an id that only the
// dumping namespace gives the other: nsxd learns what each id means by
// asking the kernel (RTM_GETNSID with the candidate's fd, through nsx-net),
// only of the namespaces that could be the one (those with a link at that
// ifindex; for a veth, one whose peer is this link's ifindex), and keeps
// each answer while both namespaces live. A veth pair verified from one side
// gives the other side's id too, for free.
import type { NetLink, NetNamespace, NetRoute } from '../../common/net';
import type { RawLink, RawNet } from './netDecode';

/** Per namespace (nsxd's id of it), what each nsid it uses means (another id), and the pairs known to have none. */
export class NsidBook {
  private readonly ids = new Map<number, Map<number, number>>();
  private readonly none = new Set<string>();

  get(from: number, nsid: number): number | undefined {
    return this.ids.get(from)?.get(nsid);
  }

  set(from: number, nsid: number, to: number): void {
    let m = this.ids.get(from);
    if (!m) this.ids.set(from, (m = new Map()));
    m.set(nsid, to);
  }

  /** The kernel said FROM gives TO no id: not asked again until FROM's links change. */
  noId(from: number, to: number): void {
    this.none.add(`${from}:${to}`);
  }

  hasNoId(from: number, to: number): boolean {
    return this.none.has(`${from}:${to}`);
  }

  /** FROM dumped anew: ids it had none for may have been given since. */
  changed(from: number): void {
    for (const k of this.none) if (k.startsWith(`${from}:`)) this.none.delete(k);
  }

  drop(id: number): void {
    this.ids.delete(id);
    for (const m of this.ids.values()) for (const [nsid, to] of m) if (to === id) m.delete(nsid);
    for (const k of this.none) if (k.startsWith(`${id}:`) || k.endsWith(`:${id}`)) this.none.delete(k);
  }
}

/** At most this many candidates are asked about for one namespace at a time. */
export const MAX_ASKED = 256;

export interface Resolved {
  namespaces: NetNamespace[];
  /** Which candidates to ask each namespace about (nsxd's ids), for the ends not resolved yet. */
  ask: Map<number, number[]>;
}

/** tun/tap holders: per namespace id, per device name, the pids. */
export type TunHolders = Map<number, Map<string, number[]>>;

type Index = Map<number, Map<number, RawLink>>;

function candidates(states: Map<number, RawNet>, index: Index, from: RawNet, l: RawLink): number[] {
  const out: number[] = [];
  for (const [id, links] of index) {
    if (id === from.id) continue;
    const m = links.get(l.link!);
    if (!m) continue;
    // A veth's peer is a veth whose own peer is at this link's ifindex, in another namespace.
    if (l.relation === 'peer' && (m.relation !== 'peer' || m.link !== l.index || m.linkNsid === undefined)) continue;
    out.push(id);
  }
  // The host first: most parents and underlays are there.
  return out.sort((a, b) => (states.get(a)!.inode === hostInode ? -1 : states.get(b)!.inode === hostInode ? 1 : 0));
}

let hostInode = 0;
/** nsxd's own namespace, which clients call the host. */
export function setHostInode(inode: number): void {
  hostInode = inode;
}

function resolveLink(
  states: Map<number, RawNet>,
  index: Index,
  book: NsidBook,
  ns: RawNet,
  l: RawLink,
  ask: Set<number>,
): NetLink['other'] {
  if (l.link === undefined || !l.relation) return undefined;
  if (l.linkNsid === undefined) {
    return { relation: l.relation, netns: ns.inode, index: l.link, name: index.get(ns.id)?.get(l.link)?.name };
  }
  const to = book.get(ns.id, l.linkNsid);
  const there = to !== undefined ? states.get(to) : undefined;
  if (there) {
    const m = index.get(to!)?.get(l.link);
    // The other side's id for this namespace follows from a verified veth pair.
    if (l.relation === 'peer' && m?.linkNsid !== undefined && m.link === l.index && !book.get(to!, m.linkNsid))
      book.set(to!, m.linkNsid, ns.id);
    return { relation: l.relation, netns: there.inode, index: l.link, name: m?.name };
  }
  for (const c of candidates(states, index, ns, l)) if (!book.hasNoId(ns.id, c) && ask.size < MAX_ASKED) ask.add(c);
  return { relation: l.relation, index: l.link };
}

function routes(ns: RawNet, byIndex: Map<number, RawLink> | undefined): NetRoute[] {
  return ns.routes.map((r) => {
    const name = r.dev !== undefined ? byIndex?.get(r.dev)?.name : undefined;
    return name !== undefined ? { ...r, devName: name } : r;
  });
}

function namespaceOf(
  states: Map<number, RawNet>,
  index: Index,
  book: NsidBook,
  tun: TunHolders,
  ns: RawNet,
  ask: Set<number>,
): NetNamespace {
  if (ns.error) return { inode: ns.inode, links: [], routes: [], error: ns.error };
  const byIndex = index.get(ns.id);
  const addrs = new Map<number, string[]>();
  for (const [i, a] of ns.addrs) addrs.set(i, [...(addrs.get(i) ?? []), a]);
  const links = ns.links.map((l): NetLink => {
    const { master, link: _l, linkNsid: _n, relation: _r, ...rest } = l;
    const out: NetLink = { ...rest, addresses: addrs.get(l.index) ?? [] };
    if (master) out.master = { index: master, name: byIndex?.get(master)?.name };
    const other = resolveLink(states, index, book, ns, l, ask);
    if (other) out.other = other;
    const holders = l.kind === 'tun' || l.kind === 'tap' ? tun.get(ns.id)?.get(l.name) : undefined;
    if (holders) out.holders = holders;
    return out;
  });
  const rs = routes(ns, byIndex);
  const gw =
    rs.find((r) => r.dst === 'default' && r.gateway && r.family === 4) ??
    rs.find((r) => r.dst === 'default' && r.gateway);
  return {
    inode: ns.inode,
    links,
    routes: rs,
    ...(gw?.gateway && { defaultGateway: gw.gateway }),
    ...(ns.cut && { cut: ns.cut }),
  };
}

/** Every namespace's links with their other ends, as far as the ids known say; what to ask to say more. */
export function resolve(states: Map<number, RawNet>, book: NsidBook, tun: TunHolders): Resolved {
  const index: Index = new Map();
  for (const [id, ns] of states) index.set(id, new Map(ns.links.map((l) => [l.index, l])));
  const ask = new Map<number, number[]>();
  const namespaces: NetNamespace[] = [];
  for (const ns of states.values()) {
    const mine = new Set<number>();
    namespaces.push(namespaceOf(states, index, book, tun, ns, mine));
    if (mine.size) ask.set(ns.id, [...mine]);
  }
  return { namespaces, ask };
}
