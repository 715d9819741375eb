// Capture Packets… (to a file the user picks) and Capture Packets (Live
// Text) (the stream read by the user's own tcpdump into an output channel),
// on a net namespace, a container or a process; nsxd does the capturing.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import {
  CaptureEndParams,
  CaptureInterface,
  CaptureInterfaces,
  CaptureStartParams,
  CaptureTargetSpec,
  captureSummary,
  pickedTargets,
  interfaceLabel,
} from '../../helper/common/capture';
import { nsId, NsKey, TerminalTarget } from '../../helper/common/protocol';
import { namespaceDescription, namespaceName } from '../tree/labels';
import { Captures, STOP_CAPTURES } from '../captures';
import { ContainerNode, keyOf, pidOf } from '../tree/nodes';
import type { Commands, Context } from './context';
import { pickProcess } from './pick';

interface Where {
  target: TerminalTarget;
  name: string;
}

/** What a user calls a net namespace, as its row does. */
function nameOf(ctx: Context, key: NsKey): string {
  const ns = ctx.model.namespace(key);
  const first = ns?.pids.length ? ctx.model.process(Math.min(...ns.pids)) : undefined;
  return (ns && namespaceName(ns, first)) ?? nsId(key);
}

/** Whose network namespace a tree item stands for: a net row's own, a container's, a process's (a row's first). */
async function targetOf(ctx: Context, node: unknown): Promise<Where | undefined> {
  if (node instanceof ContainerNode) {
    const c = ctx.model.container(node.containerId);
    if (c) return { target: { container: c.id }, name: c.name };
  }
  const key = keyOf(node);
  if (key?.type === 'net' && pidOf(node) === undefined) return { target: { namespace: key }, name: nameOf(ctx, key) };
  const ns = key && ctx.model.namespace(key);
  const c = ns && ctx.model.containerOf(ns);
  if (c) return { target: { container: c.id }, name: c.name };
  const pid = pidOf(node) ?? (ns?.pids.length ? Math.min(...ns.pids) : undefined);
  if (pid !== undefined) return { target: { pid }, name: String(pid) };
  const p = await pickProcess(ctx, 'Capture packets in the network namespace of…');
  return p && { target: { pid: p.pid }, name: `${p.comm} (${p.pid})` };
}

/** The net namespace a target is in, as the model knows it. */
function netInodeOf(ctx: Context, t: TerminalTarget): number | undefined {
  if ('namespace' in t) return t.namespace.inode;
  if ('pid' in t) return ctx.model.process(t.pid)?.ns.net;
  if ('container' in t) return ctx.model.container(t.container)?.namespaces.find((k) => k.type === 'net')?.inode;
  return undefined;
}

/** Other network namespaces to capture in at once (none is fine); undefined if the user backs out. */
async function pickMore(ctx: Context, first: Where): Promise<Where[] | undefined> {
  const skip = netInodeOf(ctx, first.target);
  const items = ctx.model
    .allNamespaces()
    .filter((ns) => ns.type === 'net' && ns.inode !== skip)
    .map((ns) => ({
      label: nameOf(ctx, ns),
      description: namespaceDescription(ns),
      where: { target: { namespace: { type: 'net' as const, inode: ns.inode } }, name: nameOf(ctx, ns) },
    }));
  if (items.length === 0) return [first];
  const picked = await vscode.window.showQuickPick(items, {
    canPickMany: true,
    title: `Capture packets in ${first.name}: and in…`,
    placeHolder: 'Other network namespaces to capture in at once, or none',
  });
  return picked && [first, ...picked.map((p) => p.where)];
}

const LIMITS: (vscode.QuickPickItem & { limits: Partial<CaptureStartParams> })[] = [
  { label: 'Until stopped', description: 'at most a day', limits: {} },
  { label: '100 packets', limits: { count: 100 } },
  { label: '1,000 packets', limits: { count: 1000 } },
  { label: '10 seconds', limits: { seconds: 10 } },
  { label: '1 minute', limits: { seconds: 60 } },
  { label: '100 MiB', description: 'the file never passes it', limits: { bytes: 100 * 1024 * 1024 } },
];

