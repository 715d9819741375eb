// The extension inside a real VS Code, against a real nsxd (the runner starts
// one and passes its socket as NSX_SOCKET): the trees show namespaces this
// suite makes, the commands do what they say, terminals run in namespaces.
import * as assert from 'node:assert/strict';
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { Api } from '../../extension/extension';
import type { NsTerminal } from '../../extension/terminal';
import type { NamespaceNode, Node } from '../../extension/tree/nodes';
import { isKernelThread } from '../../extension/tree/labels';
import { nsId, NsKey } from '../../helper/common/protocol';
import { detailsUri } from '../../extension/documents';
import { docker, podman, Engine } from '../engines';
import { fakeEngine, FakeEngine } from '../fake-engine';
import { createUser } from '../support';
import { ui, uiAvailable } from './ui';
import { until } from './until';

const inode = (pid: number | 'self', type: string) =>
  Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/${type}`))![1]);

function item(api: Api, node: Node): vscode.TreeItem {
  return node.toTreeItem(api.model);
}

async function namespaceNode(api: Api, key: NsKey): Promise<NamespaceNode> {
  await vscode.commands.executeCommand('nsx.showByType');
  await api.model.rescan();
  const type = api.namespaces.getChildren().find((n) => n instanceof api.nodes.TypeNode && n.type === key.type);
  assert.ok(type, `a ${key.type} type node`);
  const ns = api.namespaces
    .getChildren(type)
    .find((n) => n instanceof api.nodes.NamespaceNode && n.key.inode === key.inode);
  assert.ok(ns, `${nsId(key)} under ${key.type}`);
  return ns as NamespaceNode;
}

async function runInTerminal(t: NsTerminal, line: string, marker: string): Promise<string> {
  await until('the session to start', () => t.session);
  const from = t.output.length;
  t.terminal!.sendText(`${line}; echo ${marker.slice(0, 1)}''${marker.slice(1)}`);
  return until(`"${marker}" in the terminal`, () =>
    t.output.slice(from).includes(marker) ? t.output.slice(from) : undefined,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; it shows: ${JSON.stringify(t.output.slice(-600))}`);
  });
}

/**
 * An nsxd of the test's own, in a folder of its own, that the test may kill
 * and start again on the same socket; use() points the extension at it,
 * done() back at the suite's and removes the folder.
 */
