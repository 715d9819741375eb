// Under a net namespace's row: "Ports", a small group of what listens in it
// (TCP; asked of nsxd when the group is opened) and the forwards of this
// window's user into it, each with Open in Browser and Stop.
//   contextValue: `ports` · `port tcp` · `forward`
import * as vscode from 'vscode';
import { describeForward, Forward, ListeningSocket } from '../../helper/common/ports';
import { holders, socketAddress } from '../../helper/common/portsFormat';
import type { Ports } from '../ports';
import { Node } from './nodes';

export class PortsGroupNode extends Node {
  constructor(
    parent: Node,
    readonly netns: number,
  ) {
    super(parent);
  }
  get id() {
    return `${this.parent!.id}/ports`;
  }
  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem('Ports', vscode.TreeItemCollapsibleState.Collapsed);
    item.id = this.id;
    item.iconPath = new vscode.ThemeIcon('plug');
    item.tooltip = 'What listens in this net namespace (TCP), and your forwards into it';
    item.contextValue = 'ports';
    return item;
  }
}

export class PortNode extends Node {
  constructor(
    parent: PortsGroupNode,
    readonly socket: ListeningSocket,
  ) {
    super(parent);
  }
  get netns(): number {
    return (this.parent as PortsGroupNode).netns;
  }
  get id() {
    return `${this.parent!.id}/${this.socket.protocol}/${this.socket.address}/${this.socket.port}/${this.socket.inode}`;
  }
  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(socketAddress(this.socket), vscode.TreeItemCollapsibleState.None);
    item.id = this.id;
    item.description = holders(this.socket);
    // Process names are theirs: text, never markdown.
    item.tooltip = `${this.socket.protocol} ${socketAddress(this.socket)}, made by uid ${this.socket.uid}${item.description ? `; held by ${item.description}` : ''}`;
    item.iconPath = new vscode.ThemeIcon('radio-tower');
    item.contextValue = `port ${this.socket.protocol}`;
    return item;
  }
}

export class ForwardNode extends Node {
  constructor(
    parent: PortsGroupNode,
    readonly forward: Forward,
  ) {
    super(parent);
  }
  get id() {
    return `${this.parent!.id}/forward/${this.forward.id}`;
  }
  toTreeItem(): vscode.TreeItem {
    const f = this.forward;
    const item = new vscode.TreeItem(
      `${f.hostAddress}:${f.hostPort} → ${f.port}`,
      vscode.TreeItemCollapsibleState.None,
    );
    item.id = this.id;
    item.description = `forwarded${f.keep ? ', kept' : ''}`;
    item.tooltip = `${describeForward(f)}: only ${f.anyUser ? 'anyone' : f.user}'s connections get through${f.keep ? '; it stays until stopped' : '; it ends with this window'}`;
    item.iconPath = new vscode.ThemeIcon('arrow-swap');
    item.contextValue = 'forward';
    return item;
  }
}

/** A line that says why there is nothing to show, or that it is coming. */
export class PortsNoteNode extends Node {
  constructor(
    parent: PortsGroupNode,
    readonly text: string,
  ) {
    super(parent);
  }
  get id() {
    return `${this.parent!.id}/note`;
  }
  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(this.text, vscode.TreeItemCollapsibleState.None);
    item.id = this.id;
    item.iconPath = new vscode.ThemeIcon('info');
    return item;
  }
}

/** The group's rows: forwards first, then TCP listeners (each once, though v4 and v6 may share a port). */
export function portsChildren(node: PortsGroupNode, ports: Ports): Node[] {
  const forwards = ports.forwardsIn(node.netns).map((f) => new ForwardNode(node, f));
  const l = ports.listing(node.netns);
  const sockets = (l.ports?.sockets ?? []).filter((s) => s.protocol === 'tcp');
  const rows: Node[] = [...forwards, ...sockets.map((s) => new PortNode(node, s))];
  if (!sockets.length)
    rows.push(new PortsNoteNode(node, l.error ?? (l.ports ? 'nothing listens on TCP here' : 'reading…')));
  return rows;
}
