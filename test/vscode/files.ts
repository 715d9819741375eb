// A container's files in the real workbench: a podman container whose image
// holds one static binary and no shell, opened through the nsx-files
// provider; a file edited and saved in the editor, checked on disk through
// /proc/PID/root (owner and mode kept); a folder listed; a big file refused
// by the editor with a sentence and downloaded whole; rename, delete, mkdir.
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { Api } from '../../extension/extension';
import { Engine, podman } from '../engines';
import { importFilesImage, removeFilesContainer, runFilesContainer } from '../files-image';
import { waitFor } from '../support';
import { ui, uiAvailable } from './ui';

/** The root of a container, once the engine has told nsxd of it (a container just started may take a moment). */
async function openRoot(container: string): Promise<vscode.Uri> {
  for (let tries = 0; tries < 100; tries++) {
    const uri = await vscode.commands
      .executeCommand<vscode.Uri | undefined>('nsx.openFiles', undefined, { target: { container }, noFolder: true })
      .then(
        (u) => u,
        () => undefined,
      );
    if (uri) return uri;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`nsxd never found container ${container}`);
}

export function defineFilesSuite(): void {
  describe('Files of a container (f23)', () => {
    const name = `f23-vscode-${process.pid}`;
    let engine: Engine | string;
    let pid = 0;
    let root: vscode.Uri;
    let work = '';
    const inside = (path: string) => `/proc/${pid}/root${path}`;

    before(async function () {
      this.timeout(180_000);
      const ext = vscode.extensions.all.find((e) => e.packageJSON.name === 'namespace-explorer');
      const api = (await ext!.activate()) as Api;
      await waitFor(() => api.connection.connected, 30_000, 'the connection to nsxd');
      engine = await podman();
      if (typeof engine === 'string') return;
      importFilesImage();
      pid = runFilesContainer(name);
      work = mkdtempSync(join(tmpdir(), 'f23-vscode-'));
      // The engine's answer reaches nsxd's model with its next look at the containers.
      root = await openRoot(name);
    });
    after(() => {
      removeFilesContainer(name);
      if (work) rmSync(work, { recursive: true, force: true });
      if (typeof engine !== 'string') engine?.stop();
    });

    it('edits and saves a file of a container with no shell; on disk it changed, its owner and mode did not', async function () {
      if (typeof engine === 'string') return this.skip();
      const uri = root.with({ path: '/etc/app.conf' });
      const doc = await vscode.workspace.openTextDocument(uri);
      assert.equal(doc.getText(), 'setting=1\n');
      const editor = await vscode.window.showTextDocument(doc);
      await editor.edit((e) => e.insert(new vscode.Position(1, 0), 'edited=yes\n'));
      assert.ok(await doc.save(), 'saved');
      assert.equal(readFileSync(inside('/etc/app.conf'), 'utf8'), 'setting=1\nedited=yes\n');
      const st = statSync(inside('/etc/app.conf'));
      assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [1234, 1234, 0o640]);
      if (process.env.NSX_SCREENSHOT && uiAvailable()) {
        await vscode.commands.executeCommand('notifications.clearAll');
        const shot = await ui({
          action: 'screenshot',
          path: process.env.NSX_SCREENSHOT.replace(/\.png$/, '-files.png'),
        });
        assert.ok(shot.ok, shot.error);
      }
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    });

    it('lists folders with real types and sizes, and makes, renames and deletes through the provider', async function () {
      if (typeof engine === 'string') return this.skip();
      assert.deepEqual(await vscode.workspace.fs.readDirectory(root.with({ path: '/bin' })), [
        ['busybox', vscode.FileType.File],
      ]);
      const abs = await vscode.workspace.fs.stat(root.with({ path: '/abs' }));
      assert.equal(abs.type, vscode.FileType.SymbolicLink | vscode.FileType.Directory);
      const conf = await vscode.workspace.fs.stat(root.with({ path: '/etc/shadow' }));
      assert.equal(conf.size, statSync(inside('/etc/shadow')).size);
      await vscode.workspace.fs.createDirectory(root.with({ path: '/srv/made' }));
      await vscode.workspace.fs.writeFile(root.with({ path: '/srv/made/a.txt' }), Buffer.from('a'));
      await vscode.workspace.fs.rename(root.with({ path: '/srv/made/a.txt' }), root.with({ path: '/srv/made/b.txt' }));
      assert.equal(readFileSync(inside('/srv/made/b.txt'), 'utf8'), 'a');
      await assert.rejects(
        Promise.resolve(vscode.workspace.fs.readFile(root.with({ path: '/srv/made/a.txt' }))),
        (err: vscode.FileSystemError) => err.code === 'FileNotFound',
      );
      await vscode.workspace.fs.delete(root.with({ path: '/srv/made' }), { recursive: true });
      assert.throws(() => statSync(inside('/srv/made')));
    });

    it("root's view is its own root (root@ in the URI), and a reload finds either from the URI alone", async function () {
      if (typeof engine === 'string') return this.skip();
      const asRoot = await vscode.commands.executeCommand<vscode.Uri>('nsx.openFilesAsRoot', undefined, {
        target: { container: name },
        noFolder: true,
      });
      assert.equal(asRoot.toString(), `nsx-files://root@container.${name}/`);
      const shadow = await vscode.workspace.fs.readFile(asRoot.with({ path: '/etc/shadow' }));
      assert.equal(Buffer.from(shadow).toString(), readFileSync(inside('/etc/shadow'), 'utf8'));
      // A URI made by hand, as a restored workspace folder is: no command ran for it.
      const restored = vscode.Uri.parse(`nsx-files://container.${name}/etc/hostname`);
      assert.equal(
        Buffer.from(await vscode.workspace.fs.readFile(restored)).toString(),
        readFileSync(inside('/etc/hostname'), 'utf8'),
      );
    });

    it('what changed inside shows when the window regains focus: a folder listed again, an open file read again', async function () {
      if (typeof engine === 'string') return this.skip();
      const srv = root.with({ path: '/srv' });
      await vscode.workspace.fs.readDirectory(srv);
      const seen: string[] = [];
      const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(srv, '*'));
      watcher.onDidCreate((u) => seen.push(`+${u.path}`));
      writeFileSync(inside('/srv/made-inside'), 'x');
      try {
        await vscode.commands.executeCommand('nsx.refreshFiles');
        await new Promise((r) => setTimeout(r, 500));
        assert.deepEqual(seen, [`+${srv.path}/made-inside`]);
      } finally {
        watcher.dispose();
      }
    });

    it('a read-only root is NoPermissions with the path', async function () {
      if (typeof engine === 'string') return this.skip();
      const ro = `${name}-ro`;
      runFilesContainer(ro, ['--read-only']);
      try {
        const uri = (await openRoot(ro)).with({ path: '/etc/app.conf' });
        await assert.rejects(
          Promise.resolve(vscode.workspace.fs.writeFile(uri, Buffer.from('x'))),
          (err: vscode.FileSystemError) =>
            err.code === 'NoPermissions' && /\/etc\/app.conf: read-only file system/.test(err.message),
        );
      } finally {
        removeFilesContainer(ro);
      }
    });

    it('refuses a file above 50 MiB for the editor with a sentence, and downloads it whole', async function () {
      if (typeof engine === 'string') return this.skip();
      writeFileSync(inside('/srv/big'), '');
      truncateSync(inside('/srv/big'), 60 * 1024 * 1024);
      const big = root.with({ path: '/srv/big' });
      await assert.rejects(Promise.resolve(vscode.workspace.fs.readFile(big)), /more than the editor opens \(50 MiB\)/);
      const to = join(work, 'big');
      const bytes = await vscode.commands.executeCommand<number>('nsx.downloadFile', big, { to });
      assert.equal(bytes, 60 * 1024 * 1024);
      assert.equal(statSync(to).size, 60 * 1024 * 1024);
    });
  });
}
