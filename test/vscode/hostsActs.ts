// What a command does on another host's row, tried on the second lab host
// (test/hosts.ts) from hosts.ts's suite, each checked to have happened there
// and not here: Details and a process's namespaces read from its nsxd (pids
// as its pid namespace numbers them), a pin made in its /run/nsx and gone
// again, a file read from its own tmpfs, a capture started by its nsxd with
// its address in the packets, its ports listed with its pids, the Network
// view showing its wiring under its name, and the Processes view's host roots.
import * as assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { CaptureEndParams } from '../../helper/common/capture';
import type { Forward } from '../../helper/common/ports';
import type { PinResult } from '../../helper/common/protocol';
import type { Api } from '../../extension/extension';
import type { Host } from '../../extension/hosts';
import type { NamespaceNode, Node, ProcessNode } from '../../extension/tree/nodes';
import type { ForwardNode, PortNode } from '../../extension/tree/portsNodes';
import type { FakeHost } from '../hosts';
import { createUser, rootDir } from '../support';
import { until } from './until';

export interface Lab {
  api: Api;
  b: FakeHost;
  user: string;
}

/**
 * Ping ADDRESS (without blocking the extension host: the bridges are read on
 * it) until DONE settles, once READY: nsxd counts packets from the start, and
 * a stream that comes over ssh after the count is reached finds no capture.
 */
async function pingUntil<T>(address: string, ready: () => boolean, done: Thenable<T>): Promise<T> {
  let over = false;
  const result = Promise.resolve(done).finally(() => (over = true));
  await until('the stream attached', () => over || ready());
  const end = Date.now() + 30_000;
  while (!over && Date.now() < end)
    await new Promise((r) => execFile('ping', ['-c', '1', '-W', '1', address], () => r(undefined)));
  return result;
}

/** The first line a server says on 127.0.0.1:PORT, or the error's code. */
function firstLine(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('\n')) {
        resolve(got.split(/\r?\n/)[0]);
        s.destroy();
      }
    });
    s.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code}`));
    s.on('close', () => resolve(got));
  });
}

/** How many bytes USER's own process gets from 127.0.0.1:PORT before it is closed (a few seconds at most). */
function bytesAs(user: string, port: number): number {
  const script = `const s = require('net').createConnection({ host: '127.0.0.1', port: +process.argv[1] }); let n = 0;
