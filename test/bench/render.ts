// The extension's half of `npm run bench`: run by test/vscode/run.mjs in a
// real workbench against the bench's nsxd, on a machine of 20,000 processes.
// It times a process that starts in a new uts namespace, and its exit, to
// the moment the workbench asks the Namespaces view for its top level and
// gets the new count: nsxd's notice, the diff, the model, the redraw.
// Figures go to $NSX_BENCH_OUT as JSON.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as vscode from 'vscode';
import type { Api } from '../../extension/extension';
import type { Node } from '../../extension/tree/nodes';

const RUNS = 7;

async function until<T>(what: string, fn: () => T | undefined, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function run(): Promise<void> {
  const api = (await vscode.extensions.all.find((e) => e.packageJSON.name === 'namespace-explorer')!.activate()) as Api;
  await vscode.commands.executeCommand('nsx.namespaces.focus');
  await until(
    'the Namespaces view shown and loaded',
    () => (api.namespacesView.visible && api.model.loaded) || undefined,
  );

  // What the workbench last got for the view's top level: the uts count, and when.
  let drawn: { uts: number; at: number } | undefined;
  const provider = api.namespaces;
  const getChildren = provider.getChildren.bind(provider);
  provider.getChildren = (node?: Node) => {
    const children = getChildren(node);
    const uts = node ? undefined : children.find((n) => n instanceof api.nodes.TypeNode && n.type === 'uts');
    if (uts) drawn = { uts: (uts as InstanceType<typeof api.nodes.TypeNode>).count, at: performance.now() };
    return children;
  };
  provider.redraw();
  await until('a first redraw', () => drawn);

  const started: number[] = [];
  const exited: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const before = drawn!.uts;
    const t0 = performance.now();
    const sleeper = spawn('unshare', ['--uts', '--', 'sleep', '600'], { stdio: 'ignore' });
    await until('the new namespace drawn', () => (drawn!.uts > before && drawn!.at > t0) || undefined);
    started.push(drawn!.at - t0);
    const t1 = performance.now();
    sleeper.kill('SIGKILL');
    await until('the namespace gone from the view', () => (drawn!.uts === before && drawn!.at > t1) || undefined);
    exited.push(drawn!.at - t1);
    await new Promise((r) => setTimeout(r, 300));
  }
  writeFileSync(
    process.env.NSX_BENCH_OUT!,
    JSON.stringify({ started, exited, namespaces: api.model.allNamespaces().length }),
  );
}
