// Namespace Explorer: the VS Code side. Everything privileged goes through
// nsxd; this side shows the model and drives terminals.
import * as vscode from 'vscode';
import { registerDaemonCommands } from './commands/daemon';
import { registerInspectCommands } from './commands/inspect';
import { registerPinCommands } from './commands/pins';
import { registerTerminalCommands } from './commands/terminals';
import { registerViewCommands } from './commands/view';
import type { Context } from './commands/context';
import { Connection } from './connection';
import { DETAILS_SCHEME, Documents, PROCESS_SCHEME } from './documents';
import { Model } from './model';
import { TerminalSessions } from './terminal';
import { Filter } from './tree/filter';
import { NamespacesProvider } from './tree/namespacesView';
import * as nodes from './tree/nodes';
import { Pages } from './tree/paging';
import { ProcessesProvider } from './tree/processesView';

let connection: Connection | undefined;

/** What the extension's test suite (and other extensions) can reach: its parts and its node classes. */
export type Api = Context & { nodes: typeof nodes };

export function activate(extension: vscode.ExtensionContext): Api {
  const output = vscode.window.createOutputChannel('Namespace Explorer');
  connection = new Connection(output);
  const model = new Model(connection);
  const filter = new Filter();
  const pages = new Pages();
  const namespaces = new NamespacesProvider(model, filter, pages);
  const processes = new ProcessesProvider(model, filter, pages);
  const namespacesView = vscode.window.createTreeView('nsx.namespaces', { treeDataProvider: namespaces, showCollapseAll: true });
  const processesView = vscode.window.createTreeView('nsx.processes', { treeDataProvider: processes, showCollapseAll: true });
  const terminals = new TerminalSessions(connection);
  const ctx: Context = { extension, connection, model, filter, pages, namespaces, processes, namespacesView, processesView, terminals };

  const documents = new Documents(connection, model);
  const refreshViews = () => { namespaces.refresh(); processes.refresh(); };
  // The view's message says why nsxd is not reachable, or what the filter hides.
  const describe = () => {
    const message = !connection!.connected && connection!.currentState !== 'connecting'
      ? connection!.reason
      : filter.active ? `Filtered: ${filter.summary}` : undefined;
    namespacesView.message = message;
    processesView.message = message;
  };
  extension.subscriptions.push(
    output, connection, model, filter, namespaces, processes, namespacesView, processesView, terminals,
    namespacesView.onDidChangeVisibility((e) => model.setVisible('nsx.namespaces', e.visible)),
    processesView.onDidChangeVisibility((e) => model.setVisible('nsx.processes', e.visible)),
    model.onDidChange(refreshViews),
    filter.onDidChange(() => { describe(); refreshViews(); }),
    connection.onDidChangeState(describe),
    vscode.workspace.registerTextDocumentContentProvider(DETAILS_SCHEME, documents),
    vscode.workspace.registerTextDocumentContentProvider(PROCESS_SCHEME, documents),
    vscode.workspace.onDidChangeConfiguration((e) => { if (e.affectsConfiguration('nsx.socketPath')) void connection?.connect(); }),
    ...registerViewCommands(ctx),
    ...registerInspectCommands(ctx),
    ...registerTerminalCommands(ctx),
    ...registerPinCommands(ctx),
    ...registerDaemonCommands(ctx),
  );
  model.setVisible('nsx.namespaces', namespacesView.visible);
  model.setVisible('nsx.processes', processesView.visible);
  void connection.connect();
  return { ...ctx, nodes };
}

export function deactivate(): Promise<void> | undefined {
  return connection?.dispose();
}
