// Pin commands: pin a namespace by name, unpin, create an empty persistent
// one; on the host of the row they are run on, said so when it is another.
import * as vscode from 'vscode';
import { LanguageClient, ResponseError } from 'vscode-languageclient/node';
import {
  CreateNamespace,
  ErrorCodes,
  Namespace,
  nsId,
  isNsType,
  NsType,
  NSTYPES,
  PIN_NAME,
  PIN_NAME_RULE,
  PinNamespace,
  UnpinNamespace,
  UnpinResult,
} from '../../helper/common/protocol';
import { netnsNames, unpinned } from '../../helper/common/words';
import { keyOf, pidOf } from '../tree/nodes';
import type { Commands, Context } from './context';

/** A pin name from a container or a command: lower case, safe characters, short. */
export function suggestName(ctx: Context, ns: Namespace | undefined, pid: number | undefined): string {
  const p =
    pid !== undefined ? ctx.model.process(pid) : ns?.pids.length ? ctx.model.process(Math.min(...ns.pids)) : undefined;
  const base = ns?.container?.name ?? ns?.container?.id ?? p?.comm ?? ns?.type ?? 'pin';
  const clean =
    base
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .slice(0, 48) || 'pin';
  return `${clean}-${ns?.type ?? 'ns'}`;
}

async function askName(title: string, value: string): Promise<string | undefined> {
  return vscode.window.showInputBox({
    title,
    value,
    validateInput: (v) => (PIN_NAME.test(v) ? undefined : PIN_NAME_RULE),
  });
}

/** Unpins; a name another tool made is released only after the user confirms what nsxd warns about. */
async function unpin(client: LanguageClient, type: NsType, name: string): Promise<UnpinResult | undefined> {
  try {
    return await client.sendRequest(UnpinNamespace, { type, name });
  } catch (err) {
    if (!(err instanceof ResponseError) || err.code !== ErrorCodes.NeedsConfirmation) throw err;
    const release = 'Release';
    if (
      (await vscode.window.showWarningMessage(err.message.replace(/ with --force.*/, ''), { modal: true }, release)) !==
      release
    )
      return undefined;
    return client.sendRequest(UnpinNamespace, { type, name, force: true });
  }
}

export function pinCommands(ctx: Context): Commands {
  return {
    'nsx.pinNamespace': (node?: unknown, name?: string, type?: NsType) => pinNamespace(ctx, node, name, type),
    'nsx.unpinNamespace': (node?: unknown, name?: string) => unpinNamespace(ctx, node, name),
    // From the title bar nothing is given; from a host's row, the row (it says which host: commands/index.ts).
    'nsx.newPersistentNamespace': (type?: unknown, name?: string) =>
      newPersistentNamespace(ctx, isNsType(type) ? type : undefined, name),
  };
}

/** Pins a namespace, or (from a process) the one of its namespaces the user picks, under a name. */
async function pinNamespace(ctx: Context, node?: unknown, name?: string, type?: NsType) {
  const client = ctx.connection.require();
  let key = keyOf(node);
  const pid = pidOf(node);
  if (!key && pid !== undefined) {
    // A process item: which of its namespaces?
    const p = ctx.model.process(pid);
    const t =
      type ??
      ((await vscode.window.showQuickPick(
        NSTYPES.filter((x) => p?.ns[x] !== undefined),
        { title: `Pin which namespace of ${p?.comm ?? pid} (${pid})?` },
      )) as NsType | undefined);
    if (!t || p?.ns[t] === undefined) return undefined;
    key = { type: t, inode: p.ns[t]! };
  }
  if (!key) throw new Error('Pick a namespace or a process in the Namespaces view to pin.');
  const ns = ctx.model.namespace(key);
  const pinName = name ?? (await askName(`Pin ${nsId(key)}${ctx.host.on} as`, suggestName(ctx, ns, pid)));
  if (!pinName) return undefined;
  const result = await client.sendRequest(
    PinNamespace,
    pid !== undefined
      ? { pid, type: key.type, name: pinName, inode: key.inode }
      : { type: key.type, name: pinName, inode: key.inode },
  );
  void vscode.window.showInformationMessage(
    `Pinned ${nsId(result)}${ctx.host.on} as ${result.pin.name} (${result.pin.paths.join(', ')}).`,
  );
  await ctx.refresh.rescan();
  return result;
}

/** Unpins one of a namespace's names, and says what still holds it. */
async function unpinNamespace(ctx: Context, node?: unknown, name?: string) {
  const client = ctx.connection.require();
  const key = keyOf(node);
  const ns = key && ctx.model.namespace(key);
  const names = ns ? [...ns.pins.map((p) => p.name), ...netnsNames(ns)] : [];
  if (!ns || names.length === 0) throw new Error('That namespace is not pinned.');
  const pin =
    name ??
    (names.length === 1
      ? names[0]
      : await vscode.window.showQuickPick(names, { title: `Unpin which name of ${nsId(ns)}?` }));
  if (!pin) return undefined;
  const r = await unpin(client, ns.type, pin);
  if (!r) return undefined;
  // nsx's sentence, as a sentence.
  const said = unpinned(`${ns.type}/${pin}`, r);
  void vscode.window.showInformationMessage(`${said[0].toUpperCase()}${said.slice(1)}${ctx.host.on}.`);
  await ctx.refresh.rescan();
  return r;
}

/** A fresh namespace held by its pin alone. */
async function newPersistentNamespace(ctx: Context, type?: NsType, name?: string) {
  const client = ctx.connection.require();
  const available = ctx.connection.nstypes.filter((x) => x !== 'pid'); // a pid namespace dies with its init
  const t =
    type ??
    ((
      await vscode.window.showQuickPick(
        available.map((x) => ({
          label: x,
          description: x === 'net' ? 'loopback up; also in /run/netns for ip netns' : '',
        })),
        { title: `New persistent namespace${ctx.host.on} of type` },
      )
    )?.label as NsType | undefined);
  if (!t) return undefined;
  const n = name ?? (await askName(`Name of the new ${t} namespace`, `my-${t}`));
  if (!n) return undefined;
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Creating ${t} namespace ${n}${ctx.host.on}…` },
    () => client.sendRequest(CreateNamespace, { type: t, name: n }),
  );
  void vscode.window.showInformationMessage(`Created ${nsId(result)}${ctx.host.on}, pinned as ${result.pin.name}.`);
  await ctx.refresh.rescan();
  return result;
}
