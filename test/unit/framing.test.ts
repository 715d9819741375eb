// The limits of nsxd's message reader, on a real socket pair.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { it } from 'node:test';
import type { Message } from 'vscode-jsonrpc';
import { JsonResult, SocketMessageWriter } from '../../helper/common/rpcWriter';
import { LimitedMessageReader } from '../../helper/daemon/rpc/framing';
import { socketPair as pair } from './socketPair';

function read(bytes: string | Buffer, limits = { maxMessageBytes: 100, partialTimeoutMs: 300 }) {
  return pair().then(
    ([client, server]) =>
      new Promise<{ messages: unknown[]; error?: string }>((resolve) => {
        const reader = new LimitedMessageReader(server, limits);
        const messages: unknown[] = [];
        let error: string | undefined;
        reader.onError((e) => {
          error = e.message;
        });
        reader.listen((m) => messages.push(m));
        server.on('close', () => resolve({ messages, error }));
        client.write(bytes);
        setTimeout(() => client.end(), 600);
      }),
  );
}

const frame = (body: string) => `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

it('reads messages split and joined across chunks', async () => {
  const m = '{"jsonrpc":"2.0","method":"a"}';
  const r = await read(frame(m) + frame(m));
  assert.equal(r.messages.length, 2);
  assert.equal(r.error, undefined);
});

it('refuses an oversized message without reading it', async () => {
  assert.match((await read(`Content-Length: 101\r\n\r\n{`)).error!, /exceeds the limit of 100/);
});

it('refuses malformed headers and bodies', async () => {
  assert.match((await read('Content-Length: x\r\n\r\n')).error!, /malformed Content-Length/);
  assert.match((await read('Host: evil\r\n\r\n')).error!, /unexpected header/);
  assert.match((await read(frame('{"id":1}'))).error!, /not a JSON-RPC 2.0 object/);
  assert.match((await read(frame('nope'))).error!, /not JSON/);
  assert.match((await read('A'.repeat(2000))).error!, /header too long/);
});

it('gives up on a message that never completes', async () => {
  assert.match((await read('Content-Length: 50\r\n\r\n{"jsonrpc"')).error!, /not completed within/);
});

it('reads messages split at every byte and joined, from an in-memory stream', async () => {
  const { PassThrough } = await import('node:stream');
  const body = (n: number) => `{"jsonrpc":"2.0","method":"m${n}","params":{"s":"é"}}`;
  const bytes = Buffer.from(frame(body(1)) + frame(body(2)) + frame(body(3)));
  const stream = new PassThrough();
  const reader = new LimitedMessageReader(stream as unknown as Socket, {
    maxMessageBytes: 1000,
    partialTimeoutMs: 5000,
  });
  const methods: string[] = [];
  reader.listen((m) => methods.push((m as unknown as { method: string }).method));
  // The first message one byte at a time, the other two in one chunk.
  const first = Buffer.byteLength(frame(body(1)));
  for (let i = 0; i < first; i++) stream.write(bytes.subarray(i, i + 1));
  stream.write(bytes.subarray(first));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(methods, ['m1', 'm2', 'm3']);
  reader.dispose();
  stream.destroy();
});

it('writes a result given as JSON bytes as the same message a result given as a value makes', async () => {
  const [client, server] = await pair();
  const writer = new SocketMessageWriter(client);
  const result = { namespaces: [{ type: 'uts', inode: 4026531838, hostname: 'a "quoted" ünïcode name' }] };
  const got: Buffer[] = [];
  server.on('data', (d: Buffer) => got.push(d));
  await writer.write({ jsonrpc: '2.0', id: 'seven', result } as Message);
  await writer.write({
    jsonrpc: '2.0',
    id: 'seven',
    result: new JsonResult(result),
  } as Message);
  client.end();
  await new Promise((r) => server.on('end', r));
  const text = Buffer.concat(got).toString('utf8');
  const one = frame(JSON.stringify({ jsonrpc: '2.0', id: 'seven', result }));
  assert.equal(text, one + one);
});
