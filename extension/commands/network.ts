// Network commands: the picture of how a host's namespaces are wired, and
// what its context menu offers (on the host it shows).
import * as vscode from 'vscode';
import type { Host } from '../hosts';
import type { ViewContext } from '../network/webview/messages';
import { InterfaceNode } from '../tree/netNodes';
import { keyOf, NamespaceNode } from '../tree/nodes';
import type { Commands, Context } from './context';

export function networkCommands(ctx: Context): Commands {
  return {
    /** From the view's title bar (the host it shows), or a host's row or a net namespace's (that one, in the picture). */
    'nsx.showNetwork': (node?: unknown) => {
      const key = keyOf(node);
      ctx.network.show(node ? ctx.host : undefined, key?.type === 'net' ? key.inode : undefined);
    },
    /** The view's title bar, with other hosts in nsx.hosts: which host's wiring it shows. */
    'nsx.network.pickHost': async () => {
      const hosts = ctx.hosts.list.length ? ctx.hosts.list : [ctx.hosts.here];
      const items = hosts.map((h) => ({
        label: h.local ? 'This host' : h.name,
        description: `${h.connection.connected ? 'connected' : 'not connected'}${h === ctx.network.host ? ' · shown' : ''}`,
        h,
      }));
      const picked = await vscode.window.showQuickPick(items, { title: 'Show the wiring of which host?' });
      if (picked) ctx.network.show(picked.h);
      return picked?.h.name;
    },
    'nsx.network.showDetails': (context?: ViewContext) =>
      context?.inode !== undefined ? ctx.network.select(context.inode) : undefined,
    /** On an interface, that one; on a wire, both its ends; on a namespace's box, all of them. */
    'nsx.network.capture': (context?: ViewContext) => {
      if (context?.ends) {
        const targets = context.ends.map((e) => ({
          target: { namespace: { type: 'net' as const, inode: e.inode } },
          interfaces: [e.link],
        }));
        return vscode.commands.executeCommand('nsx.capturePackets', undefined, { targets, ...on(ctx.network.host) });
      }
      const node = ctx.network.nodeOf(context);
      if (!node) return undefined;
      return context?.link !== undefined
        ? vscode.commands.executeCommand('nsx.capturePackets', node, { interfaces: [context.link] })
        : vscode.commands.executeCommand('nsx.capturePackets', node);
    },
    /** An interface's row in the tree: that interface of its namespace. */
    'nsx.captureInterface': (node?: unknown) =>
      node instanceof InterfaceNode
        ? vscode.commands.executeCommand(
            'nsx.capturePackets',
            new NamespaceNode(ctx.host.node, { type: 'net', inode: node.netns }, false),
            { interfaces: [node.link.name] },
          )
        : undefined,
    'nsx.network.openTerminal': (context?: ViewContext) => {
      const node = ctx.network.nodeOf(context);
      return node ? vscode.commands.executeCommand('nsx.openTerminalInNamespaces', node) : undefined;
    },
  };
}

/** The option that runs a command on HOST (commands/index.ts): none for this one. */
function on(host: Host): { nsxHost?: string } {
  return host.local ? {} : { nsxHost: host.name };
}
