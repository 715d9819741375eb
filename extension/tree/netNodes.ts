// A network namespace's interfaces in the Namespaces view: each says its
// kind, state, addresses and where its other end is, in the words nsx net
// uses (`eth0  veth up 10.88.0.5/16 ↔ veth8da38ea9 on podman0 (host)`).
// Names are the namespace owner's: labels and descriptions are plain text,
// tooltips are built with appendText, never as markup.
import * as vscode from 'vscode';
import type { LinkKind, NetLink, NetList, NetNamespace } from '../../helper/common/net';
import { kindWords, linkState, linkWhere, netnsLabel } from '../../helper/common/netWords';
import type { Model } from '../model';
import type { NetModel } from '../netModel';
import { Node } from './nodes';

const ICONS: Partial<Record<LinkKind, string>> = {
  veth: 'plug',
  bridge: 'type-hierarchy',
  bond: 'merge',
  loopback: 'debug-restart',
  physical: 'circuit-board',
  tun: 'terminal',
  tap: 'terminal',
  vxlan: 'cloud',
  wireguard: 'lock',
};

export class InterfaceNode extends Node {
  constructor(
    parent: Node,
    readonly netns: number,
    readonly link: NetLink,
    readonly where: string,
  ) {
    super(parent);
  }
  get id() {
    return `${this.parent!.id}/if/${this.link.index}`;
  }
  toTreeItem(): vscode.TreeItem {
    const l = this.link;
    const item = new vscode.TreeItem(l.name, vscode.TreeItemCollapsibleState.None);
    item.id = this.id;
    const addresses = l.addresses.filter((a) => !a.startsWith('fe80:')).join(' ');
    item.description = [kindWords(l), linkState(l), addresses, this.where].filter(Boolean).join('  ');
    item.accessibilityInformation = { label: `interface ${l.name}, ${item.description}` };
    const tip = new vscode.MarkdownString();
    tip.appendText(`${l.name} (ifindex ${l.index}): ${kindWords(l)}, ${linkState(l)}, MTU ${l.mtu}`);
    if (l.mac) tip.appendText(`, MAC ${l.mac}`);
    if (l.addresses.length) tip.appendText(`\n\naddresses: ${l.addresses.join(', ')}`);
    if (this.where) tip.appendText(`\n\n${this.where}`);
    if (l.stats)
      tip.appendText(
        `\n\nreceived ${l.stats.rxBytes} bytes (${l.stats.rxPackets} packets, ${l.stats.rxDropped} dropped); sent ${l.stats.txBytes} bytes (${l.stats.txPackets} packets, ${l.stats.txDropped} dropped)`,
      );
    item.tooltip = tip;
    const down = linkState(l) !== 'up';
    item.iconPath = new vscode.ThemeIcon(
      ICONS[l.kind] ?? 'symbol-interface',
      down ? new vscode.ThemeColor('disabledForeground') : undefined,
    );
    item.contextValue = 'nsxInterface';
    return item;
  }
}

/** A note in place of interfaces: still being read, or why there are none. */
export class NetNoteNode extends Node {
  constructor(
    parent: Node,
    readonly text: string,
  ) {
    super(parent);
  }
  get id() {
    return `${this.parent!.id}/if-note`;
  }
  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(this.text, vscode.TreeItemCollapsibleState.None);
    item.id = this.id;
    item.iconPath = new vscode.ThemeIcon('info');
    return item;
  }
}

function labels(model: Model, list: NetList): Map<number, string> {
  const out = new Map<number, string>();
  for (const ns of list.namespaces)
    out.set(ns.inode, netnsLabel(model.namespace({ type: 'net', inode: ns.inode }), ns.inode));
  return out;
}

/** The interfaces of the net namespace under PARENT, in ifindex order. */
export function interfaceNodes(parent: Node, inode: number, net: NetModel, model: Model): Node[] {
  const list = net.current();
  if (!list) return [new NetNoteNode(parent, 'reading interfaces…')];
  const ns: NetNamespace | undefined = list.namespaces.find((n) => n.inode === inode);
  if (!ns) return [];
  if (ns.error) return [new NetNoteNode(parent, `interfaces not read: ${ns.error}`)];
  const names = labels(model, list);
  const comm = (pid: number) => model.process(pid)?.comm;
  const nodes: Node[] = ns.links.map((l) => new InterfaceNode(parent, inode, l, linkWhere(list, names, ns, l, comm)));
  if (ns.cut) nodes.push(new NetNoteNode(parent, `${ns.cut.links} more interfaces not shown (nsxd's limit)`));
  return nodes;
}