/**
 * What a keybinding or another extension may give instead of the picks:
 * the interfaces, filter and limits; for Capture Packets…, the file. With
 * them, the command resolves once the capture ended, with its end.
 */
export interface CaptureOptions {
  interfaces?: string[];
  /** In place of the row's namespace: these namespaces and interfaces (a wire's two ends, say). */
  targets?: CaptureTargetSpec[];
  filter?: string;
  count?: number;
  seconds?: number;
  file?: string;
}

interface Chosen {
  params: CaptureStartParams;
  name: string;
}

/** Interfaces, filter and limits, picked (or given); undefined if the user backs out. */
async function pickCapture(ctx: Context, node: unknown, opts?: CaptureOptions): Promise<Chosen | undefined> {
  const client = ctx.connection.require();
  if (opts?.targets) {
    const { targets, filter, count, seconds } = opts;
    const name = targets.map((t) => t.interfaces?.join('+') ?? 'all').join(', ');
    return { params: { targets, filter, count, seconds }, name };
  }
  const where = await targetOf(ctx, node);
  if (!where) return undefined;
  if (opts) {
    const { interfaces, filter, count, seconds } = opts;
    const spec = { target: where.target, ...(interfaces && { interfaces }) };
    return { params: { targets: [spec], filter, count, seconds }, name: where.name };
  }
  const wheres = await pickMore(ctx, where);
  if (!wheres) return undefined;
  const name = wheres.map((w) => w.name).join(', ');
  const all = await client.sendRequest(CaptureInterfaces, { targets: wheres.map((w) => ({ target: w.target })) });
  const items = all.map((i: CaptureInterface) => ({
    label: interfaceLabel(i),
    description: i.linktype === 1 ? 'Ethernet' : i.linktype === 101 ? 'raw IP' : 'cooked',
    picked: i.name !== 'lo',
    iface: i,
  }));
  const picked = await vscode.window.showQuickPick(items, {
    canPickMany: true,
    title: `Capture packets in ${name}: interfaces`,
  });
  if (!picked?.length) return undefined;
  const filter = await vscode.window.showInputBox({
    title: `Capture packets in ${name}: filter`,
    prompt: 'A tcpdump filter (pcap-filter), or empty for every packet',
    placeHolder: 'icmp or arp',
  });
  if (filter === undefined) return undefined;
  const limit = await vscode.window.showQuickPick(LIMITS, { title: `Capture packets in ${name}: until` });
  if (!limit) return undefined;
  const targets = pickedTargets(
    wheres.map((w) => w.target),
    all,
    picked.map((p) => p.iface),
  );
  return { params: { targets, filter, ...limit.limits }, name };
}

/** The file the capture goes to, as the user picks it (or is given). */
async function fileFor(chosen: Chosen, opts?: CaptureOptions): Promise<vscode.Uri | undefined> {
  if (opts?.file) return vscode.Uri.file(opts.file);
  const safe = chosen.name.replace(/[^\w.-]+/g, '-');
  return vscode.window.showSaveDialog({
    title: 'Write the capture to',
    defaultUri: vscode.Uri.file(join(homedir(), `capture-${safe}.pcapng`)),
    filters: { pcapng: ['pcapng'] },
  });
}

