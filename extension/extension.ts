// Namespace Explorer: the VS Code side. Everything privileged goes through
// nsxd; this side shows the model and drives terminals.
import * as vscode from 'vscode';
import type { Context } from './commands/context';
import { registerCommands } from './commands/index';
import { Connection } from './connection';
import { DETAILS_SCHEME, Documents, PROCESS_SCHEME } from './documents';
import { setContextKey } from './menus';
import { Model } from './model';
import { NetModel } from './netModel';
import { Ports } from './ports';
import { NetworkView } from './network/view';
import { TerminalSessions } from './terminal';
import { Filter } from './tree/filter';
import { NamespacesProvider } from './tree/namespacesView';
import * as nodes from './tree/nodes';
import { Pages } from './tree/paging';
import { ProcessesProvider } from './tree/processesView';
import { RefreshManager } from './tree/refresh';

let connection: Connection | undefined;

/** What the extension's test suite (and other extensions) can reach: its parts and its node classes. */
export type Api = Context & { nodes: typeof nodes };

export function activate(extension: vscode.ExtensionContext): Api {
  const output = vscode.window.createOutputChannel('Namespace Explorer');
  connection = new Connection(
    output,
    vscode.Uri.joinPath(extension.extensionUri, 'helper/daemon/systemd/install.sh').fsPath,
  );
  const model = new Model(connection);
  const net = new NetModel(connection);
  const ports = new Ports(connection);
  const filter = new Filter();
  const pages = new Pages();
  const { namespaces, processes, namespacesView, processesView } = createViews(model, net, ports, filter, pages);
  const terminals = new TerminalSessions(connection, extension.workspaceState);
  const refresh = new RefreshManager(model, filter, connection, [
    { id: 'nsx.namespaces', view: namespacesView, provider: namespaces },
    { id: 'nsx.processes', view: processesView, provider: processes },
  ]);
  const documents = new Documents(connection, model);
  const network = new NetworkView({ extension, connection, model, net, namespaces, namespacesView });
  // The parts that hold something to let go of, disposed of with the extension in this order.
  const parts = {
    connection,
    model,
    net,
    ports,
    filter,
    namespaces,
    processes,
    namespacesView,
    processesView,
    terminals,
    refresh,
    documents,
    network,
  };
  const ctx: Context = { extension, pages, ...parts };
  extension.subscriptions.push(
    output,
    ...Object.values(parts),
    vscode.workspace.registerTextDocumentContentProvider(DETAILS_SCHEME, documents),
    vscode.workspace.registerTextDocumentContentProvider(PROCESS_SCHEME, documents),
    ...listen(ctx),
    ...registerCommands(ctx),
  );
  void connection.connect();
  // The terminals this workspace had before its window reloaded: each attaches once nsxd answers.
  terminals.restore();
  return { ...ctx, nodes };
}

/** The two views: trees of the model (a net namespace's interfaces from the wiring), through the filter, a page at a time. */
function createViews(model: Model, net: NetModel, ports: Ports, filter: Filter, pages: Pages) {
  const namespaces = new NamespacesProvider(model, filter, pages);
  namespaces.net = net;
  namespaces.ports = ports;
  const processes = new ProcessesProvider(model, filter, pages);
  const namespacesView = vscode.window.createTreeView('nsx.namespaces', {
    treeDataProvider: namespaces,
    showCollapseAll: true,
  });
  const processesView = vscode.window.createTreeView('nsx.processes', {
    treeDataProvider: processes,
    showCollapseAll: true,
  });
  return { namespaces, processes, namespacesView, processesView };
}

/** What the extension follows: the socket setting, which terminal is active, a row selected, the wiring. */
function listen({ terminals, net, ports, namespaces, namespacesView, processesView }: Context): vscode.Disposable[] {
  return [
    net.onDidChange(() => namespaces.redraw()),
    ports.onDidChange(() => namespaces.redraw()),
    namespacesView.onDidChangeVisibility(({ visible }) => net.setVisible('nsx.namespaces', visible)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('nsx.socketPath')) void connection?.connect(true);
    }),
    vscode.window.onDidChangeActiveTerminal((t) =>
      setContextKey('nsx.activeTerminalIsOurs', terminals.forTerminal(t) !== undefined),
    ),
    ...[namespacesView, processesView].map((view) =>
      view.onDidChangeSelection(({ selection }) => {
        const command = selection.length === 1 ? nodes.selectCommand(selection[0]) : undefined;
        if (command) void vscode.commands.executeCommand(command, selection[0]);
      }),
    ),
  ];
}

export function deactivate(): Promise<void> | undefined {
  return connection?.dispose();
}
