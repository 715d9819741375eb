// Hosts as roots of the Namespaces view: two "hosts" on this machine
// (test/hosts.ts: each its own namespaces, sshd and nsxd), reached over ssh
// with a test user's key; a third entry for the first host again (its inode
// numbers are the same: the rows must not clash), and one whose known key is
// wrong (ssh's sentence on its row, the others working). A terminal on the
// second host answers with its hostname, and the same shell answers again
// after that host's link went down and came back. Every other command on the
// second host's rows: hostsActs.ts.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { Api } from '../../extension/extension';
import type { Host } from '../../extension/hosts';
import type { HostNode } from '../../extension/tree/hostNodes';
import type { Node } from '../../extension/tree/nodes';
import type { NsTerminal } from '../../extension/terminal';
import { FakeHost, makeHost, sshUser } from '../hosts';
import { defineHostActs } from './hostsActs';
import { createUser, rootDir } from '../support';
import { ui, uiAvailable } from './ui';
import { until } from './until';

function rows(api: Api): { node: HostNode; item: vscode.TreeItem }[] {
  return api.namespaces.getChildren().map((node) => ({
    node: node as HostNode,
    item: api.namespaces.getTreeItem(node),
  }));
}

/** Every row down to DEPTH levels under NODE (the view's top when undefined). */
function tree(api: Api, node: Node | undefined, depth: number): Node[] {
  if (depth === 0) return [];
  return api.namespaces.getChildren(node).flatMap((n) => [n, ...tree(api, n, depth - 1)]);
}

async function typed(t: NsTerminal, line: string, marker: string, ms = 30_000): Promise<string> {
  const from = t.output.length;
  t.terminal!.sendText(`${line}; echo ${marker.slice(0, 1)}''${marker.slice(1)}`);
  return until(
    `"${marker}" in the terminal (it shows ${JSON.stringify(t.output.slice(-400))})`,
    () => (t.output.slice(from).includes(marker) ? t.output.slice(from) : undefined),
    ms,
  );
}

function removeUser(user: { name: string; remove(): void }): void {
  for (let i = 0; i < 20 && spawnSync('id', [user.name]).status === 0; i++) {
    user.remove();
    spawnSync('sleep', ['0.2']);
  }
}

