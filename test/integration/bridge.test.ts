// nsx bridge alone: stdin to nsxd's socket and nsxd's answers to stdout, byte
// for byte; the end of its input passed on; it ends when nsxd's side does.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Daemon, NSX, startDaemon } from '../support';
import { PROTOCOL_VERSION } from '../../helper/common/protocol';

function frame(body: object): Buffer {
  const text = JSON.stringify(body);
  return Buffer.from(`Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
}

describe('nsx bridge', { timeout: 60_000 }, () => {
  let daemon: Daemon;
  before(async () => {
    daemon = await startDaemon();
  });
  after(() => daemon.destroy());

  it("relays both ways, passes the end of its input on, and ends with nsxd's side", async () => {
    const proc = spawn(NSX, ['--socket', daemon.socket, 'bridge'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    proc.stdout.on('data', (d: Buffer) => out.push(d));
    const exited = new Promise<number | null>((r) => proc.once('exit', r));
    const init = frame({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { processId: 1, capabilities: {}, initializationOptions: { protocolVersion: PROTOCOL_VERSION } },
    });
    // Split mid-header: a relay that framed or parsed anything would stall or garble here.
    proc.stdin.write(init.subarray(0, 7));
    await new Promise((r) => setTimeout(r, 100));
    proc.stdin.write(init.subarray(7));
    await new Promise<void>((resolve) => {
      const check = () => (Buffer.concat(out).includes('"id":1') ? resolve() : setTimeout(check, 20));
      check();
    });
    assert.match(Buffer.concat(out).toString(), /^Content-Length: \d+\r\n\r\n\{"jsonrpc":"2.0","id":1,"result"/);
    proc.stdin.end(); // nsxd sees the end, closes its side, and the bridge ends
    assert.equal(await exited, 0);
  });

  it('says why when there is no nsxd', async () => {
    const proc = spawn(NSX, ['--socket', '/nonexistent/nsxd.sock', 'bridge'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((r) => proc.once('exit', r));
    assert.equal(code, 1);
    assert.match(err, /^nsx bridge: cannot reach nsxd at \/nonexistent\/nsxd.sock: No such file or directory/);
  });
});
