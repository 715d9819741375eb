// What every command module is given: the connection, the model, the views.
import * as vscode from 'vscode';
import type { Connection } from '../connection';
import type { Documents } from '../documents';
import type { Hosts } from '../hosts';
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
  refresh: RefreshManager;
  documents: Documents;
  ports: Ports;
  network: NetworkView;
  /** The hosts of nsx.hosts, each a root of the Namespaces view (none: the view is this host's alone). */
  hosts: Hosts;
}

/** A module's commands: command id → what runs it (see index.ts). */
export type Commands = Record<string, (...args: never[]) => unknown>;
