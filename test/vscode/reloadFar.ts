// The far half of the reload suite (reload.ts): a lab host (test/hosts.ts,
// in a session of its own so that it outlives the extension host the reload
// ends) in nsx.hosts, a terminal on it in a fresh uts namespace. After the
// reload the extension reads nsx.hosts again, the host's terminal is given
// back under its name, attaches to the same shell there, and answers.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { Api } from '../../extension/extension';
import type { NsTerminal } from '../../extension/terminal';
import { destroySaved, makeHost, SavedHost, sshUser } from '../hosts';
import { createUser, rootDir, waitFor } from '../support';

export interface FarBefore {
  host: SavedHost;
  user: string;
  dir: string;
  session: number;
  shell: number;
}

const NAME = 'h24vr';

async function typed(t: NsTerminal, line: string, marker: string): Promise<string> {
  const from = t.output.length;
  t.terminal!.sendText(`${line}; echo ${marker.slice(0, 1)}''${marker.slice(1)}`);
  return waitFor(
    () => (t.output.slice(from).includes(marker) ? t.output.slice(from) : undefined),
    30_000,
    `"${marker}" in the far terminal`,
  );
}

/** Makes the host, names it in nsx.hosts, opens a terminal there: what the next run checks. */
export async function farBeforeReload(api: Api): Promise<FarBefore> {
  const h = await makeHost(NAME, 233, 'sleep 7003', true);
  const user = createUser({ inGroup: true });
  const { home } = sshUser(user.name);
  const dir = rootDir('h24vr-');
  writeFileSync(join(dir, 'known'), `${h.ip} ${h.hostKey}\n`);
  const entry = {
    name: NAME,
    ssh: `${user.name}@${h.ip}`,
    sshOptions: {
      IdentityFile: join(home, '.ssh/id_ed25519'),
      UserKnownHostsFile: join(dir, 'known'),
      StrictHostKeyChecking: 'yes',
      ConnectTimeout: '5',
    },
  };
  await vscode.workspace.getConfiguration('nsx').update('hosts', [entry], vscode.ConfigurationTarget.Global);
  const host = await waitFor(() => api.hosts.other(NAME)?.connection.connected && api.hosts.other(NAME), 60_000, NAME);
  const t = (await vscode.commands.executeCommand('nsx.openIsolatedTerminal', {
    nsxHost: NAME,
    types: ['uts'],
    hostname: 'far',
  })) as NsTerminal;
  await waitFor(() => t.session, 30_000, 'the far session');
  assert.ok(host.terminals.all.has(t), "the terminal is the host's");
  const shell = Number(/shell=(\d+)/.exec(await typed(t, 'echo shell=$$; hostname', 'FARUP'))![1]);
  return { host: h.saved, user: user.name, dir, session: t.session!.session, shell };
}

/** The same shell there, answering in its namespace; then everything of it goes. */
export async function farAfterReload(api: Api, before: FarBefore): Promise<void> {
  try {
    const host = await waitFor(() => api.hosts.other(NAME), 30_000, `${NAME} read from nsx.hosts again`);
    const t = await waitFor(
      () => [...host.terminals.all].find((x) => x.session?.session === before.session),
      60_000,
      'the far terminal given back',
    );
    await waitFor(() => !t.detached && t.output.includes('[attached again]'), 60_000, 'attached again there');
    assert.match(
      await typed(t, 'echo shell=$$; hostname', 'FARBACK'),
      new RegExp(`shell=${before.shell}\\b[\\s\\S]*far`),
      'the same shell, in its uts namespace',
    );
    t.terminal!.dispose();
    await waitFor(() => !host.terminals.all.has(t), 30_000, 'its session closed with it');
  } finally {
    await vscode.workspace.getConfiguration('nsx').update('hosts', undefined, vscode.ConfigurationTarget.Global);
    destroySaved(before.host);
    for (let i = 0; i < 20 && spawnSync('id', [before.user]).status === 0; i++) {
      spawnSync('userdel', ['-r', before.user], { stdio: 'ignore' });
      spawnSync('sleep', ['0.2']);
    }
    spawnSync('rm', ['-rf', before.dir]);
  }
}
