// Namespace Explorer: the VS Code side. Everything privileged goes through
// nsxd; this side shows the model and drives terminals.
import * as vscode from 'vscode';
import type { Context } from './commands/context';
import { registerCommands } from './commands/index';
import { Connection } from './connection';
import { DETAILS_SCHEME, Documents, PROCESS_SCHEME } from './documents';
import { setContextKey } from './menus';
import { Captures } from './captures';
import { FILES_SCHEME, FilesProvider } from './files/provider';
import { HostParts, Hosts } from './hosts';
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
  const here = hostParts(connection, extension.workspaceState);
  const { model, net, ports, captures, terminals } = here;
  const filter = new Filter();
  const pages = new Pages();
  const hosts = new Hosts(here, extension.workspaceState, filter, pages);
  const { namespaces, processes, namespacesView, processesView } = createViews(hosts, filter, pages);
  const refresh = new RefreshManager(model, filter, connection, [
    { id: 'nsx.namespaces', view: namespacesView, provider: namespaces },
    { id: 'nsx.processes', view: processesView, provider: processes },
  ]);
  const documents = new Documents(hosts);
  const files = new FilesProvider(hosts);
  const network = new NetworkView({ extension, hosts, namespaces, namespacesView });
  // The parts that hold something to let go of, disposed of with the extension in this order.
  const parts = {
    connection,
    model,
    net,
    ports,
    captures,
    filter,
    namespaces,
    processes,
    namespacesView,
    processesView,
    terminals,
    refresh,
    documents,
    network,
    files,
    hosts,
  };
  const ctx: Context = { extension, pages, host: hosts.here, ...parts };
  extension.subscriptions.push(
    output,
    ...Object.values(parts),
    vscode.workspace.registerTextDocumentContentProvider(DETAILS_SCHEME, documents),
    vscode.workspace.registerTextDocumentContentProvider(PROCESS_SCHEME, documents),
    vscode.workspace.registerFileSystemProvider(FILES_SCHEME, files, { isCaseSensitive: true }),
    ...listen(ctx),
    ...registerCommands(ctx),
  );
  void connection.connect();
  // The terminals this workspace had before its window reloaded: each attaches once nsxd answers.
  terminals.restore();
  reportHosts(hosts.load(), output);
  return { ...ctx, nodes };
}

/** This host's parts, on the connection to its nsxd. */
function hostParts(connection: Connection, state: vscode.Memento): HostParts {
  return {
    connection,
    model: new Model(connection),
    net: new NetModel(connection),
    ports: new Ports(connection),
    captures: new Captures(connection),
    terminals: new TerminalSessions(connection, state),
  };
}

/**
 * The two views: trees of the model (a net namespace's interfaces from the
 * wiring), through the filter, a page at a time; with other hosts, one root
 * per host.
 */
function createViews(hosts: Hosts, filter: Filter, pages: Pages) {
  const { model, net, ports } = hosts.here;
  const namespaces = new NamespacesProvider(model, filter, pages);
  namespaces.net = net;
  namespaces.ports = ports;
  namespaces.hosts = hosts;
  const processes = new ProcessesProvider(model, filter, pages);
  processes.hosts = hosts;
  const namespacesView = vscode.window.createTreeView('nsx.namespaces', {
    treeDataProvider: namespaces,
    showCollapseAll: true,
  });
  const processesView = vscode.window.createTreeView('nsx.processes', {
    treeDataProvider: processes,
    showCollapseAll: true,
  });
  hosts.setVisible('nsx.namespaces', namespacesView.visible);
  hosts.setVisible('nsx.processes', processesView.visible);
  return { namespaces, processes, namespacesView, processesView };
}

/** What the extension follows: the socket setting, which terminal is active, a row selected, the wiring. */
function listen(ctx: Context): vscode.Disposable[] {
  const { terminals, net, ports, namespaces, processes, namespacesView, processesView, hosts } = ctx;
  return [
    hosts.onDidChange(() => {
      namespaces.redraw();
      processes.redraw();
      setContextKey('nsx.hasHosts', hosts.list.length > 0);
    }),
    namespacesView.onDidChangeVisibility(({ visible }) => hosts.setVisible('nsx.namespaces', visible)),
    processesView.onDidChangeVisibility(({ visible }) => hosts.setVisible('nsx.processes', visible)),
    net.onDidChange(() => namespaces.redraw()),
    ports.onDidChange(() => namespaces.redraw()),
    namespacesView.onDidChangeVisibility(({ visible }) => net.setVisible('nsx.namespaces', visible)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('nsx.socketPath')) void connection?.connect(true);
      if (e.affectsConfiguration('nsx.hosts')) reportHosts(hosts.load(), ctx.connection.output);
    }),
    vscode.window.onDidChangeActiveTerminal((t) =>
      setContextKey(
        'nsx.activeTerminalIsOurs',
        [terminals, ...hosts.list.map((h) => h.terminals)].some((s) => s.forTerminal(t) !== undefined),
      ),
    ),
    ...[namespacesView, processesView].map((view) =>
      view.onDidChangeSelection(({ selection }) => {
        // Another host's row shows that host's details: the command goes to the row's host (commands/index.ts).
        const command = selection.length === 1 ? nodes.selectCommand(selection[0]) : undefined;
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
