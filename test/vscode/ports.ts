// Ports in the real workbench (issue 23): a server that listens only on the
// loopback of a namespace with no other network shows under its net
// namespace's Ports group; Forward Port… on its row makes it reachable on
// the host's 127.0.0.1, a fetch through the forward gets its page, the
// forward shows in the tree, and Stop closes its port.
import * as assert from 'node:assert/strict';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { get } from 'node:http';
import { readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { Api } from '../../extension/extension';
import type { Node } from '../../extension/tree/nodes';
// Types only: this suite is bundled apart from the extension, so its classes are not the extension's.
import type { ForwardNode, PortNode, PortsGroupNode } from '../../extension/tree/portsNodes';
import type { Forward } from '../../helper/common/ports';
import { ui, uiAvailable } from './ui';
import { until } from './until';

const PAGE = 'p23-vscode-ok';

function fetchPage(port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/', timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code}`));
  });
}

function listens(port: number): boolean {
  const hex = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .some((l) => l.includes(` ${hex} `) && l.trim().split(/\s+/)[3] === '0A');
}

export function definePortsSuite(): void {
  describe('ports (p23)', () => {
    let api: Api;
    let server: ChildProcess;
    let dir: string;
    let netns: number;

    before(async () => {
      const ext = vscode.extensions.all.find((e) => e.packageJSON.name === 'namespace-explorer');
      assert.ok(ext, 'the extension under test is installed');
      api = (await ext.activate()) as Api;
      await until('the connection to nsxd', () => api.connection.connected);
      dir = execFileSync('mktemp', ['-d', '/tmp/p23-www-XXXXXX'], { encoding: 'utf8' }).trim();
      writeFileSync(join(dir, 'index.html'), `${PAGE}\n`);
      const serve = `ip link set lo up; exec busybox httpd -f -p 127.0.0.1:8080 -h ${dir}`;
      server = spawn('unshare', ['--net', 'sh', '-c', serve], { stdio: 'ignore' });
      netns = await until('the server in its namespace', () => {
        try {
          const ino = Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${server.pid}/ns/net`))![1]);
          return readFileSync(`/proc/${server.pid}/comm`, 'utf8').trim() === 'busybox' && ino;
        } catch {
          return undefined;
        }
      });
    });

    after(() => {
      server?.kill('SIGKILL');
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    async function portsGroup(): Promise<PortsGroupNode> {
      await vscode.commands.executeCommand('nsx.showByType');
      return until('the net namespace with its Ports group', async () => {
        await api.model.rescan();
        // nodeFor shows the page the namespace is on: the newest net namespace may be past the first.
        const ns = api.namespaces.nodeFor({ type: 'net', inode: netns });
        return ns && (api.namespaces.getChildren(ns).find((n) => kind(n) === 'ports') as PortsGroupNode | undefined);
      });
    }

    const children = (group: PortsGroupNode): Node[] => api.namespaces.getChildren(group);
    const kind = (n: Node) => api.namespaces.getTreeItem(n).contextValue;

    it('forwards a port from its row in the tree, fetches through it, and stops it', async () => {
      const group = await portsGroup();
      const port = await until('port 8080 under Ports', () =>
        children(group).find((n): n is PortNode => kind(n) === 'port tcp' && (n as PortNode).socket.port === 8080),
      );
      const row = port.toTreeItem();
      assert.equal(row.label, '127.0.0.1:8080');
      assert.match(String(row.description), /^busybox \(\d+\)$/);
      assert.equal(row.contextValue, 'port tcp');

      const f = (await vscode.commands.executeCommand('nsx.forwardPort', port)) as Forward;
      assert.ok(f && f.hostPort > 0, 'a forward');
      assert.equal(f.port, 8080);
      assert.equal(await fetchPage(f.hostPort), `${PAGE}\n`);
      if (process.env.NSX_SCREENSHOT && uiAvailable()) {
        // The page a service serves only on the container's own loopback, in VS Code's Simple Browser.
        await vscode.commands.executeCommand('simpleBrowser.show', `http://127.0.0.1:${f.hostPort}/`);
        await new Promise((r) => setTimeout(r, 1500));
        const shot = await ui({
          action: 'screenshot',
          path: process.env.NSX_SCREENSHOT.replace(/\.png$/, '-ports.png'),
        });
        assert.ok(shot.ok, shot.error);
        await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
      }

      const fwd = await until('the forward in the tree', () =>
        children(group).find((n): n is ForwardNode => kind(n) === 'forward' && (n as ForwardNode).forward.id === f.id),
      );
      assert.equal(fwd.toTreeItem().contextValue, 'forward');
      // What Open in Browser opens: the forward itself in a local window; in a remote one (code-server here),
      // the address where VS Code's own port forwarding or proxy reaches it.
      const external = (await vscode.env.asExternalUri(vscode.Uri.parse(`http://127.0.0.1:${f.hostPort}/`))).toString();
      assert.ok(
        external.includes(`127.0.0.1:${f.hostPort}`) ||
          external.includes(`/proxy/${f.hostPort}`) ||
          external.includes(String(f.hostPort)),
        external,
      );

      await vscode.commands.executeCommand('nsx.stopForward', fwd);
      await until('the forward port to close', () => !listens(f.hostPort), 5000);
      assert.ok(!children(group).some((n) => kind(n) === 'forward' && (n as ForwardNode).forward.id === f.id));
    });

    it("forwards a namespace's port given as the pick gives it, and lists it among the window's forwards", async () => {
      const f = (await vscode.commands.executeCommand('nsx.forwardPort', undefined, {
        target: { namespace: { type: 'net', inode: netns } },
        port: 8080,
      })) as Forward;
      assert.equal(await fetchPage(f.hostPort), `${PAGE}\n`);
      assert.ok(api.ports.forwards.some((x) => x.id === f.id));
      await vscode.commands.executeCommand('nsx.stopForward', undefined, f.id);
      assert.ok(!listens(f.hostPort) || (await until('closed', () => !listens(f.hostPort), 5000)));
    });
  });
}
