// Every command the extension contributes, in one table: its id in
// package.json, and the function that runs it. Each is guarded, so a failure
// is one clear message. Arguments: a tree item when run from a view; the
// options each module documents when run by a keybinding or another extension.
import * as vscode from 'vscode';
import { captureCommands } from './capture';
import type { Context } from './context';
import { daemonCommands } from './daemon';
import { filesCommands } from './files';
import { inspectCommands } from './inspect';
import { networkCommands } from './network';
import { pinCommands } from './pins';
import { portCommands } from './ports';
import { terminalCommands } from './terminals';
import { viewCommands } from './view';

export function registerCommands(ctx: Context): vscode.Disposable[] {
  const table = {
    ...viewCommands(ctx),
    ...inspectCommands(ctx),
    ...terminalCommands(ctx),
    ...pinCommands(ctx),
    ...portCommands(ctx),
    ...daemonCommands(ctx),
    ...captureCommands(ctx),
    ...filesCommands(ctx),
    ...networkCommands(ctx),
  };
  return Object.entries(table).map(([id, run]) => vscode.commands.registerCommand(id, guarded(run)));
}

/** Runs a command body, turning any failure into one clear message instead of a stack trace. */
function guarded(fn: (...args: never[]) => unknown): (...args: never[]) => Promise<unknown> {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (err) {
      console.error(`Namespace Explorer: ${(err as Error).stack ?? err}`);
      // Notifications render [text](target) as a link, and a message may quote a name nsxd read: never one of theirs.
      void vscode.window.showErrorMessage((err as Error).message.replace(/\]\(/g, '] ('));
      return undefined;
    }
  };
}
