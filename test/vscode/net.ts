// The network picture in the Namespaces view: a net namespace expands to its
// interfaces, each saying where its other end is, and follows a change.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as vscode from 'vscode';
import type { Api } from '../../extension/extension';
import type { Node } from '../../extension/tree/nodes';
import { until } from './until';

const A = 'n22vsa';
const B = 'n22vsb';

const inodeOf = (name: string) =>
  Number(execFileSync('stat', ['-L', '-c', '%i', `/run/netns/${name}`], { encoding: 'utf8' }).trim());

/** The interface rows under the net namespace INODE, as tree items. */
function interfaces(api: Api, inode: number): vscode.TreeItem[] {
  const type = api.namespaces.getChildren().find((n) => n instanceof api.nodes.TypeNode && n.type === 'net');
  if (!type) return [];
  const ns = api.namespaces
    .getChildren(type)
    .find((n) => n instanceof api.nodes.NamespaceNode && n.key.inode === inode) as Node | undefined;
  if (!ns) return [];
  return api.namespaces
    .getChildren(ns)
    .map((n) => n.toTreeItem(api.model))
    .filter((i) => i.contextValue === 'nsxInterface');
}

export function defineNetSuite(): void {
  describe('Network wiring in the Namespaces view', () => {
    let api: Api;
    before(async () => {
      for (const n of [A, B]) spawnSync('ip', ['netns', 'del', n]);
      execFileSync('ip', ['netns', 'add', A]);
      execFileSync('ip', ['netns', 'add', B]);
      execFileSync('ip', ['-n', A, 'link', 'add', 'name', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', B]);
      execFileSync('ip', ['-n', A, 'addr', 'add', '10.223.0.1/24', 'dev', 'eth0']);
      execFileSync('ip', ['-n', A, 'link', 'set', 'dev', 'eth0', 'up']);
      api = (await vscode.extensions.all.find((e) => e.packageJSON.name === 'namespace-explorer')!.activate()) as Api;
      await until('the connection to nsxd', () => api.connection.connected);
      await vscode.commands.executeCommand('nsx.showByType');
    });
    after(() => {
      for (const n of [A, B]) spawnSync('ip', ['netns', 'del', n]);
    });

    it('expands a net namespace to its interfaces, each with its other end', async () => {
      // The wiring comes a namespace at a time: until nsxd has B's, A's eth0 says its other end is in one it does not see.
      const wired = /^veth {2}no-carrier {2}10\.223\.0\.1\/24 {2}↔ eth0 \(n22vsb\)$/;
      const eth0 = await until('eth0 under its namespace, wired to its other end', async () => {
        await api.model.rescan();
        const found = interfaces(api, inodeOf(A)).find((i) => i.label === 'eth0');
        return found && wired.test(String(found.description)) ? found : undefined;
      }).catch((err: Error) => {
        const now = interfaces(api, inodeOf(A)).find((i) => i.label === 'eth0');
        throw new Error(`${err.message}; eth0 of n22vsa says: ${String(now?.description)}`);
      });
      assert.match(String(eth0.description), wired);
      const other = await until('eth0 of n22vsb wired back', () =>
        interfaces(api, inodeOf(B)).find((i) => i.label === 'eth0' && /↔ eth0 \(n22vsa\)/.test(String(i.description))),
      );
      assert.match(String(other.description), /↔ eth0 \(n22vsa\)/);
    });

    it('follows a change of a link', async () => {
      execFileSync('ip', ['-n', B, 'link', 'set', 'dev', 'eth0', 'up']);
      await until('eth0 of n22vsb up in the view, and its peer with a carrier', () => {
        const mine = interfaces(api, inodeOf(B)).find((i) => i.label === 'eth0');
        const peer = interfaces(api, inodeOf(A)).find((i) => i.label === 'eth0');
        return /^veth {2}up/.test(String(mine?.description)) && /^veth {2}up/.test(String(peer?.description));
      });
    });
  });
}