function ownDaemon(api: Api, prefix: string, args: string[] = []) {
  const dir = execFileSync('mktemp', ['-d', `/tmp/${prefix}-XXXXXX`], { encoding: 'utf8' }).trim();
  execFileSync('chmod', ['755', dir]);
  const socket = join(dir, 'nsxd.sock');
  const nsxd = join(api.extension.extensionPath, 'dist/nsxd.js');
  const config = () => vscode.workspace.getConfiguration('nsx');
  return {
    dir,
    start: () =>
      new Promise<{ proc: ChildProcess; listening: number }>((resolve, reject) => {
        const proc = spawn(process.execPath, [nsxd, '--socket', socket, '--config', join(dir, 'none.json'), ...args], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        proc.stderr!.on('data', (d: Buffer) => {
          if (String(d).includes('listening on')) resolve({ proc, listening: Date.now() });
        });
        proc.once('exit', (code) => reject(new Error(`nsxd exited (${code})`)));
      }),
    use: async () => {
      await config().update('socketPath', socket, vscode.ConfigurationTarget.Global);
      await until("connected to the test's nsxd", () => api.connection.connectedTo === socket);
    },
    done: async () => {
      await config().update('socketPath', undefined, vscode.ConfigurationTarget.Global);
      // Sessions outlive nsxd (and a terminal closed just before nsxd was stopped may not have said so): none may linger.
      spawnSync('pkill', ['-TERM', '-f', `nsx-session --socket ${dir}/sessions/`]);
      // nsxd made its pins folder a mount of its own: left mounted, each run added one to the host's mount table.
      spawnSync('umount', ['--recursive', '--lazy', join(dir, 'pins')]);
      spawnSync('rm', ['-rf', dir]);
    },
  };
}

export function defineSuite(): void {
  describe('Namespace Explorer', () => {
    let api: Api;
    // The node classes of the extension's own bundle: instanceof must see the same class.
    const N = () => api.nodes;
    let target: ChildProcess;
    let targetPid: number;

    before(async () => {
      const ext = vscode.extensions.all.find((e) => e.packageJSON.name === 'namespace-explorer');
      assert.ok(ext, 'the extension under test is installed');
      api = (await ext.activate()) as Api;
      await until('the connection to nsxd', () => api.connection.connected);
      target = spawn(
        'unshare',
        [
          '--uts',
          '--net',
          '--ipc',
          '--fork',
          '--',
          'sh',
          '-c',
          'hostname vscode-target; ip link set lo up; exec sleep 36017',
        ],
        { stdio: 'ignore' },
      );
      targetPid = await until('the target process', () => {
        const kids = spawnSync('pgrep', ['-P', String(target.pid)], { encoding: 'utf8' }).stdout.trim();
        return kids && spawnSync('cat', [`/proc/${kids}/comm`], { encoding: 'utf8' }).stdout.trim() === 'sleep'
          ? Number(kids)
          : undefined;
      });
    });

    after(() => {
      target?.kill('SIGKILL');
      spawnSync('pkill', ['-KILL', '-f', '^sleep 36017$']); // the target's own (under unshare --fork): a mark no other test's sleep has
    });

    it('connects to nsxd and says who the user is', () => {
      assert.equal(api.connection.currentState, 'connected');
      assert.equal(api.connection.identity?.user, 'root');
    });

    it('shows the namespaces the test made, with type, inode, process count and tooltip', async () => {
      const node = await namespaceNode(api, { type: 'uts', inode: inode(targetPid, 'uts') });
      const ti = item(api, node);
      // Named first by what it is (its first process, here), the id after.
      assert.match(String(ti.label), /^unshare \(\d+\) · uts$/);
      assert.match(
        String(ti.description),
        new RegExp(`^uts:\\[${inode(targetPid, 'uts')}\\] · 2 procs\\b`),
        'unshare --fork and the sleep it forked',
      );
      assert.match(String(ti.contextValue), /^namespace uts\b.*\bjoinable\b/);
      assert.doesNotMatch(String(ti.contextValue), /\binitial\b/);
      assert.match((ti.tooltip as vscode.MarkdownString).value, /owner: `user:\[\d+\]`/);
      const members = api.namespaces.getChildren(node);
      assert.ok(members.some((m) => m instanceof N().ProcessNode && m.pid === targetPid));
      const initial = await namespaceNode(api, { type: 'uts', inode: inode('self', 'uts') });
      assert.match(String(item(api, initial).description), /initial/);
      assert.equal(item(api, initial).label, 'host · uts');
    });

    it('nests what each user namespace owns in the hierarchy view', async () => {
      await vscode.commands.executeCommand('nsx.showHierarchy');
      try {
        const roots = api.namespaces.getChildren();
        const init = roots.find((n) => n instanceof N().NamespaceNode && n.key.inode === inode('self', 'user'));
        assert.ok(init, 'the initial user namespace is a root');
        const owned = api.namespaces.getChildren(init);
        assert.ok(
          owned.some(
            (n) => n instanceof N().NamespaceNode && n.key.type === 'net' && n.key.inode === inode(targetPid, 'net'),
          ),
        );
      } finally {
        await vscode.commands.executeCommand('nsx.showByType');
      }
    });

    it("lists processes with the namespaces that differ from PID 1's highlighted, and filters them", async () => {
      await vscode.commands.executeCommand('nsx.filter', { text: 'sleep 36017' });
      try {
        const procs = api.processes.getChildren();
        const mine = procs.find((n) => n instanceof N().ProcessNode && n.pid === targetPid);
        assert.ok(mine);
        assert.match(String(item(api, mine).description), /≠ initial: .*\bnet\b.*\buts\b/);
        assert.ok(
          procs.every(
            (n) => n instanceof N().ProcessNode && api.model.process(n.pid)?.cmdline.join(' ').includes('sleep 36017'),
          ),
        );
        const nsItems = api.processes.getChildren(mine).map((n) => item(api, n));
        assert.ok(nsItems.some((t) => t.label === `net:[${inode(targetPid, 'net')}]`));
      } finally {
        await vscode.commands.executeCommand('nsx.clearFilter');
      }
      assert.ok(api.processes.getChildren().length > 1);
    });

    it('pages long lists, and reveals a process in the Processes view', async () => {
      const config = vscode.workspace.getConfiguration('nsx');
      await config.update('pageSize', 20, vscode.ConfigurationTarget.Global);
      try {
        const first = api.processes.getChildren();
        // A page of 20, a "Show more" row, and the one row that holds the kernel threads.
        assert.equal(first.length, 22);
        const more = first[20];
        assert.ok(more instanceof N().MoreNode);
        assert.ok(first[21] instanceof N().KernelThreadsNode);
        assert.match(String(item(api, more).label), /^Show more… \(\d+ left\)$/);
        await vscode.commands.executeCommand('nsx.showMore', more);
        const rest = api.model.allProcesses().filter((p) => !isKernelThread(p)).length;
        assert.equal(
          api.processes.getChildren().length,
          Math.min(40, rest) + (rest > 40 ? 1 : 0) + 1,
          'a second page, the kernel threads still one row',
        );
      } finally {
        await config.update('pageSize', undefined, vscode.ConfigurationTarget.Global);
      }
      const node = api.namespaces.processNode({ type: 'uts', inode: inode(targetPid, 'uts') }, targetPid)!;
      await vscode.commands.executeCommand('nsx.revealProcess', node);
      await until('the process selected in the Processes view', () => {
        const selected = api.processesView.selection[0];
        return selected instanceof N().ProcessNode && selected.pid === targetPid;
      });
    });

    it('opens a terminal in the namespaces of a process; its name says where; resize reaches stty', async () => {
      const t = (await vscode.commands.executeCommand(
        'nsx.openTerminalInNamespaces',
        new (N().ProcessNode)(undefined, targetPid, true),
        { types: ['uts', 'net'] },
      )) as NsTerminal;
      assert.ok(t);
      const out = await runInTerminal(t, 'hostname; readlink /proc/self/ns/net', 'DONE1');
      assert.match(out, /vscode-target/);
      assert.match(out, new RegExp(`net:\\[${inode(targetPid, 'net')}\\]`));
      assert.equal(t.session!.title, `net:[${inode(targetPid, 'net')}] sleep (${targetPid})`);
      assert.equal(t.terminal!.name, `nsx: sleep (${targetPid})`, 'named as the user opened it');
      t.setDimensions({ columns: 101, rows: 33 });
      assert.match(await runInTerminal(t, 'stty size', 'DONE2'), /33 101/);
      // Reveal selects the terminal's namespace in the tree.
      t.terminal!.show();
      await until('the terminal active', () => vscode.window.activeTerminal === t.terminal);
      await vscode.commands.executeCommand('nsx.namespaces.focus');
      await until('the Namespaces view shown', () => api.namespacesView.visible);
      // The terminal's own processes change the model meanwhile, and a redraw in the middle of a reveal drops its selection: ask again until it holds.
      await until('the net namespace selected in the tree', async () => {
        await vscode.commands.executeCommand('nsx.revealTerminalNamespaces');
        await new Promise((r) => setTimeout(r, 300));
        const selected = api.namespacesView.selection[0];
        return selected instanceof N().NamespaceNode && selected.key.inode === inode(targetPid, 'net');
      });
      t.terminal!.dispose();
    });

    it('closing a terminal kills what it started', async () => {
      const t = (await vscode.commands.executeCommand(
        'nsx.openTerminalInNamespaces',
        new (N().ProcessNode)(undefined, targetPid, true),
        { types: ['uts'] },
      )) as NsTerminal;
      await runInTerminal(t, 'setsid sleep 4242 & sleep 4243 & true', 'STARTED');
      await until('the sleeps running', () => spawnSync('pgrep', ['-f', 'sleep 424[23]']).status === 0);
      t.terminal!.dispose();
      await until('every process of the session gone', () => spawnSync('pgrep', ['-f', 'sleep 424[23]']).status !== 0);
    });

    it('opens an isolated terminal in fresh namespaces with its own hostname and /proc', async () => {
      const t = (await vscode.commands.executeCommand('nsx.openIsolatedTerminal', {
        types: ['user', 'uts', 'ipc', 'pid', 'mnt', 'net'],
        hostname: 'iso-vscode',
      })) as NsTerminal;
      const out = await runInTerminal(
        t,
        'hostname; ps -e -o pid=,comm= | head -3; readlink /proc/self/ns/net',
        'DONE3',
      );
      assert.match(out, /iso-vscode/);
      assert.match(out, /^\s*1 nsx-exec/m);
      assert.doesNotMatch(out, new RegExp(`net:\\[${inode('self', 'net')}\\]`));
      t.terminal!.dispose();
    });

    it("shows a namespace's details in a read-only document", async () => {
      const node = await namespaceNode(api, { type: 'uts', inode: inode(targetPid, 'uts') });
      const editor = (await vscode.commands.executeCommand('nsx.showDetails', node)) as vscode.TextEditor;
      await until('the details text', () => editor.document.getText().includes('vscode-target'));
      assert.match(editor.document.getText(), /hostname and NIS domain name/);
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    });

    it('compares the namespaces of two processes side by side', async () => {
      await vscode.commands.executeCommand(
        'nsx.compareProcesses',
        new (N().ProcessNode)(undefined, targetPid, true),
        process.pid,
      );
      const tab = await until('a diff editor', () => vscode.window.tabGroups.activeTabGroup.activeTab);
      assert.ok(tab.input instanceof vscode.TabInputTextDiff);
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    });

    it('copies a namespace id', async () => {
      const node = await namespaceNode(api, { type: 'net', inode: inode(targetPid, 'net') });
      await vscode.commands.executeCommand('nsx.copyNamespaceId', node);
      assert.equal(await vscode.env.clipboard.readText(), `net:[${inode(targetPid, 'net')}]`);
    });

    it('pins a namespace, keeps it after its process dies, opens a terminal in the pin, unpins it', async () => {
      const helper = spawn('unshare', ['--uts', '--', 'sh', '-c', 'hostname pinned-vscode; exec sleep 36017'], {
        stdio: 'ignore',
      });
      const key = {
        type: 'uts' as const,
        inode: await until('the helper namespace', () => {
          try {
            const i = inode(helper.pid!, 'uts');
            return i !== inode('self', 'uts') ? i : undefined;
          } catch {
            return undefined;
          }
        }),
      };
      await until('the hostname set', () =>
        execFileSync('nsenter', ['-t', String(helper.pid), '-u', 'hostname'], { encoding: 'utf8' }).includes(
          'pinned-vscode',
        ),
      );
      const node = await namespaceNode(api, key);
      await vscode.commands.executeCommand('nsx.pinNamespace', node, 'vscode-pin');
      helper.kill('SIGKILL');
      await until('the namespace empty but listed', async () => {
        await api.model.rescan();
        const ns = api.model.namespace(key);
        return ns && ns.pids.length === 0 ? ns : undefined;
      });
      const pinnedItem = item(api, await namespaceNode(api, key));
      assert.match(String(pinnedItem.contextValue), /\bpinned\b/);
      assert.equal((pinnedItem.iconPath as vscode.ThemeIcon).id, 'pinned');
      assert.match(String(pinnedItem.description), /pinned as vscode-pin by root/);
      const t = (await vscode.commands.executeCommand('nsx.openTerminalInPinned', {
        type: 'uts',
        name: 'vscode-pin',
      })) as NsTerminal;
      assert.match(await runInTerminal(t, 'hostname', 'DONE4'), /pinned-vscode/);
      t.terminal!.dispose();
      await vscode.commands.executeCommand('nsx.unpinNamespace', await namespaceNode(api, key));
      // The closed terminal's shell dies asynchronously; then nothing holds the namespace.
      await until('the namespace gone', async () => {
        await api.model.rescan();
        return api.model.namespace(key) === undefined;
      });
    });

    it('creates a new persistent net namespace that ip netns sees', async () => {
      await vscode.commands.executeCommand('nsx.newPersistentNamespace', 'net', 'vscode-net');
      try {
        assert.match(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), /^vscode-net\b/m);
        const ns = api.model.allNamespaces().find((n) => n.pins.some((p) => p.name === 'vscode-net'));
        assert.ok(ns, 'the new namespace is in the model, pinned');
        await vscode.commands.executeCommand(
          'nsx.unpinNamespace',
          new (N().NamespaceNode)(undefined, ns, false),
          'vscode-net',
        );
      } finally {
        spawnSync('ip', ['netns', 'delete', 'vscode-net']);
      }
      assert.doesNotMatch(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), /^vscode-net\b/m);
    });

    it('says nsxd is not running when its socket is gone, and reconnects when it is back', async () => {
      const config = vscode.workspace.getConfiguration('nsx');
      await config.update('socketPath', join(tmpdir(), 'no-nsxd-here.sock'), vscode.ConfigurationTarget.Global);
      try {
        await until('the not-running state', () => api.connection.currentState === 'notRunning');
        // In the words of an installed extension: its own install.sh, not a checkout's npm start.
        assert.match(
          api.connection.reason,
          new RegExp(
            `nsxd is not running .*sudo nsxd.*sudo bash ${api.extension.extensionPath}/helper/daemon/systemd/install\\.sh`,
          ),
        );
        assert.doesNotMatch(api.connection.reason, /npm start/);
        // No message over the view: it would hide the welcome content, which has the buttons.
        assert.equal(api.namespacesView.message, undefined);
        if (uiAvailable()) {
          await vscode.commands.executeCommand('nsx.namespaces.focus');
          const button = await ui({
            action: 'waitFor',
            selector: '.welcome-view-content >> text=Start nsxd Now',
            timeoutMs: 10_000,
          });
          assert.ok(button.ok, button.error);
        }
      } finally {
        await config.update('socketPath', undefined, vscode.ConfigurationTarget.Global);
      }
      await until('connected again', () => api.connection.currentState === 'connected');
    });

    it('reconnects as soon as a killed nsxd listens again', async function () {
      this.timeout(60_000);
      const own = ownDaemon(api, 'nsx-restart');
      const first = await own.start();
      try {
        await own.use();
        first.proc.kill('SIGKILL');
        await until('the connection lost', () => api.connection.currentState !== 'connected');
        // Long enough for a backoff to have grown: the socket's reappearance is what counts.
        await new Promise((r) => setTimeout(r, 4000));
        const second = await own.start();
        await until('connected to the second nsxd', () => api.connection.currentState === 'connected');
        console.log(`      reconnected ${Date.now() - second.listening} ms after nsxd listened again`);
        second.proc.kill('SIGTERM');
      } finally {
        await own.done();
      }
      await until('connected again', () => api.connection.currentState === 'connected');
    });

    it('a terminal outlives a kill -9 of nsxd: the same shell attaches again, with what it printed meanwhile', async function () {
      this.timeout(60_000);
      const own = ownDaemon(api, 'nsx-survive', ['--orphan-timeout', '30']);
      const sessions = join(own.dir, 'sessions');
      let daemon = (await own.start()).proc;
      let t: NsTerminal | undefined;
      try {
        await own.use();
        t = (await vscode.commands.executeCommand('nsx.openIsolatedTerminal', {
          types: ['uts', 'pid', 'mnt'],
          hostname: 'survivor',
        })) as NsTerminal;
        const before = await runInTerminal(t, 'echo shell=$$; hostname', 'READY');
        assert.ok(
          existsSync(join(sessions, `${t.session!.session}.sock`)),
          "the session is this nsxd's, in its supervisor",
        );
        assert.match(before, /survivor/);
        const shell = /shell=(\d+)/.exec(before)![1];
        // Output that arrives while no nsxd is there: the supervisor keeps it for the next.
        t.terminal!.sendText('sleep 2; echo LATE""OUTPUT');
        await until('the shell given the line', () => t!.output.includes('LATE""OUTPUT'));
        daemon.kill('SIGKILL');
        await until('the terminal detached', () => t!.detached);
        await new Promise((r) => setTimeout(r, 3000));
        daemon = (await own.start()).proc;
        await until('the terminal attached again', () => !t!.detached && t!.output.includes('[attached again]'));
        await until('the output of the gap', () => t!.output.includes('LATEOUTPUT'));
        assert.match(
          await runInTerminal(t, 'echo shell=$$; hostname', 'AGAIN'),
          new RegExp(`shell=${shell}\\b[\\s\\S]*survivor`),
          'the same shell, in the same namespaces',
        );
      } finally {
        t?.terminal?.dispose();
        // Closing the terminal ends the session: its supervisor removes its socket.
        await until('the session ended', () => !existsSync(sessions) || readdirSync(sessions).length === 0).catch(
          () => undefined,
        );
        daemon.kill('SIGTERM');
        await own.done();
      }
      await until('connected again', () => api.connection.currentState === 'connected');
    });

    it('renders the Namespaces view in the workbench (screenshot)', async function () {
      if (!uiAvailable()) this.skip();
      // Clicking the icon of the container already shown would hide it: start from a closed side bar.
      await vscode.commands.executeCommand('workbench.action.closeSidebar');
      await vscode.commands.executeCommand('workbench.action.closePanel');
      await vscode.commands.executeCommand('notifications.clearAll');
      const click = await ui({ action: 'click', selector: '.activitybar a[aria-label^="Namespaces"]' });
      assert.ok(click.ok, click.error);
      await api.model.rescan();
      const row = await ui({ action: 'waitFor', selector: '.monaco-list-row[aria-label^="net"]', timeoutMs: 20_000 });
      assert.ok(row.ok, row.error);
      // Expand the net type so the picture shows namespaces, not just types.
      await ui({ action: 'click', selector: '.monaco-list-row[aria-label^="net"]' });
      await ui({
        action: 'waitFor',
        selector: `.monaco-list-row[aria-label*="net:[${inode(targetPid, 'net')}]"]`,
        timeoutMs: 10_000,
      });
      const shot = await ui({
        action: 'screenshot',
        path: process.env.NSX_SCREENSHOT ?? join(tmpdir(), 'nsx-workbench.png'),
      });
      assert.ok(shot.ok, shot.error);
    });

    it('keeps redrawing a shown view while the host never stops changing', async function () {
      if (!uiAvailable()) this.skip(); // the workbench must be showing the view to ask for it
      // A fork, an exec and an exit every 50 ms: redraws that close together would each put
      // VS Code's debounced tree refresh (200 ms, restarted by every one) off again, for ever.
      const churn = spawn('sh', ['-c', 'while :; do sleep 0.05; done'], { stdio: 'ignore' });
      const provider = api.namespaces;
      const utsCount = (children: Node[]) =>
        (
          children.find((n) => n instanceof N().TypeNode && n.type === 'uts') as
            InstanceType<Api['nodes']['TypeNode']> | undefined
        )?.count;
      let drawn: number | undefined;
      provider.getChildren = (node?: Node) => {
        const children = Object.getPrototypeOf(provider).getChildren.call(provider, node) as Node[];
        if (!node) drawn = utsCount(children);
        return children;
      };
      let sleeper: ChildProcess | undefined;
      try {
        await new Promise((r) => setTimeout(r, 1500));
        const before = utsCount(Object.getPrototypeOf(provider).getChildren.call(provider))!;
        sleeper = spawn('unshare', ['--uts', '--', 'sleep', '600'], { stdio: 'ignore' });
        await until('the workbench to draw the new uts namespace', () => drawn === before + 1, 10_000);
      } finally {
        delete (provider as { getChildren?: unknown }).getChildren;
        sleeper?.kill('SIGKILL');
        churn.kill('SIGKILL');
      }
    });
  });

  describe('containers', () => {
    let api: Api;
    const N = () => api.nodes;
    let engine: Engine | string;
    let dk: Engine | string;
    const db = 'nsxv-db';
    const pod = 'nsxv-pod';
    const web = 'nsxv-web';
    const cache = 'nsxv-cache';

    before(async function () {
      this.timeout(120_000);
      api = (await vscode.extensions.all.find((e) => e.packageJSON.name === 'namespace-explorer')!.activate()) as Api;
      engine = await podman();
      dk = await docker();
      if (typeof dk !== 'string') dk.run(db, ['--hostname', db]);
      if (typeof engine === 'string') return;
      spawnSync('podman', ['pod', 'rm', '-f', pod], { stdio: 'ignore' });
      // A pod without an infra container: its image would come from a registry.
      execFileSync('podman', ['pod', 'create', '--infra=false', '--name', pod]);
      engine.run(web, ['--pod', pod, '--hostname', web, '-e', 'GREETING=hello', '-w', '/srv']);
      engine.run(cache, ['--network', 'none', '--hostname', cache]);
      await until(
        'the containers in the model',
        async () => {
          await api.model.rescan();
          return api.model.allContainers().filter((c) => c.name === web || c.name === cache).length === 2;
        },
        30_000,
      );
    });

    after(() => {
      if (typeof dk !== 'string') {
        dk.remove(db);
        dk.stop();
      }
      if (typeof engine === 'string') return;
      engine.remove(web);
      engine.remove(cache);
      spawnSync('podman', ['pod', 'rm', '-f', pod], { stdio: 'ignore' });
      engine.stop();
      void vscode.commands.executeCommand('nsx.showByType');
    });

    const containerNode = (name: string) => {
      const engines = api.namespaces.getChildren().filter((n) => n instanceof N().EngineNode);
      const podmanNode = engines.find((n) => (n as InstanceType<Api['nodes']['EngineNode']>).engine === 'podman')!;
      const level = api.namespaces.getChildren(podmanNode);
      const all = [
        ...level,
        ...level.filter((n) => n instanceof N().GroupNode).flatMap((g) => api.namespaces.getChildren(g)),
      ];
      return all.find((n) => n instanceof N().ContainerNode && item(api, n).label === name);
    };

    it('groups containers by engine and pod, and names their namespaces after them', async function () {
      if (typeof engine === 'string') this.skip();
      await vscode.commands.executeCommand('nsx.showContainers');
      const engines = api.namespaces.getChildren().filter((n) => n instanceof N().EngineNode);
      assert.ok(
        engines.some((n) => item(api, n).label === 'podman'),
        engines.map((n) => item(api, n).label).join(', '),
      );
      const podmanNode = engines.find((n) => item(api, n).label === 'podman')!;
      const groups = api.namespaces.getChildren(podmanNode).filter((n) => n instanceof N().GroupNode);
      const podNode = groups.find((n) => item(api, n).label === pod);
      assert.ok(podNode, 'the pod');
      assert.equal(item(api, podNode).description, 'pod');
      const webNode = api.namespaces.getChildren(podNode).find((n) => item(api, n).label === web);
      assert.ok(webNode, 'the container in its pod');
      const wi = item(api, webNode);
      assert.match(String(wi.description), /nsx-test-busybox:2 · running/);
      assert.match(String(wi.contextValue), /^container running/);
      const namespaces = api.namespaces.getChildren(webNode).map((n) => item(api, n));
      const net = namespaces.find((i) => String(i.label).endsWith(' · net'));
      assert.ok(net, 'its net namespace');
      assert.equal(net.label, `${web} · net`, 'named after its container first');
      assert.match(String(net.description), /^net:\[\d+\] · \d+ procs? · podman\b/);
      assert.ok(containerNode(cache), 'the container outside any pod');
    });

    it('shows Docker containers under their engine too', async function () {
      if (typeof dk === 'string') this.skip();
      await until(
        'the Docker container in the model',
        async () => {
          await api.model.rescan();
          return api.model.allContainers().some((c) => c.name === db);
        },
        30_000,
      );
      await vscode.commands.executeCommand('nsx.showContainers');
      const dockerNode = api.namespaces
        .getChildren()
        .find((n) => n instanceof N().EngineNode && item(api, n).label === 'docker');
      assert.ok(dockerNode, 'a docker engine row');
      const dbNode = api.namespaces.getChildren(dockerNode).find((n) => item(api, n).label === db);
      assert.ok(dbNode, 'the container under it');
      const uts = api.namespaces
        .getChildren(dbNode)
        .map((n) => item(api, n))
        .find((i) => String(i.label).endsWith(' · uts'));
      assert.equal(uts?.label, `${db} · uts`);
      assert.match(String(uts?.description), new RegExp(`docker · hostname ${db}`));
    });

    it('finds a container by typing its name in the quick pick, and opens a shell in it as docker exec does', async function () {
      if (typeof engine === 'string' || !uiAvailable()) this.skip();
      const opened = vscode.commands.executeCommand('nsx.openTerminalInContainer') as Thenable<NsTerminal | undefined>;
      assert.ok((await ui({ action: 'waitFor', selector: '.quick-input-widget .quick-input-box input' })).ok);
      await ui({ action: 'type', text: web.slice(5) });
      await ui({ action: 'waitFor', selector: `.quick-input-list .monaco-list-row[aria-label*="${web}"]` });
      await ui({ action: 'press', key: 'Enter' });
      // The types, all of the container's checked: accept them.
      await ui({ action: 'waitFor', selector: '.quick-input-title:has-text("Namespaces of container")' });
      await ui({ action: 'press', key: 'Enter' });
      const t = await opened;
      assert.ok(t, 'a terminal');
      const pid = (engine as Engine).pid(web);
      const out = await runInTerminal(
        t,
        'hostname; echo $GREETING; pwd; for n in net mnt pid; do readlink /proc/self/ns/$n; done',
        'DONE7',
      );
      assert.match(
        out,
        new RegExp(
          `${web}\\r?\\nhello\\r?\\n/srv\\r?\\nnet:\\[${inode(pid, 'net')}\\]\\r?\\nmnt:\\[${inode(pid, 'mnt')}\\]\\r?\\npid:\\[${inode(pid, 'pid')}\\]`,
        ),
      );
      t.terminal!.dispose();
    });

    it("a namespace row's terminal joins the container's namespaces, not that one alone", async function () {
      if (typeof engine === 'string') this.skip();
      await vscode.commands.executeCommand('nsx.showContainers');
      const pid = (engine as Engine).pid(cache);
      const net = api.namespaces
        .getChildren(containerNode(cache))
        .find((n) => n instanceof N().NamespaceNode && n.key.type === 'net');
      assert.ok(net);
      const t = (await vscode.commands.executeCommand('nsx.openTerminalInNamespaces', net, {
        types: ['net', 'uts', 'mnt', 'pid'],
      })) as NsTerminal;
      const out = await runInTerminal(t, 'hostname; ls /sys/class/net; readlink /proc/self/ns/mnt', 'DONE8');
      assert.match(out, new RegExp(`${cache}\\r?\\nlo\\r?\\nmnt:\\[${inode(pid, 'mnt')}\\]`));
      t.terminal!.dispose();
    });

    it("opens a terminal with the host's tools on the container's network", async function () {
      if (typeof engine === 'string') this.skip();
      const node = containerNode(web);
      const pid = (engine as Engine).pid(web);
      const t = (await vscode.commands.executeCommand('nsx.openTerminalWithHostTools', node)) as NsTerminal;
      assert.equal(t.terminal!.name, `nsx: ${web} (host tools)`, 'not the name of a full shell in it');
      const out = await runInTerminal(
        t,
        'readlink /proc/self/ns/net /proc/self/ns/mnt; test -x /usr/bin/nsenter && echo host-files',
        'DONE9',
      );
      assert.match(
        out,
        new RegExp(`net:\\[${inode(pid, 'net')}\\]\\r?\\nmnt:\\[${inode('self', 'mnt')}\\]\\r?\\nhost-files`),
      );
      t.terminal!.dispose();
    });

    /** A shell in container web, on an nsxd of the test's own; the shell's pid. */
    async function webShellOn(
      own: ReturnType<typeof ownDaemon>,
      marker: string,
    ): Promise<{ t: NsTerminal; shell: string }> {
      await own.use();
      await until(
        'web in the model',
        async () => {
          await api.model.rescan();
          return api.model.allContainers().some((c) => c.name === web && c.pid);
        },
        30_000,
      );
      await vscode.commands.executeCommand('nsx.showContainers');
      const t = (await vscode.commands.executeCommand('nsx.openTerminalInContainer', containerNode(web), {
        types: ['net', 'uts', 'pid', 'mnt', 'ipc'],
      })) as NsTerminal;
      const shell = /shell=(\d+)/.exec(await runInTerminal(t, 'echo shell=$$', marker))![1];
      return { t, shell };
    }

    it("a container's terminal survives a kill -9 of nsxd and the welcome view's Start button: the same shell, attached once", async function () {
      if (typeof engine === 'string') this.skip();
      this.timeout(90_000);
      const own = ownDaemon(api, 'nsx-startbutton');
      let daemon = (await own.start()).proc;
      let t: NsTerminal | undefined;
      try {
        let shell: string;
        ({ t, shell } = await webShellOn(own, 'UP1'));
        daemon.kill('SIGKILL');
        await until('the terminal detached', () => t!.detached);
        // The button starts nsxd in a terminal and connects; the socket's watcher connects too, at the same moment.
        await vscode.commands.executeCommand('nsx.startDaemon');
        await until(
          'the terminal attached again',
          () => !t!.detached && t!.output.includes('[attached again]'),
          30_000,
        );
        // Past the button's own reconnect (1.5 s after it): nothing drops the shell.
        await new Promise((r) => setTimeout(r, 2500));
        assert.match(
          await runInTerminal(t, 'echo shell=$$; hostname', 'UP2'),
          new RegExp(`shell=${shell}\\b[\\s\\S]*${web}`),
          'the same shell, in web',
        );
        assert.equal(t.output.split('[attached again]').length - 1, 1, 'attached exactly once');
        assert.doesNotMatch(t.output, /this shell is gone/);
      } finally {
        t?.terminal?.dispose();
        for (const term of vscode.window.terminals) if (term.name === 'nsxd') term.dispose();
        spawnSync('pkill', ['-f', `nsxd.js --socket ${join(own.dir, 'nsxd.sock')}`]);
        daemon.kill('SIGTERM');
        await own.done();
      }
      await until('connected again', () => api.connection.currentState === 'connected');
    });

    it("a container's terminal attaches once when reconnects race: the watcher, Retry twice and a connect at once", async function () {
      if (typeof engine === 'string') this.skip();
      this.timeout(90_000);
      const own = ownDaemon(api, 'nsx-race');
      let daemon = (await own.start()).proc;
      let t: NsTerminal | undefined;
      try {
        let shell: string;
        ({ t, shell } = await webShellOn(own, 'RACE1'));
        daemon.kill('SIGKILL');
        await until('the terminal detached', () => t!.detached);
        const next = own.start();
        await Promise.all([
          next,
          vscode.commands.executeCommand('nsx.reconnect'),
          vscode.commands.executeCommand('nsx.reconnect'),
          api.connection.connect(),
        ]);
        daemon = (await next).proc;
        await Promise.all([vscode.commands.executeCommand('nsx.reconnect'), api.connection.connect()]);
        await until(
          'the terminal attached again',
          () => !t!.detached && t!.output.includes('[attached again]'),
          30_000,
        );
        await new Promise((r) => setTimeout(r, 2000));
        assert.match(
          await runInTerminal(t, 'echo shell=$$', 'RACE2'),
          new RegExp(`shell=${shell}\\b`),
          'the same shell',
        );
        assert.equal(t.output.split('[attached again]').length - 1, 1, 'attached exactly once');
        assert.doesNotMatch(t.output, /this shell is gone/);
      } finally {
        t?.terminal?.dispose();
        daemon.kill('SIGTERM');
        await own.done();
      }
      await until('connected again', () => api.connection.currentState === 'connected');
    });

    it("reveals a terminal's namespaces in the container grouping, and past the first page in the type grouping", async function () {
      if (typeof engine === 'string') this.skip();
      this.timeout(60_000);
      const config = vscode.workspace.getConfiguration('nsx');
      const holders = Array.from({ length: 4 }, () =>
        spawn('unshare', ['--uts', '--', 'sleep', '3602'], { stdio: 'ignore' }),
      );
      let t: NsTerminal | undefined;
      try {
        // The test before may leave the view hidden (its terminal shown), and a hidden view's model is not kept:
        // shown again, it lists. Without web's row the command would ask which container, and nobody answers.
        await vscode.commands.executeCommand('nsx.namespaces.focus');
        await vscode.commands.executeCommand('nsx.showContainers');
        const row = await until('web in the container grouping', () => containerNode(web));
        t = (await vscode.commands.executeCommand('nsx.openTerminalInContainer', row, {
          types: ['net', 'uts', 'pid', 'mnt', 'ipc'],
        })) as NsTerminal;
        await runInTerminal(t, 'true', 'REV1');
        t.terminal!.show();
        await until('the terminal active', () => vscode.window.activeTerminal === t!.terminal);
        const revealed = async (key: NsKey) =>
          until(`${nsId(key)} selected in the tree`, async () => {
            await vscode.commands.executeCommand('nsx.revealTerminalNamespaces');
            await new Promise((r) => setTimeout(r, 300));
            const selected = api.namespacesView.selection[0];
            return selected instanceof N().NamespaceNode && selected.key.inode === key.inode;
          });
        const pid = (engine as Engine).pid(web);
        await revealed({ type: 'net', inode: inode(pid, 'net') });
        assert.ok(api.namespacesView.selection[0].parent instanceof N().ContainerNode, 'under its container');
        // A row carries no command (its arguments would die with the next redraw): selecting it shows its details.
        assert.equal(item(api, api.namespacesView.selection[0]).command, undefined);
        const shown = () =>
          vscode.window.visibleTextEditors.some(
            (e) => e.document.uri.toString() === detailsUri({ type: 'net', inode: inode(pid, 'net') }).toString(),
          );
        // A row that was the selection already (an earlier test's) fires no change when revealed again: then
        // what a click on it runs, on the row the reveal selected.
        await until('its details shown', shown, 10_000).catch(async () => {
          await vscode.commands.executeCommand('nsx.showDetails', api.namespacesView.selection[0]);
          return until('its details shown', shown);
        });
        // Pages of two: web's uts namespace is newer than the host's and the four made here, past the first page.
        await config.update('pageSize', 2, vscode.ConfigurationTarget.Global);
        await vscode.commands.executeCommand('nsx.showByType');
        const t2 = (await vscode.commands.executeCommand(
          'nsx.openTerminalInContainer',
          containerNode(web) ??
            (await (async () => {
              await vscode.commands.executeCommand('nsx.showContainers');
              return containerNode(web);
            })()),
          { types: ['uts'] },
        )) as NsTerminal;
        await runInTerminal(t2, 'true', 'REV2');
        await vscode.commands.executeCommand('nsx.showByType');
        t2.terminal!.show();
        await until('the second terminal active', () => vscode.window.activeTerminal === t2.terminal);
        await revealed({ type: 'uts', inode: inode(pid, 'uts') });
        t2.terminal!.dispose();
      } finally {
        await config.update('pageSize', undefined, vscode.ConfigurationTarget.Global);
        t?.terminal?.dispose();
        for (const h of holders) h.kill('SIGKILL');
      }
    });

    it('filters by container name: the container, not every process whose arguments say it', async function () {
      if (typeof engine === 'string') this.skip();
      await vscode.commands.executeCommand('nsx.showByType');
      await vscode.commands.executeCommand('nsx.filter', { text: web });
      try {
        const shown = api.namespaces.getChildren().flatMap((type) => api.namespaces.getChildren(type));
        const pid = (engine as Engine).pid(web);
        assert.ok(shown.length > 0);
        for (const n of shown)
          assert.equal(
            (n as NamespaceNode).key.inode,
            inode(pid, (n as NamespaceNode).key.type),
            `only ${web}'s namespaces`,
          );
        // The Processes view shows web's processes, named by it, and not chromium's or curl's whose arguments say it.
        const procs = api.processes.getChildren().filter((n) => n instanceof N().ProcessNode);
        assert.ok(
          procs.some((n) => (n as InstanceType<Api['nodes']['ProcessNode']>).pid === pid),
          `${web}'s first process`,
        );
        for (const n of procs)
          assert.match(String(item(api, n).description), new RegExp(`^in ${web} · `), `only ${web}'s processes`);
      } finally {
        await vscode.commands.executeCommand('nsx.clearFilter');
      }
    });

    it("a user's own rootless engine sets nothing of root's shell opened from VS Code", async function () {
      this.timeout(60_000);
      // mallory, who is not in the group, serves her own podman API; her "container" is a process in a user namespace she made.
      const mallory = createUser();
      const boxed = spawn(
        'runuser',
        ['-u', mallory.name, '--', 'unshare', '--map-root-user', '--mount', 'sleep', '600'],
        { stdio: 'ignore' },
      );
      const marks = execFileSync('mktemp', ['-d'], { encoding: 'utf8' }).trim();
      execFileSync('chmod', ['1777', marks]);
      const rc = join(marks, 'rc.sh');
      execFileSync('sh', ['-c', `echo 'echo "rc as $(id -u)" >> ${marks}/pwned' > ${rc}; chmod 644 ${rc}`]);
      let fake: FakeEngine | undefined;
      let t: NsTerminal | undefined;
      try {
        const pid = await until('her boxed sleep', () => {
          const sleeper = spawnSync('pgrep', ['-u', mallory.name, '-x', 'sleep'], { encoding: 'utf8' }).stdout.trim();
          return sleeper ? Number(sleeper.split('\n')[0]) : undefined;
        });
        fake = await fakeEngine(mallory, [
          {
            id: 'e'.repeat(64),
            name: 'nsxv-hers',
            pid,
            workingDir: marks,
            env: [
              `BASH_ENV=${rc}`,
              `ENV=${rc}`,
              `PROMPT_COMMAND=. ${rc}`,
              'LD_PRELOAD=/nonexistent/hers.so',
              'GREETING=from-her',
              `PATH=${marks}:/usr/bin:/bin`,
            ],
          },
        ]);
        const c = await until(
          'her container in the model',
          async () => {
            await api.model.rescan();
            return api.model.allContainers().find((x) => x.name === 'nsxv-hers' && x.pid === pid);
          },
          30_000,
        );
        await vscode.commands.executeCommand('nsx.showContainers');
        const engines = api.namespaces.getChildren().filter((n) => n instanceof N().EngineNode);
        const node = engines
          .flatMap((e) => api.namespaces.getChildren(e))
          .find((n) => n instanceof N().ContainerNode && n.containerId === c.id);
        assert.ok(node, 'her container in the tree');
        t = (await vscode.commands.executeCommand('nsx.openTerminalInContainer', node, {
          types: c.namespaces.map((k) => k.type),
        })) as NsTerminal;
        const out = await runInTerminal(
          t,
          'echo "[$GREETING][$BASH_ENV][$ENV][$LD_PRELOAD][$PROMPT_COMMAND]"; pwd; echo $PATH',
          'DONE12',
        );
        assert.match(out, /\[\]\[\]\[\]\[\]\[\]/, out);
        assert.ok(!out.includes(marks), `her folder reached root's shell:\n${out}`);
        assert.ok(!existsSync(join(marks, 'pwned')), 'none of her code ran');
      } finally {
        t?.terminal?.dispose();
        fake?.stop();
        boxed.kill('SIGKILL');
        mallory.remove();
        execFileSync('rm', ['-rf', marks]);
      }
    });

    it("says in the tree when an engine's API does not answer, and what that costs", async function () {
      this.timeout(60_000);
      const user = createUser();
      let fake: FakeEngine | undefined;
      try {
        fake = await fakeEngine(user, [{ id: 'd'.repeat(64), name: 'nsxv-silent' }], { hang: true });
        await until(
          'the silent API in the model',
          async () => {
            await api.model.rescan();
            return api.model.allEngineApis().some((a) => a.uid === user.uid && !a.answering);
          },
          30_000,
        );
        await vscode.commands.executeCommand('nsx.showContainers');
        const row = api.namespaces.getChildren().find((n) => n instanceof N().EngineNode && n.uid === user.uid);
        assert.ok(row, "the user's engine has a row");
        const ti = item(api, row);
        assert.match(String(ti.description), /API not answering/);
        // appendText keeps the engine's words as text, its blanks as &nbsp;.
        assert.match(
          (ti.tooltip as vscode.MarkdownString).value.replace(/&nbsp;/g, ' '),
          /does not answer: no answer within 2000 ms[\s\S]*only the running ones/,
        );
      } finally {
        fake?.stop();
        user.remove();
      }
    });

    it('holds the kernel threads under one collapsed row of the Processes view', async () => {
      await api.model.rescan();
      const top = api.processes.getChildren();
      const threads = top.find((n) => n instanceof N().KernelThreadsNode);
      assert.ok(threads, 'a Kernel threads row');
      assert.equal(item(api, threads).collapsibleState, vscode.TreeItemCollapsibleState.Collapsed);
      assert.ok(!top.some((n) => n instanceof N().ProcessNode && n.pid === 2), 'kthreadd is not at the top');
      assert.ok(api.processes.getChildren(threads).some((n) => n instanceof N().ProcessNode && n.pid === 2));
    });

    it('shows details again when they are reopened', async () => {
      const holder = spawn('unshare', ['--uts', '--', 'sh', '-c', 'hostname before-change; exec sleep 3601'], {
        stdio: 'ignore',
      });
      try {
        const key = {
          type: 'uts' as const,
          inode: await until('the uts namespace', () => {
            try {
              const i = inode(holder.pid!, 'uts');
              return i !== inode('self', 'uts') && i;
            } catch {
              return undefined;
            }
          }),
        };
        const node = await namespaceNode(api, key);
        const first = (await vscode.commands.executeCommand('nsx.showDetails', node)) as vscode.TextEditor;
        await until('the hostname in the details', () => first.document.getText().includes('before-change'));
        execFileSync('nsenter', ['-t', String(holder.pid), '-u', 'hostname', 'after-change']);
        await vscode.commands.executeCommand('nsx.showDetails', node);
        await until('the new hostname in the details', () => first.document.getText().includes('after-change'));
      } finally {
        holder.kill('SIGKILL');
      }
    });

    it('renders the Containers grouping in the workbench (screenshot)', async function () {
      if (typeof engine === 'string' || !uiAvailable()) this.skip();
      await vscode.commands.executeCommand('nsx.showContainers');
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      await vscode.commands.executeCommand('workbench.action.closePanel');
      await vscode.commands.executeCommand('notifications.clearAll');
      await vscode.commands.executeCommand('nsx.namespaces.focus');
      await ui({ action: 'waitFor', selector: `.monaco-list-row[aria-label*="${web}"]`, timeoutMs: 20_000 });
      await ui({ action: 'click', selector: `.monaco-list-row[aria-label*="${web}"]` });
      await ui({ action: 'waitFor', selector: `.monaco-list-row[aria-label^="${web} · net"]`, timeoutMs: 10_000 });
      const shot = await ui({
        action: 'screenshot',
        path: (process.env.NSX_SCREENSHOT ?? join(tmpdir(), 'nsx-workbench.png')).replace(/\.png$/, '-containers.png'),
      });
      assert.ok(shot.ok, shot.error);
    });
  });
}
