// nsx net [TARGET] [--json] [--dot]: the wiring of every network namespace,
// or of one, a line an interface, like `ip -br link` across all namespaces.
import type { MessageConnection } from 'vscode-jsonrpc/node';
import { targetWord } from './words';
import { field, jsonText } from '../common/format';
import { ListNet, NetList, NetNamespace } from '../common/net';
import { kindWords, linkState, linkWhere, netnsLabels } from '../common/netWords';
import { fromWire, ListNamespaces, Snapshot } from '../common/protocol';
import { netnsNames } from '../common/words';

export class NetTargetError extends Error {}

/** The net namespace a TARGET names (words.ts): host, a pid, net:INODE, a container, a pin or ip netns name. */
export function netTarget(snapshot: Snapshot, target: string): number {
  const nets = snapshot.namespaces.filter((ns) => ns.type === 'net');
  const t = targetWord(target);
  let found: number | undefined;
  if ('host' in t) found = nets.find((ns) => ns.initial)?.inode;
  else if ('namespace' in t)
    found = nets.find((ns) => t.namespace.type === 'net' && ns.inode === t.namespace.inode)?.inode;
  else if ('pid' in t) {
    found = snapshot.processes.find((p) => p.pid === t.pid)?.ns.net;
    if (found === undefined) throw new NetTargetError(`process ${t.pid} does not exist (it may have exited)`);
  } else {
    const name = 'pin' in t ? t.pin : 'container' in t ? t.container : t.name;
    const container = !('pin' in t);
    const pinned = !('container' in t);
    const named = (ns: (typeof nets)[number]) =>
      (container && ns.container?.name === name) ||
      (container && name.length >= 4 && /^[0-9a-f]+$/.test(name) && ns.container?.id.startsWith(name)) ||
      (pinned && ns.pins.some((p) => p.name === name)) ||
      ('name' in t && netnsNames(ns).includes(name));
    found = nets.find(named)?.inode;
  }
  if (found === undefined)
    throw new NetTargetError(
      `no network namespace is called "${target}": give a container's name, a PID, net:INODE, pin:NAME, an ip netns name, or host (nsx list -t net shows them)`,
    );
  return found;
}

function row(list: NetList, labels: Map<number, string>, ns: NetNamespace, comm: (pid: number) => string | undefined) {
  const label = labels.get(ns.inode) ?? `net:[${ns.inode}]`;
  if (ns.error) return [[label, '-', '-', '-', '-', `(${ns.error})`]];
  return ns.links.map((l) => [
    label,
    l.name,
    kindWords(l),
    linkState(l),
    l.addresses.join(',') || '-',
    linkWhere(list, labels, ns, l, comm),
  ]);
}

/** Columns padded to the widest cell, every cell escaped; other ends are looked up in CONTEXT (the list and more). */
export function netTable(list: NetList, snapshot: Snapshot, context: NetList = list): string {
  const labels = netnsLabels(snapshot);
  const comms = new Map(snapshot.processes.map((p) => [p.pid, p.comm]));
  const rows = [['NAMESPACE', 'IFACE', 'KIND', 'STATE', 'ADDRESSES', 'OTHER END']];
  for (const ns of list.namespaces) rows.push(...row(context, labels, ns, (pid) => comms.get(pid)));
  const cells = rows.map((r) => r.map(field));
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => [...r[i]].length)));
  const cuts = list.namespaces.filter((ns) => ns.cut);
  const lines = cells.map((r) =>
    r
      .map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]) : c))
      .join('  ')
      .trimEnd(),
  );
  for (const ns of cuts)
    lines.push(
      `(${field(labels.get(ns.inode) ?? String(ns.inode))}: ${ns.cut!.links} links, ${ns.cut!.addresses} addresses and ${ns.cut!.routes} routes not shown: over nsxd's limit)`,
    );
  return lines.join('\n') + '\n';
}

/** A Graphviz string of lines: every byte the kernel gave is escaped for a quoted id, control bytes as \\xNN. */
function dotString(...lines: string[]): string {
  return '"' + lines.map((t) => field(t).replace(/\\/g, '\\\\').replace(/"/g, '\\"')).join('\\n') + '"';
}

export function netDot(list: NetList, snapshot: Snapshot): string {
  const labels = netnsLabels(snapshot);
  const node = (inode: number, index: number) => `"n${inode}_${index}"`;
  const out = ['graph nsx_net {', '  rankdir=LR;', '  node [shape=box];'];
  const edges = new Set<string>();
  for (const ns of list.namespaces) {
    out.push(
      `  subgraph "cluster_${ns.inode}" {`,
      `    label=${dotString(labels.get(ns.inode) ?? `net:[${ns.inode}]`)};`,
    );
    for (const l of ns.links) out.push(`    ${node(ns.inode, l.index)} [label=${dotString(l.name, kindWords(l))}];`);
    out.push('  }');
    for (const l of ns.links) {
      if (l.master) edges.add(`  ${node(ns.inode, l.index)} -- ${node(ns.inode, l.master.index)} [style=dashed];`);
      if (l.other?.netns === undefined) continue;
      const [a, b] = [node(ns.inode, l.index), node(l.other.netns, l.other.index)].sort();
      edges.add(`  ${a} -- ${b}${l.other.relation === 'peer' ? '' : ` [style=dotted,label="${l.other.relation}"]`};`);
    }
  }
  return [...out, ...edges, '}'].join('\n') + '\n';
}

export async function netCommand(
  conn: MessageConnection,
  target: string | undefined,
  opts: { json?: boolean; dot?: boolean },
): Promise<string> {
  const snapshot = fromWire(await conn.sendRequest(ListNamespaces, {}));
  const inodes = target !== undefined ? [netTarget(snapshot, target)] : undefined;
  const list = await conn.sendRequest(ListNet, inodes ? { inodes } : {});
  if (opts.json) {
    const labels = netnsLabels(snapshot);
    const namespaces = list.namespaces.map((ns) => ({ label: labels.get(ns.inode) ?? `net:[${ns.inode}]`, ...ns }));
    return jsonText({ namespaces }) + '\n';
  }
  if (opts.dot) return netDot(list, snapshot);
  // One namespace's rows say what is at its other ends (a host veth's bridge): those namespaces are asked for too.
  const others = new Set(list.namespaces.flatMap((ns) => ns.links.flatMap((l) => l.other?.netns ?? [])));
  for (const ns of list.namespaces) others.delete(ns.inode);
  const more = others.size ? await conn.sendRequest(ListNet, { inodes: [...others] }) : { namespaces: [] };
  return netTable(list, snapshot, { namespaces: [...list.namespaces, ...more.namespaces] });
}