async function captureToFile(
  ctx: Context,
  captures: Captures,
  node?: unknown,
  opts?: CaptureOptions,
): Promise<CaptureEndParams | undefined> {
  const chosen = await pickCapture(ctx, node, opts);
  const uri = chosen && (await fileFor(chosen, opts));
  if (!chosen || !uri) return undefined;
  const made = !existsSync(uri.fsPath);
  const file = createWriteStream(uri.fsPath);
  await new Promise<void>((resolve, reject) => {
    file.once('open', () => resolve());
    file.once('error', reject);
  });
  const { capture, ended } = await captures.start(chosen.params, file).catch((err) => {
    // Nothing half-done: a file made for a capture that never started goes again.
    file.destroy();
    if (made) rmSync(uri.fsPath, { force: true });
    throw err;
  });
  const done = ended.then(async (end) => {
    if (!file.destroyed) await new Promise<void>((resolve) => file.end(() => resolve()));
    return end;
  });
  void vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Capturing on ${capture.label}`, cancellable: true },
    async (_progress, token) => {
      token.onCancellationRequested(() => capture.handle.stop());
      void offerToOpen(uri, await done);
    },
  );
  return opts ? done : undefined;
}

async function offerToOpen(uri: vscode.Uri, end: CaptureEndParams): Promise<void> {
  if (end.error) {
    void vscode.window.showErrorMessage(`The capture failed: ${end.error}`);
    return;
  }
  const choice = await vscode.window.showInformationMessage(
    `${captureSummary(end)} (${end.reason}), written to ${uri.fsPath}.`,
    'Open',
    'Reveal',
  );
  if (choice === 'Open') void vscode.env.openExternal(uri);
  if (choice === 'Reveal') void vscode.commands.executeCommand('revealFileInOS', uri);
}

/** Live: the stream through `tcpdump -r - -l -nn`, run as the user (not root), into an output channel. */
async function captureLive(
  ctx: Context,
  captures: Captures,
  node?: unknown,
  opts?: CaptureOptions,
): Promise<{ end: CaptureEndParams; text: string } | undefined> {
  const chosen = await pickCapture(ctx, node, opts);
  if (!chosen) return undefined;
  const tcpdump = spawn('tcpdump', ['-r', '-', '-l', '-nn'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const started = new Promise<void>((resolve, reject) => {
    tcpdump.once('spawn', () => resolve());
    tcpdump.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          err.code === 'ENOENT'
            ? 'The live view reads the capture with tcpdump, which is not installed here: install it (sudo apt install tcpdump), or use Capture Packets… and open the file.'
            : `cannot run tcpdump: ${err.message}`,
        ),
      ),
    );
  });
  await started;
  const channel = vscode.window.createOutputChannel(`Capture: ${chosen.name}${ctx.host.on}`);
  channel.show(true);
  // What tcpdump printed is also kept (the first MiB) for a caller that gave options, as a test.
  let shown = '';
  const show = (text: string) => {
    channel.append(text);
    if (shown.length < 1024 * 1024) shown += text;
  };
  tcpdump.stdout.setEncoding('utf8').on('data', show);
  tcpdump.stderr.setEncoding('utf8').on('data', show);
  const exited = new Promise<void>((resolve) => tcpdump.once('close', () => resolve()));
  tcpdump.stdin.on('error', () => undefined);
  const { capture, ended } = await captures.start(chosen.params, tcpdump.stdin).catch((err) => {
    tcpdump.kill();
    throw err;
  });
  channel.appendLine(`capturing on ${capture.label} (stop it from the status bar)`);
  if (capture.handle.result.interfaces.length > 1)
    channel.appendLine(
      '(tcpdump does not say which interface a packet came by; Capture Packets… names each in its file)',
    );
  const end = await ended;
  tcpdump.stdin.end();
  await exited;
  channel.appendLine(end.error ? `the capture failed: ${end.error}` : `${captureSummary(end)} (${end.reason})`);
  return opts ? { end, text: shown } : undefined;
}

export function captureCommands(ctx: Context): Commands {
  // The host's: its stream comes from its nsxd (another bridge run, for another host).
  const captures = ctx.host.captures;
  return {
    'nsx.capturePackets': (node?: unknown, opts?: CaptureOptions) => captureToFile(ctx, captures, node, opts),
    'nsx.capturePacketsLive': (node?: unknown, opts?: CaptureOptions) => captureLive(ctx, captures, node, opts),
    /** The status bar's: every host's captures. */
    [STOP_CAPTURES]: () => {
      for (const h of new Set([ctx.hosts.here, ...ctx.hosts.list])) h.captures.stopAll();
    },
  };
}
