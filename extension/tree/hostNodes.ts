// A host of nsx.hosts as a root of the Namespaces view: its hostname (as its
// nsxd says it), its kernel, and whether it answers, and if not why, in the
// transport's own words. All of it is another host's text: a plain label,
// description and tooltip, never markdown, control characters escaped.
import * as vscode from 'vscode';
import { field } from '../../helper/common/format';
import type { Connection } from '../connection';
import { HOST_CONTEXT } from '../menus';
import { Node } from './nodes';

/** What a host row needs to know of its host (extension/hosts.ts). */
export interface HostLike {
  /** Its name in nsx.hosts; 'local' for this machine's. */
  readonly name: string;
  readonly local: boolean;
  readonly connection: Connection;
}

export class HostNode extends Node {
  constructor(readonly host: HostLike) {
    super(undefined);
  }
  get id() {
    return `host/${this.host.local ? '' : 'remote/'}${this.host.name}`;
  }
  toTreeItem(): vscode.TreeItem {
    const c = this.host.connection;
    const info = c.server?.host;
    const hostname = info?.hostname ? field(info.hostname) : this.host.name;
    // Collapsed: many hosts stay in sight; VS Code remembers which the user opened (by id).
    const item = new vscode.TreeItem(hostname, vscode.TreeItemCollapsibleState.Collapsed);
    item.id = this.id;
    const named = !this.host.local && hostname !== this.host.name ? `${this.host.name} · ` : '';
    const kernel = info?.kernel ? `Linux ${field(info.kernel)} · ` : '';
    const state = c.connected
      ? 'connected'
      : c.currentState !== 'connecting'
        ? `not connected: ${field(c.reason)}`
        : c.lastFailure
          ? `trying again: ${field(c.lastFailure)}`
          : 'connecting…';
    item.description = `${named}${kernel}${state}`;
    // A plain string: shown as text, whatever ssh or the far nsxd put in it.
    item.tooltip = `${this.host.local ? 'this host' : `host ${this.host.name} of nsx.hosts`}: ${state}`;
    item.iconPath = new vscode.ThemeIcon(
      c.connected ? 'server' : 'debug-disconnect',
      c.connected ? undefined : new vscode.ThemeColor('list.warningForeground'),
    );
    item.contextValue = HOST_CONTEXT;
    return item;
  }
}

/** The host row a node is under, if the view has host rows. */
export function hostNodeOf(node: Node | undefined): HostNode | undefined {
  while (node && !(node instanceof HostNode)) node = node.parent;
  return node;
}
