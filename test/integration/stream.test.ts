// A capture's stream connection: the second connection to nsxd's socket that
// presents capture/start's one-time token and then only reads the pcapng.
// Refused, with nothing sent and an audit line: a wrong token, a used one,
// an expired one, another user's connection with a valid one, a malformed
// preamble. JSON-RPC clients, whatever their first bytes, are served as ever.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CaptureEnd, CaptureEndParams, CaptureStart, streamPreamble } from '../../helper/common/capture';
import type { Client } from '../../helper/common/client';
import { createUser, Daemon, startDaemon, waitFor } from '../support';

const A = `c22sa${process.pid}`;
const B = `c22sb${process.pid}`;
const PCAPNG = Buffer.from([0x0a, 0x0d, 0x0d, 0x0a]);

/** Connects, writes BYTES (a piece at a time when split), and collects what comes until nsxd closes it. */
function raw(socket: string, bytes: string | Buffer, split = false): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createConnection(socket);
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(got)));
    s.once('connect', async () => {
      const all = Buffer.from(bytes);
      for (let i = 0; split && i < all.length; i++) {
        s.write(all.subarray(i, i + 1));
        await new Promise((r) => setTimeout(r, 2));
      }
      if (!split) s.write(all);
    });
  });
}

/** The same, as USER, in a process of theirs: the bytes it got. */
function rawAs(user: string, socket: string, bytes: string): number {
  const script = `const s = require('net').createConnection(process.argv[1]); let n = 0;
s.on('connect', () => s.write(process.argv[2])); s.on('data', (d) => (n += d.length));
s.on('error', () => undefined); s.on('close', () => console.log(n));`;
  const out = execFileSync('runuser', ['-u', user, '--', process.execPath, '-e', script, socket, bytes], {
    encoding: 'utf8',
  });
  return Number(out.trim());
}

/** How many packets (enhanced packet blocks) a pcapng holds, read block by block. */
function packetBlocks(pcapng: Buffer): number {
  let n = 0;
  for (let at = 0; at + 8 <= pcapng.length; at += pcapng.readUInt32LE(at + 4)) if (pcapng.readUInt32LE(at) === 6) n++;
  return n;
}

function ping(): void {
  execFileSync('ip', ['netns', 'exec', A, 'ping', '-c', '2', '-i', '0.2', '-W', '1', '10.222.23.2']);
}

