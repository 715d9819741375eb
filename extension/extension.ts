// Namespace Explorer: the VS Code side. Everything privileged goes through
// nsxd; this side shows the model and drives terminals.
import * as vscode from 'vscode';
import type { Context } from './commands/context';
import { registerCommands } from './commands/index';
import { Connection } from './connection';
import { DETAILS_SCHEME, Documents, PROCESS_SCHEME } from './documents';
import { setContextKey } from './menus';
import { Hosts } from './hosts';
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
  const hosts = new Hosts({ connection, model, net, terminals }, extension.workspaceState, filter, pages);
  namespaces.hosts = hosts;
  hosts.setVisible(namespacesView.visible);
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
    hosts,
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
  reportHosts(hosts.load(), output);
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
function listen(ctx: Context): vscode.Disposable[] {
  const { terminals, net, ports, namespaces, namespacesView, processesView, hosts } = ctx;
  return [
    hosts.onDidChange(() => namespaces.redraw()),
    namespacesView.onDidChangeVisibility(({ visible }) => hosts.setVisible(visible)),
    net.onDidChange(() => namespaces.redraw()),
    ports.onDidChange(() => namespaces.redraw()),
    namespacesView.onDidChangeVisibility(({ visible }) => net.setVisible('nsx.namespaces', visible)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('nsx.socketPath')) void connection?.connect(true);
      if (e.affectsConfiguration('nsx.hosts')) reportHosts(hosts.load(), ctx.connection.output);
    }),
    vscode.window.onDidChangeActiveTerminal((t) =>
      setContextKey('nsx.activeTerminalIsOurs', terminals.forTerminal(t) !== undefined),
    ),
    ...[namespacesView, processesView].map((view) =>
      view.onDidChangeSelection(({ selection }) => {
        // Details are this host's for now: another host's row shows its own tooltip instead.
        const remote = selection.length === 1 && hosts.of(selection[0])?.local === false;
        const command = selection.length === 1 && !remote ? nodes.selectCommand(selection[0]) : undefined;
        if (command) void vscode.commands.executeCommand(command, selection[0]);
      }),
    ),
  ];
}

/** Entries of nsx.hosts that are not what they should be: said once in the log and as a warning. */
function reportHosts(problems: string[], output: vscode.OutputChannel): void {
  for (const p of problems) output.appendLine(p);
  if (problems.length) void vscode.window.showWarningMessage(`nsx.hosts: ${problems[0]}`);
}

export function deactivate(): Promise<void> | undefined {
  return connection?.dispose();
}
