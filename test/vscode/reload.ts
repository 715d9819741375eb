// The window reloaded under its terminals, in a real workbench: a suite in
// two runs of the extension host. The first opens two terminals (a shell in
// fresh namespaces, and one it closes), sets the first printing while no
// window is there, writes down its shell's pid and reloads the page, as F5
// or a closed and reopened tab does. The next run (the workbench starts the
// suite again) finds the terminal given back under its name, attached to the
// same shell, with what it printed meanwhile; typing reaches that shell, and
// the closed terminal's session stayed closed. A terminal on another host of
// nsx.hosts does the same (reloadFar.ts). Ends with `N passed, N failed`.
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as vscode from 'vscode';
import type { Api } from '../../extension/extension';
import type { NsTerminal } from '../../extension/terminal';
import { waitFor } from '../support';
import { farAfterReload, farBeforeReload, FarBefore } from './reloadFar';
import { ui, uiAvailable } from './ui';

interface Before {
  shell: number;
  session: number;
  closed: number;
  /** The far terminal's, or why it could not be made. */
  far: FarBefore | { error: string };
}

async function typed(t: NsTerminal, line: string, marker: string): Promise<string> {
  const from = t.output.length;
  t.terminal!.sendText(`${line}; echo ${marker.slice(0, 1)}''${marker.slice(1)}`);
  return waitFor(
    () => (t.output.slice(from).includes(marker) ? t.output.slice(from) : undefined),
    30_000,
    `"${marker}" in the terminal`,
  );
}

async function beforeReload(api: Api, state: string): Promise<never> {
  await waitFor(() => api.connection.connected, 30_000, 'connected to nsxd');
  // First: the line below must be printed while no window is there, not while the far host is made.
  const far = await farBeforeReload(api).catch((err: Error) => ({ error: err.stack ?? err.message }));
  const t = (await vscode.commands.executeCommand('nsx.openIsolatedTerminal', {
    types: ['uts', 'pid', 'mnt'],
    hostname: 'reloaded',
  })) as NsTerminal;
  await waitFor(() => t.session, 30_000, 'the session');
  const shell = Number(/shell=(\d+)/.exec(await typed(t, 'echo shell=$$', 'UP'))![1]);
  const other = (await vscode.commands.executeCommand('nsx.openIsolatedTerminal', {
    types: ['uts'],
    hostname: 'closed',
  })) as NsTerminal;
  const closed = (await waitFor(() => other.session, 30_000, 'the other session')).session;
  other.terminal!.dispose();
  await waitFor(() => !api.terminals.all.has(other), 30_000, 'the closed terminal forgotten');
  // Printed while no window is there: the supervisor keeps it for the next.
  t.terminal!.sendText('sleep 3; echo WHILE""AWAY');
  await waitFor(() => t.output.includes('WHILE""AWAY'), 30_000, 'the line given to the shell');
  writeFileSync(state, JSON.stringify({ shell, session: t.session!.session, closed, far } satisfies Before));
  await ui({ action: 'reload', timeoutMs: 60_000 });
  // The page reloads, and this extension host goes with it.
  return new Promise<never>(() => undefined);
}

async function afterReload(api: Api, before: Before): Promise<void> {
  const t = await waitFor(
    () => [...api.terminals.all].find((x) => x.session?.session === before.session),
    30_000,
    'the terminal given back',
  );
  assert.equal(t.terminal!.name, 'nsx: isolated reloaded', 'the same name');
  await waitFor(() => !t.detached && t.output.includes('[attached again]'), 30_000, 'attached again');
  await waitFor(() => t.output.includes('WHILEAWAY'), 30_000, 'what it printed while no window was there');
  assert.match(
    await typed(t, 'echo shell=$$; hostname', 'BACK'),
    new RegExp(`shell=${before.shell}\\b[\\s\\S]*reloaded`),
    'the same shell, in its namespaces',
  );
  assert.ok(
    ![...api.terminals.all].some((x) => x.session?.session === before.closed),
    'a terminal the user closed is not given back',
  );
  t.terminal!.dispose();
  await waitFor(() => !api.terminals.all.has(t), 30_000, 'its session closed with it');
}

export async function run(): Promise<void> {
  const state = process.env.NSX_RELOAD_STATE;
  if (!state || !uiAvailable()) {
    console.log('0 passed, 0 failed (the reload suite needs the code-server harness and NSX_RELOAD_STATE)');
    return;
  }
  const api = (await vscode.extensions.all.find((e) => e.packageJSON.name === 'namespace-explorer')!.activate()) as Api;
  if (!existsSync(state)) return beforeReload(api, state);
  const before = JSON.parse(readFileSync(state, 'utf8')) as Before;
  const tests: [string, () => Promise<void>][] = [
    [
      'terminals survive a window reload: the same name, the same shell, what it printed meanwhile; a closed one stays closed',
      () => afterReload(api, before),
    ],
    [
      "another host's terminal survives a window reload: given back, attached to the same shell there",
      () => ('error' in before.far ? Promise.reject(new Error(before.far.error)) : farAfterReload(api, before.far)),
    ],
  ];
  let failed = 0;
  for (const [i, [title, test]] of tests.entries()) {
    try {
      await test();
      console.log(`  ✔ ${title}`);
    } catch (err) {
      failed++;
      console.log(`  ${i + 1}) ${title}: ${(err as Error).stack}`);
    }
  }
  console.log(`${tests.length - failed} passed, ${failed} failed`);
  if (failed) throw new Error(`${failed} test(s) failed`);
}
