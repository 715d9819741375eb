// What every command module is given: the host it acts on (its connection,
// model, wiring, terminals, ports and captures), and the views.
import * as vscode from 'vscode';
import type { Connection } from '../connection';
import type { Documents } from '../documents';
import type { FilesProvider } from '../files/provider';
import type { Host, Hosts } from '../hosts';
import type { Model } from '../model';
import type { NetModel } from '../netModel';
import type { Ports } from '../ports';
import type { NetworkView } from '../network/view';
import type { TerminalSessions } from '../terminal';
import type { Filter } from '../tree/filter';
import type { NamespacesProvider } from '../tree/namespacesView';
import type { Node } from '../tree/nodes';
import type { Pages } from '../tree/paging';
import type { ProcessesProvider } from '../tree/processesView';
import type { RefreshManager } from '../tree/refresh';

export interface Context {
  extension: vscode.ExtensionContext;
  /** The host the commands act on: this one, or the host of the row they were run on (commands/index.ts). */
  host: Host;
  /** These parts are the host's. */
  connection: Connection;
  model: Model;
  net: NetModel;
  filter: Filter;
  pages: Pages;
  namespaces: NamespacesProvider;
  processes: ProcessesProvider;
  namespacesView: vscode.TreeView<Node>;
  processesView: vscode.TreeView<Node>;
  terminals: TerminalSessions;
  /** A rescan of the host's model; a redraw of the views. */
  refresh: Pick<RefreshManager, 'rescan' | 'redraw'>;
  documents: Documents;
  ports: Ports;
  /** nsx-files: every host's roots, each on its host's connection. */
  files: FilesProvider;
  network: NetworkView;
  /** The hosts of nsx.hosts, each a root of the Namespaces view (none: the view is this host's alone). */
  hosts: Hosts;
}

/** A module's commands: command id → what runs it (see index.ts). */
export type Commands = Record<string, (...args: never[]) => unknown>;
