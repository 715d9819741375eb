// The Network view in the real workbench: a topology made with ip, drawn in
// the webview, read back from the page's own text outline, and a click there
// selecting the namespace in the tree.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { Api } from '../../extension/extension';
import { Engine, podman } from '../engines';
import { ui, uiAvailable } from './ui';
import { until } from './until';

const WEBVIEW = ['iframe.webview.ready', '#active-frame'];
const NETNS = 'nsxv-net';
const WEB = 'nsxv-netweb';
const BRIDGE = 'nsxv-br';

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });

function removeTopology(): void {
  spawnSync('ip', ['netns', 'del', NETNS], { stdio: 'ignore' });
  spawnSync('ip', ['link', 'del', BRIDGE], { stdio: 'ignore' });
  spawnSync('ip', ['link', 'del', 'nsxv-h'], { stdio: 'ignore' });
}

export function defineNetworkSuite(): void {
  describe('network view', () => {
    let api: Api;
    let inode: number;
    let engine: Engine | string;

    before(async function () {
      this.timeout(120_000);
      api = (await vscode.extensions.all.find((e) => e.packageJSON.name === 'namespace-explorer')!.activate()) as Api;
      removeTopology();
      // An ip netns joined to a bridge on the host by a veth: nsxv-e inside, nsxv-h a port of nsxv-br.
      ip('netns', 'add', NETNS);
      ip('link', 'add', 'nsxv-h', 'type', 'veth', 'peer', 'name', 'nsxv-e', 'netns', NETNS);
      ip('link', 'add', BRIDGE, 'type', 'bridge');
      ip('link', 'set', 'nsxv-h', 'master', BRIDGE, 'up');
      ip('link', 'set', BRIDGE, 'up');
      ip('-n', NETNS, 'address', 'add', '10.211.0.2/24', 'dev', 'nsxv-e');
      ip('-n', NETNS, 'link', 'set', 'nsxv-e', 'up');
      inode = statSync(`/run/netns/${NETNS}`).ino;
      // A podman container on podman's bridge: its eth0 and its host veth, as a user's container is wired.
      engine = await podman();
      if (typeof engine !== 'string') engine.run(WEB, ['--hostname', WEB]);
    });

    after(() => {
      if (typeof engine !== 'string') {
        engine.remove(WEB);
        engine.stop();
      }
      removeTopology();
      void vscode.commands.executeCommand('workbench.action.closeAllEditors');
    });

    it('draws an ip netns wired to its veth on a host bridge, and says so in the page', async function () {
      await vscode.commands.executeCommand('nsx.showNetwork');
      await until('the wiring with the new namespace', () =>
        api.net.current()?.namespaces.some((ns) => ns.links.some((l) => l.name === 'nsxv-e')),
      );
      if (!uiAvailable()) return;
      await api.model.rescan();
      // The picture as a user first sees it, once it is laid out.
      const drawn = await ui({ action: 'waitFor', frames: WEBVIEW, selector: 'body[data-drawn]', timeoutMs: 30_000 });
      assert.ok(drawn.ok, drawn.error);
      if (process.env.NSX_SCREENSHOT) {
        const shot = await ui({
          action: 'screenshot',
          path: process.env.NSX_SCREENSHOT.replace(/\.png$/, '-network.png'),
        });
        assert.ok(shot.ok, shot.error);
      } else {
        await ui({ action: 'screenshot', path: join(tmpdir(), 'nsx-network.png') });
      }
      const open = await ui({ action: 'click', frames: WEBVIEW, selector: '#outline summary' });
      assert.ok(open.ok, open.error);
      const row = await ui({ action: 'waitFor', frames: WEBVIEW, selector: '#outline-list li', timeoutMs: 20_000 });
      assert.ok(row.ok, row.error);
      const outline = await ui({ action: 'text', frames: WEBVIEW, selector: '#outline-list' });
      assert.ok(outline.ok, outline.error);
      assert.match(outline.text!, new RegExp(`${NETNS}[^]*nsxv-e[^]*10\\.211\\.0\\.2/24[^]*↔ nsxv-h in host`));
      assert.match(outline.text!, new RegExp(`nsxv-h[^]*port of ${BRIDGE}`));
    });

    it("shows a podman container's eth0 wired to its host veth on podman's bridge", async function () {
      if (typeof engine === 'string' || !uiAvailable()) this.skip();
      await vscode.commands.executeCommand('nsx.showNetwork');
      await api.model.rescan();
      // Its name comes from the engine: the box is the container's, in the user's words.
      const lines = await until('the container in the outline', async () => {
        const text = (await ui({ action: 'text', frames: WEBVIEW, selector: '#outline-list' })).text ?? '';
        return text.includes(WEB) ? text : undefined;
      });
      assert.match(lines, /eth0 10\.88\.[\d.]+\/16 · veth · up[^\n]*↔ veth\w+ in host/);
      assert.match(lines, /veth\w+[^\n]*port of (cni-)?podman0[^\n]*↔ eth0 in nsxv-netweb/);
    });

    it('shows a namespace chosen in the page in the tree and its details', async function () {
      if (!uiAvailable()) this.skip();
      const click = await ui({
        action: 'click',
        frames: WEBVIEW,
        selector: `#outline-list button[data-inode="${inode}"]`,
      });
      assert.ok(click.ok, click.error);
      await until('the details of the namespace', () =>
        vscode.window.visibleTextEditors.some((e) => e.document.uri.toString().includes(String(inode))),
      );
    });
  });
}
