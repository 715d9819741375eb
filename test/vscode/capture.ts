// Capture Packets… and Capture Packets (Live Text) in a real VS Code, on a
// net namespace row of the tree: two namespaces joined by a veth, a ping
// across, the file read back by tshark, the live text from tcpdump.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { Api } from '../../extension/extension';
import type { NamespaceNode } from '../../extension/tree/nodes';
import type { CaptureEndParams } from '../../helper/common/capture';
import { ui, uiAvailable } from './ui';

const A = `c22va${process.pid}`;
const B = `c22vb${process.pid}`;

/** Pings across the veth until the command (a capture) is done. */
async function pingUntil<T>(done: Thenable<T>): Promise<T> {
  let over = false;
  const result = Promise.resolve(done).finally(() => (over = true));
  const end = Date.now() + 20_000;
  while (!over && Date.now() < end) {
    spawnSync('ip', ['netns', 'exec', A, 'ping', '-c', '1', '-W', '1', '10.222.23.2'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300));
  }
  return result;
}

export function defineCaptureSuite(): void {
  describe('Capture', () => {
    let api: Api;
    let node: NamespaceNode;
    let dir: string;

    before(async () => {
      const ext = vscode.extensions.all.find((e) => e.packageJSON.name === 'namespace-explorer');
      api = (await ext!.activate()) as Api;
      for (const end = Date.now() + 20_000; !api.connection.connected;) {
        if (Date.now() > end) throw new Error('not connected to nsxd');
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const ns of [A, B]) execFileSync('ip', ['netns', 'add', ns]);
      execFileSync('ip', ['link', 'add', 'veth0', 'netns', A, 'type', 'veth', 'peer', 'name', 'veth0', 'netns', B]);
      execFileSync('ip', ['-n', A, 'addr', 'add', '10.222.23.1/24', 'dev', 'veth0']);
      execFileSync('ip', ['-n', B, 'addr', 'add', '10.222.23.2/24', 'dev', 'veth0']);
      for (const ns of [A, B]) execFileSync('ip', ['-n', ns, 'link', 'set', 'veth0', 'up']);
      // An ip netns name is a bind mount of the namespace: its inode is the namespace's.
      const key = { type: 'net' as const, inode: statSync(`/run/netns/${A}`).ino };
      await vscode.commands.executeCommand('nsx.showByType');
      const end = Date.now() + 20_000;
      for (;;) {
        await api.model.rescan();
        const type = api.namespaces.getChildren().find((n) => n instanceof api.nodes.TypeNode && n.type === 'net');
        const found =
          type &&
          api.namespaces
            .getChildren(type)
            .find((n) => n instanceof api.nodes.NamespaceNode && n.key.inode === key.inode);
        if (found) {
          node = found as NamespaceNode;
          break;
        }
        if (Date.now() > end) throw new Error(`no row for ${A}'s net namespace`);
        await new Promise((r) => setTimeout(r, 200));
      }
      dir = mkdtempSync(join(tmpdir(), 'c22-vscode-'));
    });
    after(() => {
      for (const ns of [A, B]) spawnSync('ip', ['netns', 'del', ns]);
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('Capture Packets… on a net namespace row writes a pcapng with its interface named', async () => {
      const file = join(dir, 'tree.pcapng');
      const end = await pingUntil(
        vscode.commands.executeCommand<CaptureEndParams>('nsx.capturePackets', node, {
          interfaces: ['veth0'],
          filter: 'icmp',
          count: 2,
          file,
        }),
      );
      assert.equal(end?.reason, 'count', JSON.stringify(end));
      const rows = execFileSync(
        'tshark',
        ['-r', file, '-T', 'fields', '-e', 'frame.interface_name', '-e', 'icmp.type'],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        },
      );
      // Named by its ip netns name, as the tree names it.
      assert.match(rows, new RegExp(`veth0@${A}\\t8\\nveth0@${A}\\t0`));
    });

    it('Capture Packets… on a wire in the Network view takes both its ends, one file', async () => {
      const file = join(dir, 'wire.pcapng');
      const ends = [A, B].map((ns) => ({ inode: statSync(`/run/netns/${ns}`).ino, link: 'veth0' }));
      // The view's right-click hands its command the wire's ends; with a file and a count, no question is asked.
      const targets = ends.map((e) => ({
        target: { namespace: { type: 'net', inode: e.inode } },
        interfaces: [e.link],
      }));
      const end = await pingUntil(
        vscode.commands.executeCommand<CaptureEndParams>('nsx.capturePackets', undefined, {
          targets,
          filter: 'icmp',
          count: 4,
          file,
        }),
      );
      assert.equal(end?.reason, 'count', JSON.stringify(end));
      const names = execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.interface_name'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      for (const ns of [A, B]) assert.match(names, new RegExp(`veth0@${ns}`));
    });

    it('Capture Packets… picked by hand: a second namespace, the interfaces, a filter, the file; stopped', async function () {
      if (!uiAvailable()) return this.skip();
      const file = join(dir, 'picked.pcapng');
      const step = async (title: string) =>
        assert.ok((await ui({ action: 'waitFor', selector: `.quick-input-title:has-text("${title}")` })).ok, title);
      const running = vscode.commands.executeCommand('nsx.capturePackets', node);
      await step('and in');
      await ui({ action: 'type', text: B });
      await ui({ action: 'waitFor', selector: `.quick-input-list .monaco-list-row[aria-label*="${B}"]` });
      // In a pick of many, a click on a row checks it.
      await ui({ action: 'click', selector: `.quick-input-list .monaco-list-row[aria-label*="${B}"]` });
      await ui({ action: 'press', key: 'Enter' });
      await step(': interfaces');
      await ui({ action: 'press', key: 'Enter' });
      await step(': filter');
      await ui({ action: 'type', text: 'icmp' });
      await ui({ action: 'press', key: 'Enter' });
      await step(': until');
      await ui({ action: 'type', text: 'Until stopped' });
      await ui({ action: 'press', key: 'Enter' });
      // The save dialog: a path to type, in the web workbench.
      assert.ok((await ui({ action: 'waitFor', selector: '.quick-input-widget .quick-input-box input' })).ok);
      await ui({ action: 'press', key: 'Control+a' });
      await ui({ action: 'type', text: file });
      await ui({ action: 'press', key: 'Enter' });
      await running;
      for (let i = 0; i < 3; i++)
        spawnSync('ip', ['netns', 'exec', A, 'ping', '-c', '1', '-W', '1', '10.222.23.2'], { stdio: 'ignore' });
      await vscode.commands.executeCommand('nsx.stopCaptures');
      const end = Date.now() + 10_000;
      let rows = '';
      while (Date.now() < end && !/veth0@\S+\t0\n.*veth0@\S+\t0/s.test(rows)) {
        await new Promise((r) => setTimeout(r, 300));
        rows = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.interface_name', '-e', 'icmp.type'], {
          encoding: 'utf8',
        }).stdout;
      }
      assert.match(rows, new RegExp(`veth0@${A}\\t8`));
      assert.match(rows, new RegExp(`veth0@${B}\\t0`));
    });

    it('Capture Packets (Live Text) shows the packets as tcpdump prints them', async function () {
      if (spawnSync('tcpdump', ['--version']).status !== 0) return this.skip();
      const live = await pingUntil(
        vscode.commands.executeCommand<{ end: CaptureEndParams; text: string }>('nsx.capturePacketsLive', node, {
          filter: 'icmp',
          count: 2,
        }),
      );
      assert.equal(live?.end.reason, 'count');
      assert.match(live!.text, /10\.222\.23\.1 > 10\.222\.23\.2: ICMP echo request/);
      assert.match(live!.text, /10\.222\.23\.2 > 10\.222\.23\.1: ICMP echo reply/);
    });
  });
}
