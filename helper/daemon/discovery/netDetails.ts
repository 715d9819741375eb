// Details of a network namespace from the wiring nsxd keeps (not `ip
// address` text): its interfaces with their other ends in the user's words,
// their addresses, and its main routing table; the structure itself too.
import type { NetList, NetNamespace } from '../../common/net';
import { kindWords, linkState, linkWhere, netnsLabels } from '../../common/netWords';
import type { Details, Namespace } from '../../common/protocol';
import type { NetWatch } from './netWatch';
import type { Model } from './snapshot';

function columns(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]) : c))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function interfaces(ns: NetNamespace, context: NetList, model: Model): string {
  const labels = netnsLabels(model.snapshot);
  const comm = (pid: number) => model.snapshot.processes.find((p) => p.pid === pid)?.comm;
  const rows = [['IFACE', 'KIND', 'STATE', 'MTU', 'MAC', 'ADDRESSES', 'OTHER END']];
  for (const l of ns.links)
    rows.push([
      l.name,
      kindWords(l),
      linkState(l),
      String(l.mtu),
      l.mac ?? '-',
      l.addresses.join(',') || '-',
      linkWhere(context, labels, ns, l, comm),
    ]);
  const cut = ns.cut
    ? `\n… ${ns.cut.links} more interfaces and ${ns.cut.addresses} addresses not shown (nsxd's limit)`
    : '';
  return columns(rows) + cut;
}

function routes(ns: NetNamespace): string {
  if (ns.routes.length === 0) return '(no routes in the main table)';
  const rows = [['DESTINATION', 'GATEWAY', 'DEVICE', 'SOURCE', 'METRIC']];
  for (const r of ns.routes)
    rows.push([
      r.dst,
      r.gateway ?? '-',
      r.devName ?? (r.dev ? `ifindex ${r.dev}` : '-'),
      r.src ?? '-',
      String(r.metric ?? '-'),
    ]);
  const cut = ns.cut?.routes ? `\n… ${ns.cut.routes} more routes not shown (nsxd's limit)` : '';
  return columns(rows) + cut;
}

/** The sections (and the structure) Details shows of a net namespace; undefined if nsxd has no wiring of it. */
export async function netDetails(
  net: NetWatch,
  ns: Namespace,
  model: Model,
): Promise<Pick<Details, 'sections' | 'net'> | undefined> {
  const { namespaces } = await net.list([ns.inode]);
  const mine = namespaces[0];
  if (!mine || mine.error) return undefined;
  const others = new Set(mine.links.flatMap((l) => l.other?.netns ?? []));
  others.delete(mine.inode);
  const context = others.size ? await net.list([...others]) : { namespaces: [] };
  const all = { namespaces: [mine, ...context.namespaces] };
  const gateway = mine.defaultGateway ? ` (default gateway ${mine.defaultGateway})` : '';
  return {
    sections: [
      { title: 'interfaces, their addresses and other ends', text: interfaces(mine, all, model) },
      { title: `routes, main table${gateway}`, text: routes(mine) },
    ],
    net: mine,
  };
}
