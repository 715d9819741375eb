// Inspection commands: a namespace's details, two processes compared (of the host they are run on).
import * as vscode from 'vscode';
import { detailsUri, processUri } from '../documents';
import { processName } from '../tree/labels';
import { keyOf, pidOf } from '../tree/nodes';
import type { Commands, Context } from './context';
import { pickProcess } from './pick';

export function inspectCommands(ctx: Context): Commands {
  return {
    'nsx.showDetails': async (node?: unknown) => {
      const key = keyOf(node);
      if (!key) return undefined;
      const uri = detailsUri(key, ctx.host);
      // Shown again, it is read again: details of a live namespace go stale.
      if (vscode.workspace.textDocuments.some((d) => d.uri.toString() === uri.toString())) ctx.documents.refresh(uri);
      const doc = await vscode.workspace.openTextDocument(uri);
      return vscode.window.showTextDocument(doc, { preview: true, preserveFocus: true });
    },
    'nsx.compareProcesses': async (node?: unknown, otherPid?: number) => {
      const first = pidOf(node) ?? (await pickProcess(ctx, 'Compare the namespaces of… (first process)'))?.pid;
      if (first === undefined) return undefined;
      const second = otherPid ?? (await pickProcess(ctx, `Compare ${first} with… (second process)`))?.pid;
      if (second === undefined) return undefined;
      const a = ctx.model.process(first);
      const b = ctx.model.process(second);
      if (!a || !b) throw new Error(`Process ${!a ? first : second} is gone.`);
      const [na, nb] = [processName(a, ctx.model.containerNameOf(a)), processName(b, ctx.model.containerNameOf(b))];
      await vscode.commands.executeCommand(
        'vscode.diff',
        processUri(a.pid, a.comm, ctx.host),
        processUri(b.pid, b.comm, ctx.host),
        `Namespaces: ${na} ↔ ${nb}${ctx.host.on}`,
      );
      return [a, b];
    },
  };
}
