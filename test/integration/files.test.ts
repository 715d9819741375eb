// A container's files with nothing run inside it: a podman container whose
// image holds one static binary and no shell, read and changed through
// nsxd's files/* (nsx ls, nsx cp, and the requests themselves), as root and
// as a member; and every way out of its root an attacker would try.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  constants,
  openSync,
  readlinkSync,
  symlinkSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  FilesOpen,
  FilesRead,
  FilesRename,
  FilesDelete,
  FilesCreateDirectory,
  FilesWrite,
} from '../../helper/common/files';
import { filesErrno, RemoteFiles } from '../../helper/common/filesClient';
import type { Client } from '../../helper/common/client';
import { Engine, podman } from '../engines';
import { CONTAINER_SHADOW, importFilesImage, removeFilesContainer, runFilesContainer } from '../files-image';
import { createUser, Daemon, DIST, fdCount, nsx, removeDir, rootDir, startDaemon, waitFor } from '../support';

const NAME = `f23-files-${process.pid}`;

describe('files of a mount namespace (f23)', () => {
  let engine: Engine | string;
  let daemon: Daemon;
  let pid = 0;
  let work = '';
  let member: ReturnType<typeof createUser> | undefined;
  let outsider: ReturnType<typeof createUser> | undefined;
  let client: Client;
  let files: RemoteFiles;
  const inside = (path: string) => `/proc/${pid}/root${path}`;

  before(async () => {
    engine = await podman();
    if (typeof engine === 'string') return;
    importFilesImage();
    pid = runFilesContainer(NAME);
    daemon = await startDaemon();
    work = rootDir('f23-work-');
    member = createUser({ inGroup: true });
    outsider = createUser();
    client = await daemon.client();
    const { handle } = await client.conn.sendRequest(FilesOpen, { target: { container: NAME } });
    files = new RemoteFiles((type, params) => client.conn.sendRequest(type, params), handle);
  });
  after(async () => {
    client?.close();
    await daemon?.destroy();
    removeFilesContainer(NAME);
    member?.remove();
    outsider?.remove();
    if (work) removeDir(work);
    if (typeof engine !== 'string') engine?.stop();
  });
  const skip = (t: { skip(m: string): void }) => (typeof engine === 'string' ? (t.skip(engine), true) : false);

  it('lists a container that has no shell: one static binary in /bin, real sizes, modes and owners', (t) => {
    if (skip(t)) return;
    const r = nsx(daemon, ['ls', `${NAME}:/bin`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^-rwxr-xr-x +0 +0 +\d+ .* busybox$/m);
    assert.equal(r.stdout.trim().split('\n').length, 1, r.stdout);
    const etc = JSON.parse(nsx(daemon, ['ls', `${NAME}:/etc`, '--json']).stdout).entries;
    const conf = etc.find((e: { name: string }) => e.name === 'app.conf');
    assert.deepEqual([conf.kind, conf.size, conf.mode & 0o7777, conf.uid, conf.gid], ['file', 10, 0o640, 1234, 1234]);
    assert.equal(Math.round(conf.mtime / 1000), Math.round(statSync(inside('/etc/app.conf')).mtimeMs / 1000));
    const abs = JSON.parse(nsx(daemon, ['ls', `${NAME}:/abs`, '--json']).stdout).entries;
    assert.ok(
      abs.some((e: { name: string }) => e.name === 'shadow'),
      'a symlinked folder is listed through its link',
    );
  });

  it('opens the same root by PID, by mnt namespace and by a mnt pin (the helper enters it for one open of /)', (t) => {
    if (skip(t)) return;
    const mnt = Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/mnt`))![1]);
    const pin = `f23pin${process.pid}`;
    assert.equal(nsx(daemon, ['pin', String(pid), 'mnt', pin]).code, 0);
    try {
      for (const target of [String(pid), `mnt:${mnt}`, `pin:${pin}`]) {
        const r = nsx(daemon, ['ls', `${target}:/abs/shadow`]);
        assert.equal(r.code, 0, `${target}: ${r.stderr}`);
        assert.match(r.stdout, /^-rw------- +0 +0 +21 .* shadow$/m, target);
      }
    } finally {
      nsx(daemon, ['unpin', 'mnt', pin]);
    }
  });

  it('reads a file, and a 1,000-entry folder page by page', async (t) => {
    if (skip(t)) return;
    const r = nsx(daemon, ['cp', `${NAME}:/etc/hostname`, `${work}/`]);
    assert.equal(r.code, 0, r.stderr);
    // podman's own /etc/hostname, a bind mount inside: what the container sees, volumes and all.
    assert.equal(readFileSync(join(work, 'hostname'), 'utf8'), readFileSync(inside('/etc/hostname'), 'utf8'));
    const data = await files.list('/data');
    assert.equal(data.length, 1001);
    const big = await files.readAll('/data/ten-mb');
    assert.equal(big.length, 10 * 1024 * 1024);
    assert.ok(big.every((b) => b === 0x78));
  });

  it('writes in place: owner and mode stay; a new file is 0644', async (t) => {
    if (skip(t)) return;
    const local = join(work, 'app.conf');
    writeFileSync(local, 'setting=2\n');
    const r = nsx(daemon, ['cp', local, `${NAME}:/etc/app.conf`]);
    assert.equal(r.code, 0, r.stderr);
    const st = statSync(inside('/etc/app.conf'));
    assert.equal(readFileSync(inside('/etc/app.conf'), 'utf8'), 'setting=2\n');
    assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [1234, 1234, 0o640]);
    await files.upload('/srv/new.txt', [Buffer.from('new\n')], { create: true, overwrite: false });
    assert.equal(statSync(inside('/srv/new.txt')).mode & 0o7777, 0o644);
    await assert.rejects(
      files.upload('/srv/new.txt', [Buffer.from('x')], { create: true, overwrite: false }),
      (err) => filesErrno(err) === 'EEXIST',
    );
    assert.equal(readFileSync(inside('/srv/new.txt'), 'utf8'), 'new\n', 'a refused write leaves the file as it was');
  });

  it('every chunk of one upload lands in the inode its first chunk opened, whatever is swapped in at its path', async (t) => {
    if (skip(t)) return;
    const w = (offset: number, data: string, first: boolean) =>
      client.conn.sendRequest(FilesWrite, {
        handle: files.handle,
        path: '/srv/chunked',
        offset,
        data: Buffer.from(data).toString('base64'),
        ...(first ? { create: true, overwrite: true, truncate: true } : { overwrite: true }),
      });
    await w(0, 'first-', true);
    // Swapped under the upload: the old file renamed away, a symlink to the container's shadow in its place.
    execFileSync('mv', [inside('/srv/chunked'), inside('/srv/chunked.old')]);
    symlinkSync('/etc/shadow', inside('/srv/chunked'));
    await w(6, 'second', false);
    assert.equal(readFileSync(inside('/srv/chunked.old'), 'utf8'), 'first-second');
    assert.equal(readFileSync(inside('/etc/shadow'), 'utf8'), CONTAINER_SHADOW);
  });

  it('renames, deletes and makes folders; deletes a tree without following its symlinks', async (t) => {
    if (skip(t)) return;
    const send = client.conn;
    await send.sendRequest(FilesCreateDirectory, { handle: files.handle, path: '/srv/dir' });
    await files.upload('/srv/dir/a', [Buffer.from('a')], { create: true, overwrite: false });
    await send.sendRequest(FilesRename, { handle: files.handle, from: '/srv/dir/a', to: '/srv/dir/b' });
    assert.deepEqual(readdirSync(inside('/srv/dir')), ['b']);
    await assert.rejects(
      send.sendRequest(FilesDelete, { handle: files.handle, path: '/srv/dir' }),
      (err) => filesErrno(err) === 'ENOTEMPTY',
    );
    spawnSync('ln', ['-s', '/etc', inside('/srv/dir/etc-link')]);
    await send.sendRequest(FilesDelete, { handle: files.handle, path: '/srv/dir', recursive: true });
    assert.ok(!existsSync(inside('/srv/dir')));
    assert.ok(existsSync(inside('/etc/hostname')), 'the symlink went, not what it points to');
    await assert.rejects(
      send.sendRequest(FilesDelete, { handle: files.handle, path: '/srv/..' }),
      (err) => filesErrno(err) === 'EBUSY',
    );
  });

  it('copies folders both ways, recursively, with nsx cp', (t) => {
    if (skip(t)) return;
    const up = join(work, 'tree');
    mkdirSync(join(up, 'sub'), { recursive: true });
    writeFileSync(join(up, 'sub/one'), '1');
    writeFileSync(join(up, 'two'), '2');
    symlinkSync('/etc/shadow', join(up, 'link'));
    assert.equal(nsx(daemon, ['cp', up, `${NAME}:/srv/`]).code, 0);
    assert.equal(readFileSync(inside('/srv/tree/sub/one'), 'utf8'), '1');
    assert.equal(readlinkSync(inside('/srv/tree/link')), '/etc/shadow', 'a symlink stays one, its text as it was');
    const down = join(work, 'down');
    const r = nsx(daemon, ['cp', `${NAME}:/srv/tree`, down]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(down, 'sub/one'), 'utf8'), '1');
    assert.equal(readFileSync(join(down, 'two'), 'utf8'), '2');
    assert.equal(readlinkSync(join(down, 'link')), '/etc/shadow');
    const secret = nsx(daemon, ['cp', `${NAME}:/etc/shadow`, join(work, 'shadow')]);
    assert.equal(secret.code, 0, secret.stderr);
    assert.equal(statSync(join(work, 'shadow')).mode & 0o777, 0o600, 'a 0600 file stays 0600 on the host');
  });

  it("an absolute symlink, a chain of .., a relative link climbing out: all stay in the container's root", async (t) => {
    if (skip(t)) return;
    assert.notEqual(readFileSync('/etc/shadow', 'utf8'), CONTAINER_SHADOW);
    // /proc/PID/root/abs/shadow is the HOST's /etc/shadow: what a plain path join would read.
    assert.equal(readFileSync(inside('/abs/shadow'), 'utf8'), readFileSync('/etc/shadow', 'utf8'));
    for (const path of ['/abs/shadow', '/../../../../../etc/shadow', 'dots/shadow', '/srv/../../etc/./shadow'])
      assert.equal((await files.readAll(path)).toString(), CONTAINER_SHADOW, path);
    const host = join(work, 'host-only');
    writeFileSync(host, 'host\n');
    await assert.rejects(files.readAll(`/../../../../..${host}`), (err) => filesErrno(err) === 'ENOENT');
    // A write through the same ways lands inside, never on the host.
    await files.upload(`/../../..${work}-escape`, [Buffer.from('x')], { create: true, overwrite: true }).catch(() => 0);
    assert.ok(!existsSync(`${work}-escape`));
    const r = nsx(daemon, ['cp', join(work, 'host-only'), `${NAME}:/abs/../../../../tmp/`]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(inside('/tmp/host-only')));
  });

  it('a procfs inside never leads out: /proc/1/root and /proc/self/root are refused', async (t) => {
    if (skip(t)) return;
    for (const path of ['/proc/1/root/etc/hostname', '/hostroot/etc/hostname', '/proc/self/root/etc/hostname']) {
      await assert.rejects(files.readAll(path), (err) => ['ELOOP', 'ENOENT', 'EXDEV'].includes(filesErrno(err)!), path);
    }
    const r = nsx(daemon, ['ls', `${NAME}:/proc/1/root/`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /would leave the root/);
  });

  it('never opens a device node or a fifo the container made', async (t) => {
    if (skip(t)) return;
    spawnSync('mknod', ['-m', '0666', inside('/srv/f23mem'), 'c', '1', '1']);
    spawnSync('mkfifo', ['-m', '0666', inside('/srv/f23fifo')]);
    for (const path of ['/srv/f23mem', '/srv/f23fifo']) {
      await assert.rejects(files.readAll(path), (err) => filesErrno(err) === 'EINVAL', path);
      await assert.rejects(
        files.upload(path, [Buffer.from('x')], { create: true, overwrite: true }),
        (err) => filesErrno(err) === 'EINVAL',
      );
    }
  });

  it('a symlink swapped in while writes run never takes a write out of the root (best effort)', async (t) => {
    if (skip(t)) return;
    const hostDir = join(work, 'race-target');
    mkdirSync(hostDir);
    const race = inside('/srv/race');
    // Flips /srv/race between a folder and a symlink to the host's folder's path, as fast as it can.
    const flipper = spawn('bash', [
      '-c',
      `while :; do rm -rf ${race}; mkdir ${race}; rm -rf ${race}; ln -s ${hostDir} ${race}; done`,
    ]);
    try {
      for (let i = 0; i < 300; i++)
        await client.conn
          .sendRequest(FilesWrite, {
            handle: files.handle,
            path: `/srv/race/f${i}`,
            offset: 0,
            data: 'eA==',
            create: true,
            overwrite: true,
          })
          .catch(() => undefined);
    } finally {
      flipper.kill('SIGKILL');
    }
    assert.deepEqual(readdirSync(hostDir), [], 'nothing landed in the host folder');
  });

  it('a member sees files as themself: a root-only file refused that root reads; their new file is theirs', (t) => {
    if (skip(t)) return;
    const m = member!;
    const mine = join(work, 'member');
    mkdirSync(mine, { mode: 0o777 });
    chmodSync(mine, 0o777);
    const shadow = nsx(daemon, ['cp', `${NAME}:/etc/shadow`, mine], { user: m.name });
    assert.equal(shadow.code, 1);
    assert.match(shadow.stderr, /\/etc\/shadow: permission denied \(as nsxt/);
    const asRoot = nsx(daemon, ['ls', `${NAME}:/etc`, '--root'], { user: m.name });
    assert.equal(asRoot.code, 1);
    assert.match(asRoot.stderr, /may not see files as root/);
    assert.equal(nsx(daemon, ['ls', `${NAME}:/etc/hostname`], { user: m.name }).code, 0);
    const local = join(work, 'mine.txt');
    writeFileSync(local, 'mine\n', { mode: 0o644 });
    const up = nsx(daemon, ['cp', local, `${NAME}:/srv/mine.txt`], { user: m.name });
    assert.equal(up.code, 0, up.stderr);
    const st = lstatSync(inside('/srv/mine.txt'));
    assert.deepEqual([st.uid, st.mode & 0o7777], [m.uid, 0o644]);
    const denied = nsx(daemon, ['cp', local, `${NAME}:/etc/app.conf`], { user: m.name });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /permission denied/);
    assert.equal(readFileSync(inside('/etc/app.conf'), 'utf8'), 'setting=2\n');
  });

  it("a member's helper holds the root fd where the member cannot take it: not dumpable, its /proc/PID/fd root's", async (t) => {
    if (skip(t)) return;
    const m = member!;
    const fd = openSync(`/proc/${pid}/root`, 0o10000000 | constants.O_DIRECTORY);
    const gid = Number(execFileSync('id', ['-g', m.name], { encoding: 'utf8' }).trim());
    const helper = spawn(
      join(DIST, 'nsx-files'),
      ['--root-fd', '3', '--uid', String(m.uid), '--gid', String(gid), '--groups', String(gid)],
      { stdio: ['pipe', 'pipe', 'ignore', fd] },
    );
    closeSync(fd);
    try {
      await new Promise((r) => helper.stdout!.once('data', r)); // its first answer: ready, as the member
      const status = readFileSync(`/proc/${helper.pid}/status`, 'utf8');
      assert.match(status, new RegExp(`^Uid:\\t${m.uid}\\t${m.uid}\\t${m.uid}\\t${m.uid}$`, 'm'));
      assert.match(status, /^CapEff:\t0+$/m);
      for (const cmd of [
        ['ls', `/proc/${helper.pid}/fd/`],
        ['cat', `/proc/${helper.pid}/fd/3/etc/shadow`],
        ['ls', `/proc/${helper.pid}/root/`],
      ]) {
        const r = spawnSync('runuser', ['-u', m.name, '--', ...cmd], { encoding: 'utf8' });
        assert.notEqual(r.status, 0, `${cmd.join(' ')} as the member: ${r.stdout}`);
      }
      const gdb = spawnSync('runuser', ['-u', m.name, '--', 'cat', `/proc/${helper.pid}/mem`], { encoding: 'utf8' });
      assert.notEqual(gdb.status, 0);
    } finally {
      helper.kill('SIGKILL');
    }
  });

  it('a read-only root says so, with the path, and changes nothing', async (t) => {
    if (skip(t)) return;
    const ro = `${NAME}-ro`;
    const roPid = runFilesContainer(ro, ['--read-only']);
    try {
      const local = join(work, 'ro.txt');
      writeFileSync(local, 'x');
      let r = nsx(daemon, ['cp', local, `${ro}:/etc/app.conf`]);
      // The engine may take a moment to tell of a container it just started.
      for (let i = 0; i < 20 && /no running container/.test(r.stderr); i++) {
        await new Promise((ok) => setTimeout(ok, 500));
        r = nsx(daemon, ['cp', local, `${ro}:/etc/app.conf`]);
      }
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^nsx: \/etc\/app.conf: read-only file system$/m);
      assert.equal(readFileSync(`/proc/${roPid}/root/etc/app.conf`, 'utf8'), 'setting=1\n');
    } finally {
      removeFilesContainer(ro);
    }
  });

  it('an outsider is refused before anything is opened', (t) => {
    if (skip(t)) return;
    const r = nsx(daemon, ['ls', `${NAME}:/etc`], { user: outsider!.name });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /only root and members of the group/);
  });

  it('a client that sends without waiting for answers is refused past a bound, not buffered for', async (t) => {
    if (skip(t)) return;
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, () =>
        client.conn.sendRequest(FilesRead, {
          handle: files.handle,
          path: '/data/ten-mb',
          offset: 0,
          length: 512 * 1024,
        }),
      ),
    );
    const refused = results.filter((r) => r.status === 'rejected');
    assert.ok(refused.length > 0 && refused.length < 40, `${refused.length} of 40 refused`);
    assert.match(String((refused[0] as PromiseRejectedResult).reason.message), /wait for answers/);
    assert.equal((await files.readAll('/etc/shadow')).toString(), CONTAINER_SHADOW, 'the handle still serves');
  });

  it('a client that goes leaves no helper and no fd behind; audit lines say who changed what', async (t) => {
    if (skip(t)) return;
    const helpers = () =>
      readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            return readFileSync(`/proc/${p}/stat`, 'latin1').includes(`(nsx-files) S ${daemon.proc.pid} `);
          } catch {
            return false;
          }
        });
    const fds = fdCount(daemon.proc.pid!);
    const c = await daemon.client();
    for (let i = 0; i < 5; i++) await c.conn.sendRequest(FilesOpen, { target: { pid } });
    assert.ok(helpers().length >= 6);
    c.close();
    await waitFor(() => helpers().length === 1, 10_000, 'the helpers of the closed connection to end');
    await waitFor(() => fdCount(daemon.proc.pid!) <= fds, 10_000, "nsxd's fds to come back");
    assert.match(daemon.log(), /action=files\/write .*target=container:f23-files-\d+ as=root path=\/etc\/app.conf/);
    assert.match(daemon.log(), /action=files\/delete .*path=\/srv\/dir recursive=true result=ok/);
    assert.match(daemon.log(), /action=files\/rename .*path=\/srv\/dir\/a to=\/srv\/dir\/b/);
  });
});