describe('capture stream connections', { concurrency: false }, () => {
  let daemon: Daemon;
  let client: Client;
  const ends = new Map<number, (e: CaptureEndParams) => void>();
  const ended = (id: number) => new Promise<CaptureEndParams>((resolve) => ends.set(id, resolve));
  const start = (count = 2) =>
    client.conn.sendRequest(CaptureStart, {
      targets: [{ target: { pin: { type: 'net', name: B } }, interfaces: ['veth0'] }],
      filter: 'icmp',
      count,
    });

  before(async () => {
    for (const ns of [A, B]) execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['link', 'add', 'veth0', 'netns', A, 'type', 'veth', 'peer', 'name', 'veth0', 'netns', B]);
    execFileSync('ip', ['-n', A, 'addr', 'add', '10.222.23.1/24', 'dev', 'veth0']);
    execFileSync('ip', ['-n', B, 'addr', 'add', '10.222.23.2/24', 'dev', 'veth0']);
    for (const ns of [A, B]) execFileSync('ip', ['-n', ns, 'link', 'set', 'veth0', 'up']);
    daemon = await startDaemon();
    client = await daemon.client();
    client.conn.onNotification(CaptureEnd, (p) => ends.get(p.capture)?.(p));
  });
  after(async () => {
    client?.close();
    await daemon?.destroy();
    for (const ns of [A, B]) spawnSync('ip', ['netns', 'del', ns]);
  });

  it('streams the pcapng to the connection that presents the token, and refuses the token a second time', async () => {
    const { capture, token } = await start();
    assert.match(token, /^[0-9a-f]{64}$/);
    const end = ended(capture);
    const stream = raw(daemon.socket, streamPreamble(token));
    await waitFor(() => /action=capture\/stream .*result=ok/.test(daemon.log()), 5000, 'the stream taken');
    ping();
    const bytes = await stream;
    assert.deepEqual(bytes.subarray(0, 4), PCAPNG);
    assert.equal((await end).packets, 2);
    assert.equal((await raw(daemon.socket, streamPreamble(token))).length, 0, 'a used token gets nothing');
    await waitFor(() => /action=capture\/stream .*result=refused reason="no capture waits/.test(daemon.log()), 5000);
  });

  it('keeps what a capture wrote before its stream came: one that reached its count first still gives it', async () => {
    const { capture, token } = await start();
    const end = ended(capture);
    ping();
    // nsx-capture has its two packets and is gone before anyone reads it (a stream over ssh comes late).
    await waitFor(() => spawnSync('pgrep', ['-P', String(daemon.proc.pid), '-x', 'nsx-capture']).status === 1, 10_000);
    const bytes = await raw(daemon.socket, streamPreamble(token));
    assert.deepEqual(bytes.subarray(0, 4), PCAPNG);
    assert.equal(packetBlocks(bytes), 2);
    assert.equal((await end).packets, 2);
  });

  it('refuses a wrong token and a malformed preamble with nothing sent, and audits each', async () => {
    const wrong = randomBytes(32).toString('hex');
    assert.equal((await raw(daemon.socket, streamPreamble(wrong))).length, 0);
    const bad = [
      'NSX-STREAM 1 ' + 'G'.repeat(64) + '\n',
      streamPreamble(wrong) + 'x',
      streamPreamble(wrong).replace('\n', '\r'),
    ];
    for (const b of bad) assert.equal((await raw(daemon.socket, b)).length, 0, JSON.stringify(b));
    for (const reason of ['malformed stream token', 'bytes after the stream preamble', 'malformed stream preamble'])
      await waitFor(() => daemon.log().includes(`action=stream uid=0 user=root result=refused reason="${reason}"`));
  });

  it('ends a capture whose token is not presented in time, then refuses the token', async () => {
    const { capture, token } = await start();
    const end = await ended(capture);
    assert.equal(end.reason, 'failed');
    assert.match(end.error!, /no stream connection presented the capture's token within 5 s/);
    assert.equal((await raw(daemon.socket, streamPreamble(token))).length, 0);
    assert.equal(spawnSync('pgrep', ['-f', `nsx-capture .*:${B}`]).status, 1, 'no nsx-capture left');
  });

  it("refuses another user's connection presenting a valid token, which stays its owner's", async () => {
    const member = createUser({ inGroup: true });
    const outsider = createUser();
    try {
      const { capture, token } = await start();
      const end = ended(capture);
      assert.equal(rawAs(member.name, daemon.socket, streamPreamble(token)), 0);
      assert.equal(rawAs(outsider.name, daemon.socket, streamPreamble(token)), 0);
      // Said in the audit (the outsider is refused at the socket's mode: nsxd never sees it).
      const refused = `capture/stream uid=${member.uid} user=${member.name} capture=${capture} result=refused`;
      await waitFor(() => daemon.log().includes(`${refused} reason="the token is uid 0's"`));
      const stream = raw(daemon.socket, streamPreamble(token));
      await waitFor(() => new RegExp(`capture/stream uid=0 user=root capture=${capture} result=ok`).test(daemon.log()));
      ping();
      assert.deepEqual((await stream).subarray(0, 4), PCAPNG);
      assert.equal((await end).packets, 2);
    } finally {
      member.remove();
      outsider.remove();
    }
  });

  it('stops the capture when its stream connection goes, and ends the stream when its control connection goes', async () => {
    const first = await start(1000);
    const end = ended(first.capture);
    const s = createConnection(daemon.socket);
    s.write(streamPreamble(first.token));
    await waitFor(() => new RegExp(`capture=${first.capture} result=ok`).test(daemon.log()), 5000);
    s.destroy();
    assert.match((await end).reason, /stopped|output closed/);
    const other = await daemon.client();
    const second = await other.conn.sendRequest(CaptureStart, {
      targets: [{ target: { pin: { type: 'net', name: B } } }],
    });
    const stream = raw(daemon.socket, streamPreamble(second.token));
    await waitFor(() => new RegExp(`capture=${second.capture} result=ok`).test(daemon.log()), 5000);
    other.close();
    await stream;
    await waitFor(() => spawnSync('pgrep', ['-f', `nsx-capture .*:${B}`]).status === 1, 10_000, 'nsx-capture to go');
  });

  it('serves JSON-RPC clients as ever, their first bytes a piece at a time included', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'shutdown' });
    const request = `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const s = createConnection(daemon.socket);
    const answer = new Promise<string>((resolve) => {
      let text = '';
      s.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.includes('"id":1')) resolve(text);
      });
    });
    await new Promise((r) => s.once('connect', r));
    for (const c of request) {
      s.write(c);
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.match(await answer, /"result":null/);
    s.destroy();
    // NSX- and then not the prefix: JSON-RPC's reader takes it, and refuses it as before.
    assert.equal((await raw(daemon.socket, 'NSX-STREAM 2 x\r\n\r\n', true)).length, 0);
    assert.match(daemon.log(), /action=protocol .*reason="malformed message header"/);
    const c = await daemon.client();
    c.close();
  });
});