export function defineHostsSuite(): void {
  describe('Hosts in the Namespaces view', function () {
    this.timeout(240_000);
    let api: Api;
    let a: FakeHost, b: FakeHost;
    const made: (() => void)[] = [];
    const byName = (name: string) => api.hosts.byName(name) as Host;
    let entries: object[] = [];
    let login = '';

    before(async () => {
      a = await makeHost('h24va', 231, 'sleep 7001');
      made.push(a.destroy);
      b = await makeHost('h24vb', 232, 'sleep 7002');
      made.push(b.destroy);
      const user = createUser({ inGroup: true });
      login = user.name;
      // Removed once the hosts are gone: userdel refuses while its sessions there are still dying.
      made.unshift(() => removeUser(user));
      const { home } = sshUser(user.name);
      const dir = rootDir('h24v-');
      made.push(() => spawnSync('rm', ['-rf', dir]));
      writeFileSync(join(dir, 'known'), `${a.ip} ${a.hostKey}\n${b.ip} ${b.hostKey}\n`);
      // b's address with a's key: not the one b shows.
      writeFileSync(join(dir, 'wrong'), `${b.ip} ${a.hostKey}\n`);
      const options = (known: string) => ({
        IdentityFile: join(home, '.ssh/id_ed25519'),
        UserKnownHostsFile: join(dir, known),
        StrictHostKeyChecking: 'yes',
        ServerAliveInterval: '1',
        ServerAliveCountMax: '3',
        ConnectTimeout: '3',
      });
      const at = (h: FakeHost) => `${user.name}@${h.ip}`;
      api = (await vscode.extensions.all.find((e) => e.packageJSON.name === 'namespace-explorer')!.activate()) as Api;
      await vscode.commands.executeCommand('nsx.showByType');
      entries = [
        { name: 'h24va', ssh: at(a), sshOptions: options('known') },
        { name: 'h24vb', ssh: at(b), sshOptions: options('known') },
        // The first host again: the same kernel, so the same inode numbers under another root.
        { name: 'twin', ssh: at(a), sshOptions: options('known') },
        // Its own connection, not b's shared master (which would skip the host key check).
        { name: 'badkey', ssh: at(b), sshOptions: { ...options('wrong'), ControlPath: 'none' } },
      ];
      await vscode.workspace.getConfiguration('nsx').update('hosts', entries, vscode.ConfigurationTarget.Global);
    });

    after(async () => {
      await vscode.workspace.getConfiguration('nsx').update('hosts', undefined, vscode.ConfigurationTarget.Global);
      for (const undo of made.reverse()) undo();
    });

    it('shows one root per host by its hostname; a host whose key is wrong says so, the others work', async () => {
      const states = () =>
        api.hosts.list.map((h) => `${h.name}: ${h.connection.currentState} ${h.connection.lastFailure}`).join('; ');
      await until('every host answering but badkey', () =>
        ['h24va', 'h24vb', 'twin'].every((n) => {
          const h = byName(n);
          // The view may not be on screen here: ask for the model then.
          if (h?.connection.connected && !h.model.loaded) void h.model.rescan().catch(() => undefined);
          return h?.connection.connected && h.model.loaded;
        }),
      ).catch((err: Error) => {
        throw new Error(`${err.message}: ${states()}`);
      });
      await until('badkey saying why', () => /Host key verification failed/.test(byName('badkey').connection.reason));
      const top = rows(api);
      assert.deepEqual(
        top.map((r) => r.node.host.name),
        ['local', 'h24va', 'h24vb', 'twin', 'badkey'],
      );
      assert.deepEqual(
        top.map((r) => r.item.label),
        [hostname(), 'h24va', 'h24vb', 'h24va', 'badkey'],
      );
      assert.match(String(top[1].item.description), /^Linux \S+ · connected$/);
      assert.match(String(top[3].item.description), /^twin · Linux \S+ · connected$/);
      assert.match(
        String(top[4].item.description),
        /^(not connected|trying again): badkey \(ssh \S+\) did not answer: .*Host key verification failed/,
      );
      assert.equal(typeof top[4].item.tooltip, 'string'); // text, never markdown
    });

    it('keys every row by its host: the same inode under two roots, no id twice', () => {
      const all = tree(api, undefined, 4);
      const ids = all.map((n) => n.id);
      assert.equal(new Set(ids).size, ids.length, 'an id appears twice');
      const mine = byName('h24va')
        .model.allProcesses()
        .find((p) => p.cmdline.join(' ') === 'sleep 7001')!;
      assert.ok(mine, "h24va's own process in its model");
      const uts = all.filter((n) => n instanceof api.nodes.NamespaceNode && n.key.inode === mine.ns.uts);
      // Under h24va and under twin (the same host by another name), each its own row. The lab's hosts share
      // this machine's kernel, so this host's own nsxd may list that namespace too, under its own root.
      const under = uts.map((n) => api.hosts.of(n)?.name).filter((name) => name !== 'local');
      assert.deepEqual(under.sort(), ['h24va', 'twin']);
      // Each host lists its own processes only.
      assert.equal(
        byName('h24vb')
          .model.allProcesses()
          .some((p) => p.cmdline.join(' ') === 'sleep 7001'),
        false,
      );
    });

    it('opens a terminal on the second host from its row, and the same shell answers after the link dropped and came back', async () => {
      const host = byName('h24vb');
      const p = host.model.allProcesses().find((x) => x.cmdline.join(' ') === 'sleep 7002')!;
      const root = host.node;
      const type = api.namespaces.getChildren(root).find((n) => n instanceof api.nodes.TypeNode && n.type === 'uts')!;
      const ns = api.namespaces
        .getChildren(type)
        .find((n) => n instanceof api.nodes.NamespaceNode && n.key.inode === p.ns.uts)!;
      const row = api.namespaces.getChildren(ns).find((n) => n instanceof api.nodes.ProcessNode && n.pid === p.pid)!;
      assert.ok(row, 'the process row under its host');
      const t = (await vscode.commands.executeCommand('nsx.openTerminalInNamespaces', row, {
        types: ['uts'],
      })) as NsTerminal;
      try {
        await until('the session to start', () => t.session);
        assert.ok(host.terminals.all.has(t), "the terminal is the host's");
        const first = await typed(t, 'echo "pid=$$"; hostname', 'HOSTDONE1');
        assert.match(first, /^h24vb\r?$/m);
        const shell = /pid=(\d+)/.exec(first)![1];
        execFileSync('ip', ['link', 'set', b.link, 'down']);
        await until('the link seen lost', () => t.detached, 60_000);
        execFileSync('ip', ['link', 'set', b.link, 'up']);
        await until('attached again', () => !t.detached && host.connection.connected, 120_000);
        const again = await typed(t, 'echo "pid=$$"; hostname', 'HOSTDONE2');
        assert.match(again, new RegExp(`pid=${shell}\\b`));
        assert.match(again, /^h24vb\r?$/m);
        // The other hosts never waited for it.
        assert.ok(byName('h24va').connection.connected);
      } finally {
        spawnSync('ip', ['link', 'set', b.link, 'up']);
        t.terminal?.dispose();
      }
    });

    describe("on another host's rows", () => defineHostActs(() => ({ api, b, user: login })));

    it('renders three hosts in the workbench (screenshot)', async function () {
      if (!uiAvailable() || !process.env.NSX_SCREENSHOT) this.skip();
      // This host and the two others: the hosts kept connect no more.
      const config = vscode.workspace.getConfiguration('nsx');
      await config.update('hosts', entries.slice(0, 2), vscode.ConfigurationTarget.Global);
      await until('three roots', () => rows(api).length === 3 && byName('h24vb')?.connection.connected);
      await vscode.commands.executeCommand('workbench.action.closeSidebar');
      await vscode.commands.executeCommand('workbench.action.closePanel');
      await vscode.commands.executeCommand('notifications.clearAll');
      const click = await ui({ action: 'click', selector: '.activitybar a[aria-label^="Namespaces"]' });
      assert.ok(click.ok, click.error);
      // Every host's row in sight (they start collapsed), the second opened.
      const row = await ui({ action: 'waitFor', selector: '.monaco-list-row[aria-label*="h24vb"]', timeoutMs: 20_000 });
      await ui({ action: 'click', selector: '.monaco-list-row[aria-label*="h24vb"]' });
      await ui({
        action: 'waitFor',
        selector: '.monaco-list-row[aria-label^="uts"][aria-level="2"]',
        timeoutMs: 10_000,
      });
      const path = `${process.env.NSX_SCREENSHOT!.replace(/\.png$/, '')}-hosts.png`;
      const shot = await ui({ action: 'screenshot', path });
      assert.ok(row.ok, row.error);
      assert.ok(shot.ok, shot.error);
    });
  });
}
