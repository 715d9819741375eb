// View commands: refresh, filter, grouping, paging, copy, reveal.
import * as vscode from 'vscode';
import { isNsType, nsId, NSTYPES, NsType } from '../../helper/common/protocol';
import { keyOf, MoreNode, pidOf, ProcessNode } from '../tree/nodes';
import type { Commands, Context } from './context';

export function viewCommands(ctx: Context): Commands {
  return {
    'nsx.refresh': () =>
      vscode.window.withProgress({ location: { viewId: 'nsx.namespaces' }, title: 'Scanning namespaces…' }, () =>
        // From the title bar, every host that answers; from a host's row (commands/index.ts), that one.
        Promise.all([
          ctx.refresh.rescan(),
          ...(ctx.host.local ? ctx.hosts.list.filter((h) => !h.local && h.connection.connected) : []).map((h) =>
            h.model.rescan().catch(() => undefined),
          ),
        ]),
      ),
    'nsx.filter': (opts?: { types?: NsType[]; text?: string }) => filter(ctx, opts),
    'nsx.clearFilter': () => ctx.filter.clear(),
    'nsx.showHierarchy': () => {
      ctx.namespaces.setGrouping('hierarchy');
      ctx.refresh.redraw();
    },
    'nsx.showByType': () => {
      ctx.namespaces.setGrouping('type');
      ctx.refresh.redraw();
    },
    'nsx.showContainers': () => {
      ctx.namespaces.setGrouping('containers');
      ctx.refresh.redraw();
    },
    'nsx.showMore': (node: MoreNode) => {
      ctx.pages.more(node);
      ctx.refresh.redraw();
    },
    'nsx.copyNamespaceId': async (node: unknown) => {
      const key = keyOf(node);
      if (key) await vscode.env.clipboard.writeText(nsId(key));
    },
    'nsx.copyPid': async (node: unknown) => {
      const pid = pidOf(node);
      if (pid !== undefined) await vscode.env.clipboard.writeText(String(pid));
    },
    'nsx.revealProcess': async (node: unknown) => {
      const pid = pidOf(node);
      if (pid === undefined) return;
      // With host rows, under its host's.
      const root = ctx.hosts.list.length ? ctx.host.node : undefined;
      await ctx.processesView.reveal(new ProcessNode(root, pid, true), {
        select: true,
        focus: true,
        expand: true,
      });
    },
  };
}

/** Filters the views: by the options given (from a test, or another command), else by what the user picks and types. */
async function filter(ctx: Context, opts?: { types?: NsType[]; text?: string }): Promise<void> {
  if (opts) {
    ctx.filter.set(opts.types?.filter(isNsType), opts.text ?? '');
    return;
  }
  const picked = await vscode.window.showQuickPick(
    NSTYPES.map((t) => ({ label: t, picked: true })),
    {
      canPickMany: true,
      title: 'Filter namespaces: which types?',
    },
  );
  if (!picked) return;
  const text = await vscode.window.showInputBox({
    title: 'Filter: text to match (command, pid, container, pin)',
    prompt: 'Leave empty to match all',
    value: '',
  });
  if (text === undefined) return;
  ctx.filter.set(picked.length === NSTYPES.length ? undefined : picked.map((p) => p.label as NsType), text);
}
