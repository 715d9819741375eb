// A streams forward (the extension's forward to another host): nsxd listens
// nowhere; each connection is a stream connection that presents a token of
// ports/connect, and is connected inside (a web server on an `unshare -n`
// namespace's loopback) once nsxd says so. Refused, with nothing sent and an
// audit line: a wrong token, a used one, an expired one, another user's
// connection with a valid one (which stays its owner's), a token for a
// forward that is not a streams one. The client going ends the forward, its
// nsx-connect and its connections.
import assert from 'node:assert/strict';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { streamPreamble } from '../../helper/common/capture';
import type { Client } from '../../helper/common/client';
import { FORWARD_CONNECTED, ForwardConnect, ForwardPort, ListForwards } from '../../helper/common/ports';
import { comm, createUser, Daemon, descendants, startDaemon, waitFor } from '../support';

const PAGE = 'fs24-ok';

/** A stream connection presenting TOKEN; once nsxd says it is connected, GET /. All it got, when nsxd closes it. */
function carried(socket: string, token: string): Promise<string> {
  return new Promise((resolve) => {
    const s = createConnection(socket);
    let got = '';
    s.on('data', (d: Buffer) => {
      const was = got;
      got += d.toString('latin1');
      if (!was.startsWith(FORWARD_CONNECTED) && got.startsWith(FORWARD_CONNECTED))
        s.write('GET / HTTP/1.0\r\nHost: x\r\n\r\n');
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve(got));
    s.once('connect', () => s.write(streamPreamble(token)));
  });
}

/** The same preamble, written by USER's own process: how many bytes came back. */
function carriedAs(user: string, socket: string, token: string): number {
  const script = `const s = require('net').createConnection(process.argv[1]); let n = 0;
s.on('connect', () => s.write(process.argv[2])); s.on('data', (d) => (n += d.length));
s.on('error', () => undefined); s.on('close', () => console.log(n));`;
  const out = execFileSync(
    'runuser',
    ['-u', user, '--', process.execPath, '-e', script, socket, streamPreamble(token)],
    {
      encoding: 'utf8',
    },
  );
  return Number(out.trim());
}

describe('streams forwards (the extension to another host)', { concurrency: false }, () => {
  let daemon: Daemon;
  let client: Client;
  let held: ChildProcess;
  let dir: string;
  const streams = (c: Client = client) =>
    c.conn.sendRequest(ForwardPort, { target: { pid: held.pid! }, port: 8080, streams: true });
  const connectors = () => descendants(daemon.proc.pid!).filter((pid) => comm(pid) === 'nsx-connect');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fs24-'));
    writeFileSync(join(dir, 'index.html'), `${PAGE}\n`);
    held = spawn('unshare', ['-n', 'sh', '-c', `ip link set lo up; exec busybox httpd -f -p 127.0.0.1:8080 -h ${dir}`]);
    daemon = await startDaemon();
    client = await daemon.client();
  });
  after(async () => {
    client?.close();
    await daemon?.destroy();
    held?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries a connection presenting a ports/connect token inside, and nothing listens on the host for it', async () => {
    const f = await streams();
    assert.equal(f.streams, true);
    assert.equal(f.hostPort, 0);
    const token = async () => (await client.conn.sendRequest(ForwardConnect, { forward: f.id })).token;
    // The server may still be starting: a connection refused inside is closed, and another token asked.
    const got = await waitFor(
      async () => {
        const text = await carried(daemon.socket, await token());
        return text.includes(PAGE) && text;
      },
      15_000,
      'the page through the stream',
    );
    assert.ok(got.startsWith(FORWARD_CONNECTED), got.slice(0, 80));
    const once = await token();
    assert.match(once, /^[0-9a-f]{64}$/);
    assert.match(await carried(daemon.socket, once), new RegExp(PAGE));
    // Used: the token gets nothing a second time, nor does a wrong one.
    assert.equal(await carried(daemon.socket, once), '', 'a used token gets nothing');
    assert.equal(await carried(daemon.socket, randomBytes(32).toString('hex')), '');
  });

  it("refuses another user's connection with a valid token, which stays its owner's; and an expired one", async () => {
    const member = createUser({ inGroup: true });
    try {
      const f = await streams();
      const { token } = await client.conn.sendRequest(ForwardConnect, { forward: f.id });
      assert.equal(carriedAs(member.name, daemon.socket, token), 0);
      await waitFor(() =>
        daemon
          .log()
          .includes(
            `ports/connection forward=${f.id} peerUid=${member.uid} result=refused reason="the token is uid 0's"`,
          ),
      );
      assert.match(await carried(daemon.socket, token), new RegExp(PAGE));
      const late = await client.conn.sendRequest(ForwardConnect, { forward: f.id });
      await new Promise((r) => setTimeout(r, 10_500));
      assert.equal(await carried(daemon.socket, late.token), '');
      await waitFor(() =>
        daemon.log().includes(`ports/connection forward=${f.id} peerUid=0 result=refused reason="the token expired"`),
      );
    } finally {
      member.remove();
    }
  });

  it('gives no token for a forward that listens on the host, or none at all; a streams forward is never kept, shared or given a port', async () => {
    const listening = await client.conn.sendRequest(ForwardPort, { target: { pid: held.pid! }, port: 8080 });
    assert.ok(listening.hostPort > 0);
    for (const id of [listening.id, 9999])
      await assert.rejects(client.conn.sendRequest(ForwardConnect, { forward: id }), /there is no streams forward/);
    for (const more of [{ hostPort: 18024 }, { keep: true }, { anyUser: true }])
      await assert.rejects(
        client.conn.sendRequest(ForwardPort, { target: { pid: held.pid! }, port: 8080, streams: true, ...more }),
        /has no port here/,
      );
  });

  it('ends the forward, its nsx-connect and its connections when its client goes', async () => {
    const before = connectors().length;
    const other = await daemon.client();
    const f = await streams(other);
    assert.equal(connectors().length, before + 1);
    const { token } = await other.conn.sendRequest(ForwardConnect, { forward: f.id });
    // A connection left open (HTTP/1.1 keeps it): it must be cut with the forward.
    const s = createConnection(daemon.socket);
    const closed = new Promise((r) => s.once('close', r));
    s.on('error', () => undefined);
    let said = '';
    s.on('data', (d: Buffer) => (said += d));
    s.write(streamPreamble(token));
    await waitFor(() => said.startsWith(FORWARD_CONNECTED), 10_000, 'connected inside');
    other.close();
    await closed;
    await waitFor(() => connectors().length === before, 10_000, 'nsx-connect gone');
    assert.ok(!(await client.conn.sendRequest(ListForwards)).some((x) => x.id === f.id));
    await waitFor(() =>
      new RegExp(`ports/unforward forward=${f.id} .*reason="its client went away"`).test(daemon.log()),
    );
  });
});
