// Network commands: the picture of how namespaces are wired, and what its context menu offers.
import * as vscode from 'vscode';
import type { ViewContext } from '../network/webview/messages';
import { keyOf } from '../tree/nodes';
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
    'nsx.network.openTerminal': (context?: ViewContext) => {
      const node = ctx.network.nodeOf(context);
      return node ? vscode.commands.executeCommand('nsx.openTerminalInNamespaces', node) : undefined;
    },
  };
}
