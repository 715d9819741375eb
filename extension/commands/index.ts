// Every command the extension contributes, in one table: its id in
// package.json, and the function that runs it. Each is guarded, so a failure
// is one clear message. Arguments: a tree item when run from a view; the
// options each module documents when run by a keybinding or another extension.
// A command run on another host's row (or given { nsxHost: NAME }) runs from
// that host's table: the same modules over its connection, model and parts.
import * as vscode from 'vscode';
import { captureCommands } from './capture';
import type { Commands, Context } from './context';
import type { Host } from '../hosts';
import { daemonCommands } from './daemon';
import { filesCommands } from './files';
import { inspectCommands } from './inspect';
import { networkCommands } from './network';
import { pinCommands } from './pins';
import { portCommands } from './ports';
import { terminalCommands } from './terminals';
import { viewCommands } from './view';

function table(ctx: Context): Commands {
  return {
    ...viewCommands(ctx),
    ...inspectCommands(ctx),
    ...terminalCommands(ctx),
    ...pinCommands(ctx),
    ...portCommands(ctx),
    ...daemonCommands(ctx),
    ...captureCommands(ctx),
    ...filesCommands(ctx),
    ...networkCommands(ctx),
    ...hostCommands(ctx),
  };
}

export function registerCommands(ctx: Context): vscode.Disposable[] {
  const here = table(ctx);
  const tables = new WeakMap<Host, Commands>();
  const onHost = (host: Host): Commands => {
    if (!tables.has(host)) tables.set(host, table(hostContext(ctx, host)));
    return tables.get(host)!;
  };
  return Object.entries(here).map(([id, run]) =>
    vscode.commands.registerCommand(
      id,
      guarded((...args: never[]) => {
        const host = hostOfArgs(ctx, args);
        // Another host's row acts there, through its nsxd: never on this one instead.
        return !host || host.local ? run(...args) : onHost(host)[id](...args);
      }),
    ),
  );
}

/** The host a command is for: the row it was run on, or { nsxHost: NAME } among its options (tests, other extensions). */
function hostOfArgs(ctx: Context, args: unknown[]): Host | undefined {
  for (const a of args) {
    const h = ctx.hosts.of(a);
    if (h) return h;
    const named = a && typeof a === 'object' && 'nsxHost' in a ? (a as { nsxHost: unknown }).nsxHost : undefined;
    if (typeof named === 'string') {
      const byName = ctx.hosts.other(named);
      if (!byName) throw new Error(`no host "${named}" in nsx.hosts`);
      return byName;
    }
  }
  return undefined;
}

/** The context of another host: its connection, model, wiring, terminals, ports and captures; a rescan is of its model. */
function hostContext(ctx: Context, host: Host): Context {
  const { connection, model, net, terminals, ports } = host;
  const refresh = { rescan: () => model.rescan(), redraw: () => ctx.refresh.redraw() };
  return { ...ctx, host, connection, model, net, terminals, ports, refresh };
}

function hostCommands(ctx: Context): Commands {
  return {
    'nsx.retryHost': (node?: unknown) => {
      const host = ctx.hosts.of(node);
      if (host) void host.connection.connect();
    },
  };
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
