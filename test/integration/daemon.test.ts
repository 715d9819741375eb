// nsxd's socket, its refusal of outsiders, and its limits on what a client sends.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ListNamespaces, NamespaceDetails } from '../../helper/common/protocol';
import { createUser, Daemon, NSXD, nsx, rootDir, startDaemon, waitFor } from '../support';

function raw(socket: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection(socket);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

function closed(s: Socket): Promise<string> {
  let got = '';
  s.on('data', (d) => {
    got += d;
  });
  return new Promise((resolve) => s.once('close', () => resolve(got)));
}

function frame(body: string): string {
  return `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

describe('nsxd socket and access', () => {
  let daemon: Daemon;
  let outsider: ReturnType<typeof createUser>;
  before(async () => {
    daemon = await startDaemon();
    outsider = createUser();
  });
  after(async () => {
    await daemon.destroy();
    outsider.remove();
  });

  it('makes its socket root:nsx 0660 in a root-owned directory', () => {
    const st = lstatSync(daemon.socket);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
    assert.equal(st.uid, 0);
    const gid = Number(spawnSync('getent', ['group', 'nsx'], { encoding: 'utf8' }).stdout.split(':')[2]);
    assert.equal(st.gid, gid);
  });

  it('refuses a second daemon on a live socket, and does not disturb the first', () => {
    const r = spawnSync(process.execPath, [NSXD, '--socket', daemon.socket], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /another nsxd is already serving/);
    assert.equal(nsx(daemon, ['list']).code, 0);
  });

  it('replaces a stale socket nobody listens on', async () => {
    const dir = rootDir('nsxd-stale-');
    const path = join(dir, 'nsxd.sock');
    // A listener killed outright leaves its socket file with nothing behind it.
    const listener = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`,
    ]);
    await new Promise((r) => listener.stdout.once('data', r));
    listener.kill('SIGKILL');
    await new Promise((r) => listener.once('exit', r));
    assert.ok(existsSync(path));
    const d = await startDaemon({ dir });
    assert.equal(nsx(d, ['list']).code, 0);
    await d.destroy();
  });

  it('refuses to start when not root', () => {
    const r = spawnSync(
      'runuser',
      ['-u', outsider.name, '--', process.execPath, NSXD, '--socket', '/tmp/nsxd-not-root.sock'],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 1);
    assert.match(r.stderr, /must run as root/);
  });

  it('refuses a user outside the group before serving anything, saying how to get access', async () => {
    // The socket is 0660: an outsider is stopped by the kernel first ...
    const denied = nsx(daemon, ['list'], { user: outsider.name });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /permission denied .*usermod -aG nsx/);
    // ... and one that carries the group's gid without being a member is refused by nsxd itself.
    const carried = spawnSync(
      'setpriv',
      [
        '--reuid',
        outsider.name,
        '--regid',
        'nsx',
        '--clear-groups',
        process.execPath,
        join(__dirname, '../../nsx.js'),
        '--socket',
        daemon.socket,
        'list',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(carried.status, 1, carried.stderr);
    assert.match(carried.stderr, /access denied: .* is not a member of the group "nsx".*usermod -aG nsx/);
    await waitFor(
      () => new RegExp(`action=connect uid=${outsider.uid} .*result=refused`).test(daemon.log()),
      5000,
      'the refusal in the audit log',
    );
  });

  it('serves the same user once an admin adds them to the group', () => {
    spawnSync('usermod', ['-aG', 'nsx', outsider.name]);
    try {
      const r = nsx(daemon, ['list', '--json'], { user: outsider.name });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(JSON.parse(r.stdout).namespaces.length > 0);
    } finally {
      spawnSync('gpasswd', ['-d', outsider.name, 'nsx']);
    }
  });

  it('closes a connection that sends malformed, oversized or half-sent messages, and only that one', async () => {
    const good = await daemon.client();
    try {
      const cases = [
        'this is not a header\r\n\r\n',
        frame('{"jsonrpc": "2.0", "id": 1, "method": "namespaces/list"'), // not JSON
        frame('[1,2,3]'),
        `Content-Length: ${2 * 1024 * 1024}\r\n\r\n{`,
        'X'.repeat(4096),
      ];
      for (const bytes of cases) {
        const s = await raw(daemon.socket);
        const done = closed(s);
        s.write(bytes);
        await done;
        assert.ok((await good.conn.sendRequest(ListNamespaces, {})).namespaces.length > 0);
      }
      // Half a message: the daemon waits 10 s for the rest, then hangs up.
      const s = await raw(daemon.socket);
      const done = closed(s);
      s.write('Content-Length: 100\r\n\r\n{"jsonrpc":');
      await done;
      assert.match(daemon.log(), /result=closed reason=.*message not completed within 10 s/);
      assert.ok((await good.conn.sendRequest(ListNamespaces, {})).namespaces.length > 0);
    } finally {
      good.close();
    }
    assert.equal(daemon.proc.exitCode, null);
  });

  it('answers an unknown method or bad parameters with an error and keeps the connection', async () => {
    const c = await daemon.client();
    try {
      await assert.rejects(c.conn.sendRequest('no/such', {}), /Unhandled method/);
      await assert.rejects(c.conn.sendRequest(NamespaceDetails, { type: 'nope', inode: 1 }), /not a namespace type/);
      await assert.rejects(c.conn.sendRequest(NamespaceDetails, { type: 'net', inode: -5 }), /not an inode number/);
      assert.ok((await c.conn.sendRequest(ListNamespaces, {})).namespaces.length > 0);
    } finally {
      c.close();
    }
  });

  it('limits connections per user', async () => {
    const clients = [];
    try {
      for (let i = 0; i < 32; i++) clients.push(await daemon.client());
      await assert.rejects(daemon.client(), /too many connections/);
    } finally {
      for (const c of clients) c.close();
    }
    await new Promise((r) => setTimeout(r, 200));
    (await daemon.client()).close();
  });

  it(
    'takes its socket from systemd socket activation',
    { skip: spawnSync('sh', ['-c', 'command -v systemd-socket-activate']).status !== 0 },
    async () => {
      const dir = rootDir('nsxd-activate-');
      const path = join(dir, 'nsxd.sock');
      // systemd-socket-activate listens, then execs nsxd with the socket as fd 3 (LISTEN_FDS=1).
      const activator = spawn('systemd-socket-activate', ['--listen', path, process.execPath, NSXD, '--socket', path], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let log = '';
      activator.stderr.on('data', (d) => {
        log += d;
      });
      try {
        await waitFor(() => existsSync(path), 5000, 'the activation socket');
        const r = await new Promise<ReturnType<typeof nsx>>((resolve) =>
          setTimeout(() => resolve(nsx(path, ['list', '--json'])), 200),
        );
        assert.equal(r.code, 0, r.stderr + log);
        assert.ok(JSON.parse(r.stdout).namespaces.length > 0);
        await waitFor(() => log.includes('listening on'), 5000, 'nsxd to say it listens');
      } finally {
        activator.kill('SIGTERM');
        await new Promise((r) => activator.once('exit', r));
        spawnSync('umount', ['--recursive', '--lazy', join(dir, 'pins')]);
        spawnSync('rm', ['-rf', dir]);
      }
    },
  );

  it('says clearly when no daemon is running', () => {
    const r = spawnSync(
      process.execPath,
      [join(__dirname, '../../nsx.js'), '--socket', '/tmp/nowhere/nsxd.sock', 'list'],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /nsxd is not running .*start it with `sudo nsxd`, or install it for good \(see the README's "Installing nsxd for good"\)/,
    );
    assert.doesNotMatch(r.stderr, /npm start/, 'no checkout is assumed');
    // A socket that is there with nothing accepting on it: an nsxd that died, or one systemd gave up starting.
    const dir = mkdtempSync(join(tmpdir(), 'nsx-dead-'));
    try {
      execFileSync('python3', [
        '-c',
        `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(join(dir, 'nsxd.sock'))})`,
      ]);
      const dead = spawnSync(
        process.execPath,
        [join(__dirname, '../../nsx.js'), '--socket', join(dir, 'nsxd.sock'), 'list'],
        { encoding: 'utf8' },
      );
      assert.equal(dead.status, 1);
      assert.match(
        dead.stderr,
        /nsxd is not answering on .* \(the socket is there, nothing accepts\): see why with `systemctl status nsxd` where it is installed/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
