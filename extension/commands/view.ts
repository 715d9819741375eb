// View commands: refresh, filter, grouping, paging, copy, reveal.
import * as vscode from 'vscode';
import { isNsType, nsId, NSTYPES, NsType } from '../../helper/common/protocol';
import { keyOf, MoreNode, pidOf, ProcessNode } from '../tree/nodes';
import { Context, guarded } from './context';

export function registerViewCommands(ctx: Context): vscode.Disposable[] {
  const refreshViews = () => { ctx.namespaces.refresh(); ctx.processes.refresh(); };
  return [
    vscode.commands.registerCommand('nsx.refresh', guarded(() => vscode.window.withProgress(
      { location: { viewId: 'nsx.namespaces' }, title: 'Scanning namespaces…' },
      () => ctx.model.refresh(),
    ))),
    vscode.commands.registerCommand('nsx.filter', guarded(async (opts?: { types?: NsType[]; text?: string }) => {
      if (opts) {
        ctx.filter.set(opts.types?.filter(isNsType), opts.text ?? '');
        return;
      }
      const picked = await vscode.window.showQuickPick(NSTYPES.map((t) => ({ label: t, picked: true })), {
        canPickMany: true, title: 'Filter namespaces: which types?',
      });
      if (!picked) return;
      const text = await vscode.window.showInputBox({ title: 'Filter: text to match (command, pid, container, pin)', prompt: 'Leave empty to match all', value: '' });
      if (text === undefined) return;
      ctx.filter.set(picked.length === NSTYPES.length ? undefined : picked.map((p) => p.label as NsType), text);
    })),
    vscode.commands.registerCommand('nsx.clearFilter', () => ctx.filter.clear()),
    vscode.commands.registerCommand('nsx.showHierarchy', () => ctx.namespaces.setGrouping('hierarchy')),
    vscode.commands.registerCommand('nsx.showByType', () => ctx.namespaces.setGrouping('type')),
    vscode.commands.registerCommand('nsx.showMore', (node: MoreNode) => {
      ctx.pages.more(node);
      refreshViews();
    }),
    vscode.commands.registerCommand('nsx.copyNamespaceId', guarded(async (node: unknown) => {
      const key = keyOf(node);
      if (key) await vscode.env.clipboard.writeText(nsId(key));
    })),
    vscode.commands.registerCommand('nsx.copyPid', guarded(async (node: unknown) => {
      const pid = pidOf(node);
      if (pid !== undefined) await vscode.env.clipboard.writeText(String(pid));
    })),
    vscode.commands.registerCommand('nsx.revealProcess', guarded(async (node: unknown) => {
      const pid = pidOf(node);
      if (pid === undefined) return;
      await ctx.processesView.reveal(new ProcessNode(undefined, pid, true), { select: true, focus: true, expand: true });
    })),
  ];
}
