// nsx's C front (native/nsx.c): `nsx list` answered without starting Node,
// in the very words of the Node client, which gets every other command line
// and every failure.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Daemon, holdNamespaces, NSX, NSX_JS, nsInode, nsx, startDaemon } from '../support';

/** The same command line through the Node client alone. */
function nsxJs(socket: string, args: string[]) {
  const r = spawnSync(process.execPath, [NSX_JS, '--socket', socket, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A server on a socket of its own that answers each connection as `answer` says; its connections, in order. */
async function fakeDaemon(answer: (s: Socket, n: number) => void): Promise<{ socket: string; connections: Socket[]; close(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'nsx-fake-'));
  const socket = join(dir, 'nsxd.sock');
  const connections: Socket[] = [];
  const server: Server = createServer((s) => { connections.push(s); s.on('error', () => undefined); answer(s, connections.length); });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return { socket, connections, close: () => { for (const s of connections) s.destroy(); server.close(); rmSync(dir, { recursive: true, force: true }); } };
}

const NAME = 'sleep \x1b]0;owned\x07 héllo ✓ 𝄞';
const frame = (body: string) => `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe('nsx, the C front of the CLI', () => {
  let daemon: Daemon;
  let held: Awaited<ReturnType<typeof holdNamespaces>>;
  before(async () => {
    daemon = await startDaemon();
    // A process whose cmdline a terminal must not act on, and whose non-ASCII must come through whole.
    held = await holdNamespaces(['--net', '--uts'], `exec bash -c 'exec -a "$0" sleep 3600' '${NAME}'`);
  });
  after(async () => {
    held.kill();
    await daemon.destroy();
  });

  it('prints the table the Node client prints, with -t as nsxd spells types', () => {
    const net = nsInode(held.pid, 'net');
    const row = (out: string) => out.split('\n').find((l) => l.startsWith(`${net} `));
    const front = nsx(daemon, ['list', '-t', 'net,uts']);
    const node = nsxJs(daemon.socket, ['list', '-t', 'net,uts']);
    assert.equal(front.code, 0, front.stderr);
    assert.equal(front.stdout.split('\n')[0], node.stdout.split('\n')[0], 'the same header');
    assert.ok(row(front.stdout), front.stdout);
    assert.equal(row(front.stdout), row(node.stdout));
    assert.match(row(front.stdout)!, /sleep \\x1b\]0;owned\\x07 héllo ✓ 𝄞 3600$/, 'escapes made visible, UTF-8 whole');
    assert.ok(!/\x1b/.test(front.stdout), 'no escape character reaches the terminal');
    assert.ok(front.stdout.split('\n').slice(1, -1).every((l) => / (net|uts) /.test(l)), 'only the types asked');
  });

  it('hands every other command line to the Node client, and it answers as always', () => {
    for (const args of [['list', '-t', 'NET,Mount'], ['list', '-n'], ['pins'], ['--version'], ['list', '-t', 'bogus'], ['frobnicate'], ['list', 'extra']]) {
      const front = nsx(daemon, args);
      const node = nsxJs(daemon.socket, args);
      assert.equal(front.code, node.code, `${args.join(' ')}: ${front.stderr}`);
      assert.equal(front.stderr, node.stderr, args.join(' '));
      if (args[0] !== 'list' || front.code !== 0) assert.equal(front.stdout, node.stdout, args.join(' '));
    }
    assert.match(nsx(daemon, ['list', '-t', 'NET,Mount']).stdout, /^\d+ net /m);
    const net = nsInode(held.pid, 'net');
    const json = (JSON.parse(nsx(daemon, ['list', '--json', '--type=net']).stdout).namespaces as { inode: number; processes: { cmdline: string[] }[] }[]).find((n) => n.inode === net);
    assert.equal(json?.processes[0].cmdline[0], NAME, '--json, from the Node client');
    assert.match(nsx(daemon, ['list', '-t', 'bogus']).stderr, /unknown namespace type "bogus"/);
  });

  it('says what the Node client says when nsxd is not there', () => {
    const front = nsx('/tmp/nowhere/nsxd.sock', ['list']);
    assert.equal(front.code, 1);
    assert.equal(front.stderr, nsxJs('/tmp/nowhere/nsxd.sock', ['list']).stderr);
    assert.match(front.stderr, /nsxd is not running/);
  });

  it('leaves a reader that stops early (nsx list --json | head) without an error', () => {
    const r = spawnSync('bash', ['-o', 'pipefail', '-c', `'${NSX}' --socket '${daemon.socket}' list --json | head -c 1`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '{');
    assert.equal(r.stderr, '');
  });

  it('hands an nsxd of another protocol to the Node client, which names it, and keeps no socket open across the hand-off', async () => {
    const hungUpFirst: boolean[] = [];
    const fake = await fakeDaemon((s, n) => {
      if (n > 1) hungUpFirst.push(fake.connections[0].readableEnded || fake.connections[0].destroyed);
      s.once('data', () => s.write(frame(JSON.stringify({ jsonrpc: '2.0', id: n === 1 ? 1 : 0, result: {
        capabilities: {}, serverInfo: { name: 'nsxd', version: '0.0.1' }, protocolVersion: 1,
        identity: { uid: 0, user: 'root', role: 'admin', rootShells: true, nstypes: [] },
      } }))));
      s.on('end', () => s.end());
    });
    try {
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const p = spawn(NSX, ['--socket', fake.socket, 'list'], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        p.stderr.on('data', (d) => { stderr += d; });
        p.on('close', (code) => resolve({ code, stderr }));
      });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /nsxd 0\.0\.1 speaks protocol 1, this client 3/);
      assert.equal(fake.connections.length, 2, 'the front asked, then the Node client');
      assert.deepEqual(hungUpFirst, [true], "the front's socket was closed on exec (close-on-exec), not inherited by Node");
    } finally {
      fake.close();
    }
  });

  it('survives any malformed answer: no crash, nothing printed, the Node client reports it', async () => {
    const answers = [
      'Content-Length: 99999999999999\r\n\r\n{',
      'Content-Length: 20\r\n\r\n{"jsonrpc":"2.0","id',
      frame('{"jsonrpc":"2.0","deep":' + '['.repeat(1_000_000)),
      frame('{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"3"}}'),
      frame('{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":3}}') + frame('{"jsonrpc":"2.0","id":2,"result":{"text":"unterminated \\u12'),
      frame('{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":3}}') + frame('{"jsonrpc":"2.0","id":2,"result":{"text":42}}'),
      frame('{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":3}}') + frame('{"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"no"}}'),
      'x'.repeat(5000),
    ];
    for (const answer of answers) {
      // The front gets the malformed answer; the Node client after it, a hang-up.
      const fake = await fakeDaemon((s, n) => { if (n === 1) s.once('data', () => s.end(answer)); else s.destroy(); });
      try {
        const r = await new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) => {
          const p = spawn(NSX, ['--socket', fake.socket, 'list'], { stdio: ['ignore', 'pipe', 'pipe'] });
          let stdout = '';
          let stderr = '';
          p.stdout.on('data', (d) => { stdout += d; });
          p.stderr.on('data', (d) => { stderr += d; });
          p.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
        });
        assert.equal(r.signal, null, `${answer.slice(0, 60)}: killed by ${r.signal}`);
        assert.equal(r.stdout, '', answer.slice(0, 60));
        // Not the status 0 of a request left unanswered for ever, as vscode-jsonrpc would leave it.
        assert.equal(r.code, 1, answer.slice(0, 60));
        assert.match(r.stderr, /^nsx: nsxd at .* closed the connection before answering; it may be stopping: try again\n$/, answer.slice(0, 60));
        assert.equal(fake.connections.length, 2, `${answer.slice(0, 60)}: handed to the Node client`);
      } finally {
        fake.close();
      }
    }
  });
});
