// Network commands: the picture of how namespaces are wired, and what its context menu offers.
import * as vscode from 'vscode';
import type { ViewContext } from '../network/webview/messages';
import { InterfaceNode } from '../tree/netNodes';
import { keyOf, NamespaceNode } from '../tree/nodes';
import type { Commands, Context } from './context';

export function networkCommands(ctx: Context): Commands {
  return {
    /** From the view's title bar (everything), or a net namespace's row (that one, in the picture). */
    'nsx.showNetwork': (node?: unknown) => {
      const key = keyOf(node);
      ctx.network.show(key?.type === 'net' ? key.inode : undefined);
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
        return vscode.commands.executeCommand('nsx.capturePackets', undefined, { targets });
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
            new NamespaceNode(undefined, { type: 'net', inode: node.netns }, false),
            { interfaces: [node.link.name] },
          )
        : undefined,
    'nsx.network.openTerminal': (context?: ViewContext) => {
      const node = ctx.network.nodeOf(context);
      return node ? vscode.commands.executeCommand('nsx.openTerminalInNamespaces', node) : undefined;
    },
  };
}