s.on('data', (d) => (n += d.length)); s.on('error', () => undefined); s.on('close', () => console.log(n));
setTimeout(() => s.destroy(), 5000);`;
  return Number(
    execFileSync('runuser', ['-u', user, '--', process.execPath, '-e', script, String(port)], {
      encoding: 'utf8',
    }).trim(),
  );
}

/** Runs a command in the host's mount namespace (test/hosts.ts: its own /run/nsx). */
function inside(b: FakeHost, ...argv: string[]): string {
  return execFileSync('nsenter', ['-t', String(b.init), '-m', '--', ...argv], { encoding: 'utf8' });
}

export function defineHostActs(lab: () => Lab): void {
  let api: Api;
  let b: FakeHost;
  let host: Host;
  /** The pid there of `sleep 7002` (the host's own). */
  let inner: number;

  const typeRow = (type: string) =>
    api.namespaces.getChildren(host.node).find((n) => n instanceof api.nodes.TypeNode && n.type === type)!;
  const nsRow = (type: string, inode: number) =>
    api.namespaces
      .getChildren(typeRow(type))
      .find((n) => n instanceof api.nodes.NamespaceNode && n.key.inode === inode) as NamespaceNode;
  const sleeper = () => host.model.process(inner)!;

  before(async () => {
    ({ api, b } = lab());
    host = api.hosts.byName('h24vb') as Host;
    inner = b.innerPid(b.find('sleep 7002')!);
    await until('h24vb answering with its model', () => {
      if (host.connection.connected && !host.model.loaded) void host.model.rescan().catch(() => undefined);
      return host.model.loaded && host.model.process(inner);
    });
  });

  it("shows Details of another host's namespace from its nsxd, in a document of its own", async () => {
    const mnt = sleeper().ns.mnt!;
    const row = nsRow('mnt', mnt);
    assert.ok(row, "the mnt namespace's row under h24vb");
    const editor = (await vscode.commands.executeCommand('nsx.showDetails', row)) as vscode.TextEditor;
    assert.equal(editor.document.uri.authority, 'h24vb');
    const text = editor.document.getText();
    assert.match(text, new RegExp(`^mnt:\\[${mnt}\\] on h24vb`));
    // Read by h24vb's nsxd: the member's pid as h24vb's pid namespace numbers it, not as this one does.
    const member = Number(/mount table \(of pid (\d+)\)/.exec(text)?.[1]);
    assert.ok(host.model.namespace({ type: 'mnt', inode: mnt })!.pids.includes(member), text.slice(0, 400));
    assert.notEqual(member, b.init);
    // This host's document of the same namespace is another one.
    const here = await vscode.workspace.openTextDocument(
      vscode.Uri.from({ scheme: 'nsx-details', path: `/mnt-${mnt}.txt` }),
    );
    assert.notEqual(here.uri.toString(), editor.document.uri.toString());
    assert.doesNotMatch(here.getText(), / on h24vb/);
  });

  it("compares two of another host's processes from its model", async () => {
    const row = api.namespaces
      .getChildren(nsRow('uts', sleeper().ns.uts!))
      .find((n) => n instanceof api.nodes.ProcessNode && n.pid === inner) as ProcessNode;
    await vscode.commands.executeCommand('nsx.compareProcesses', row, 1);
    const docs = await until('both documents', () => {
      const d = vscode.workspace.textDocuments.filter((x) => x.uri.scheme === 'nsx-process');
      return d.length >= 2 && d;
    });
    const mine = docs.find((d) => d.uri.query === String(inner))!;
    assert.equal(mine.uri.authority, 'h24vb');
    assert.match(mine.getText(), new RegExp(`^sleep \\(${inner}\\) on h24vb — sleep 7002`));
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it("pins and unpins a namespace on another host: the pin is in its /run/nsx, not here's", async () => {
    const key = { type: 'uts' as const, inode: sleeper().ns.uts! };
    const pinned = (await vscode.commands.executeCommand('nsx.pinNamespace', nsRow('uts', key.inode), 'far-pin')) as
      PinResult | undefined;
    assert.ok(pinned, 'pinned');
    const path = pinned.pin.paths[0];
    try {
      assert.equal(inside(b, 'stat', '-c', '%i', path).trim(), String(key.inode));
      assert.equal(existsSync(path), false, 'not pinned on this host');
      assert.ok(api.model.allNamespaces().every((ns) => ns.pins.every((p) => p.name !== 'far-pin')));
      await until("the pin on h24vb's row", () => host.model.namespace(key)?.pins.some((p) => p.name === 'far-pin'));
      await vscode.commands.executeCommand('nsx.unpinNamespace', nsRow('uts', key.inode), 'far-pin');
      assert.equal(spawnSync('nsenter', ['-t', String(b.init), '-m', '--', 'test', '-e', path]).status, 1);
    } finally {
      spawnSync('nsenter', ['-t', String(b.init), '-m', '--', 'umount', path]);
    }
  });

  it("opens another host's files: the authority names it, the bytes are its own", async () => {
    inside(b, 'sh', '-c', 'echo from-h24vb > /run/nsx/far-file && chmod 644 /run/nsx/far-file');
    const row = api.namespaces
      .getChildren(nsRow('uts', sleeper().ns.uts!))
      .find((n) => n instanceof api.nodes.ProcessNode && n.pid === inner)!;
    const uri = (await vscode.commands.executeCommand('nsx.openFiles', row, { noFolder: true })) as vscode.Uri;
    assert.equal(uri.authority, `pid.${inner}~h24vb`);
    const bytes = await vscode.workspace.fs.readFile(vscode.Uri.joinPath(uri, 'run/nsx/far-file'));
    assert.equal(Buffer.from(bytes).toString(), 'from-h24vb\n');
    assert.match(b.log(), new RegExp(`action=files/open .*user=${lab().user}\\b.*result=ok`));
  });

  it("captures on another host's interface: its nsxd starts it, its address is in the packets", async () => {
    const dir = rootDir('h24v-cap-');
    try {
      const file = join(dir, 'far.pcapng');
      const attached = () => /action=capture\/stream .*result=ok/.test(b.log());
      const end = await pingUntil(
        b.ip,
        attached,
        vscode.commands.executeCommand<CaptureEndParams>('nsx.capturePackets', nsRow('net', sleeper().ns.net!), {
          interfaces: ['eth0'],
          filter: 'icmp',
          count: 2,
          file,
        }),
      );
      assert.equal(end?.reason, 'count', JSON.stringify(end));
      const rows = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'ip.dst'], { encoding: 'utf8' });
      assert.match(
        rows.stdout,
        new RegExp(b.ip.replace(/\./g, '\\.')),
        `${rows.stderr} ${JSON.stringify(end)} ${statSync(file).size} bytes; ${b
          .log()
          .split('\n')
          .filter((l) => /capture/.test(l))
          .join('\n')}`,
      );
      assert.match(b.log(), new RegExp(`action=capture/start .*user=${lab().user}\\b.*result=ok`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("lists another host's ports under its net namespace, with its pids", async () => {
    const group = api.namespaces
      .getChildren(nsRow('net', sleeper().ns.net!))
      .find((n) => n instanceof api.nodes.NamespaceNode === false && n.id.endsWith('/ports'))!;
    assert.ok(group, 'a Ports group');
    const port = await until('sshd listening there', () =>
      api.namespaces.getChildren(group).find((n) => (n as PortNode).socket?.port === 22),
    );
    // Read by h24vb's nsxd: its pids are h24vb's, each one there an sshd.
    const holders = (port as PortNode).socket.processes;
    assert.ok(holders.length > 0, 'who holds it');
    for (const p of holders) assert.match(host.model.process(p.pid)?.comm ?? '', /^sshd/, JSON.stringify(holders));
  });

  it("forwards another host's port to this machine's 127.0.0.1, for this user alone, carried through its nsxd", async () => {
    const group = api.namespaces.getChildren(nsRow('net', sleeper().ns.net!)).find((n) => n.id.endsWith('/ports'))!;
    const port = await until('sshd listening there', () =>
      api.namespaces.getChildren(group).find((n) => (n as PortNode).socket?.port === 22),
    );
    const f = (await vscode.commands.executeCommand('nsx.forwardPort', port)) as Forward;
    assert.ok(f?.hostPort > 0, 'forwarded');
    const other = createUser();
    try {
      // Its sshd's greeting, through a port here that h24vb's nsxd does not listen on: carried over the link.
      assert.match(await firstLine(f.hostPort), /^SSH-2\.0-/);
      assert.match(
        b.log(),
        new RegExp(`action=ports/forward forward=${f.id} uid=\\d+ user=${lab().user}\\b.*result=ok`),
      );
      assert.deepEqual(api.ports.forwards, [], 'no forward of this host');
      assert.ok(host.ports.forwards.some((x) => x.id === f.id && x.hostPort === f.hostPort));
      // Another user of this machine reaches 127.0.0.1 too, and gets nothing.
      assert.equal(bytesAs(other.name, f.hostPort), 0);
      // Its row under h24vb's Ports: Stop there ends it there, and here.
      const row = await until('its row', () =>
        api.namespaces.getChildren(group).find((n) => (n as ForwardNode).forward?.id === f.id),
      );
      assert.match(String(api.namespaces.getTreeItem(row).label), new RegExp(`^127\\.0\\.0\\.1:${f.hostPort} → 22$`));
      await vscode.commands.executeCommand('nsx.stopForward', row);
      assert.equal(await firstLine(f.hostPort), 'error ECONNREFUSED');
      await until('ended there', () => new RegExp(`action=ports/unforward forward=${f.id} `).test(b.log()));
    } finally {
      other.remove();
    }
  });

  it("shows another host's wiring in the Network view, its title naming it", async () => {
    await vscode.commands.executeCommand('nsx.showNetwork', nsRow('net', sleeper().ns.net!));
    assert.equal(api.network.host, host);
    const tab = () =>
      vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => String(t.label).startsWith('Network'));
    await until('the Network tab', () => tab());
    assert.equal(tab()!.label, 'Network — h24vb');
    const net = sleeper().ns.net!;
    await until("h24vb's wiring", () => host.net.current()?.namespaces.some((ns) => ns.inode === net));
    // Back to this host, from its row.
    await vscode.commands.executeCommand('nsx.showNetwork', api.hosts.here.node);
    assert.equal(api.network.host, api.hosts.here);
    await until("this host's name in the title", () => tab()?.label === `Network — ${hostname()}`);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('has the same host roots in the Processes view, each with its own processes', () => {
    const roots = api.processes.getChildren();
    assert.deepEqual(
      roots.map((r) => api.hosts.of(r)?.name),
      api.hosts.list.map((h) => h.name),
    );
    const mine: Node[] = api.processes.getChildren(host.node);
    const row = mine.find((n) => n instanceof api.nodes.ProcessNode && n.pid === inner)!;
    assert.ok(row, "sleep 7002 under h24vb's root, by its pid there");
    assert.equal(api.processes.getTreeItem(row).label, `sleep (${inner})`);
    assert.equal(api.hosts.of(row), host);
    const ids = mine.map((n) => n.id);
    assert.equal(new Set(ids).size, ids.length);
  });
}
