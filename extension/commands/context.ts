// What every command module is given: the connection, the model, the views.
import * as vscode from 'vscode';
import type { Connection } from '../connection';
import type { Model } from '../model';
import type { TerminalSessions } from '../terminal';
import type { Filter } from '../tree/filter';
import type { NamespacesProvider } from '../tree/namespacesView';
import type { Node } from '../tree/nodes';
import type { Pages } from '../tree/paging';
import type { ProcessesProvider } from '../tree/processesView';

export interface Context {
  extension: vscode.ExtensionContext;
  connection: Connection;
  model: Model;
  filter: Filter;
  pages: Pages;
  namespaces: NamespacesProvider;
  processes: ProcessesProvider;
  namespacesView: vscode.TreeView<Node>;
  processesView: vscode.TreeView<Node>;
  terminals: TerminalSessions;
}

/** Runs a command body, turning any failure into one clear message instead of a stack trace. */
export function guarded<A extends unknown[]>(fn: (...args: A) => Promise<unknown> | unknown): (...args: A) => Promise<unknown> {
  return async (...args: A) => {
    try {
      return await fn(...args);
    } catch (err) {
      console.error(`Namespace Explorer: ${(err as Error).stack ?? err}`);
      void vscode.window.showErrorMessage((err as Error).message);
      return undefined;
    }
  };
}
