// How nsxd tells a capture's stream connection from a JSON-RPC one by its first bytes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classify, PREAMBLE_BYTES } from '../../helper/daemon/rpc/preamble';

const TOKEN = 'ab'.repeat(32);
const line = `NSX-STREAM 1 ${TOKEN}\n`;
const kind = (text: string | Buffer) => classify(Buffer.from(text)).kind;

describe('stream preamble', () => {
  it('takes exactly the line, a byte at a time or at once', () => {
    assert.equal(PREAMBLE_BYTES, 78);
    assert.deepEqual(classify(Buffer.from(line)), { kind: 'stream', token: TOKEN });
    for (let n = 1; n < line.length; n++) assert.equal(kind(line.slice(0, n)), 'more', String(n));
  });

  it('leaves to JSON-RPC, with every byte read, whatever differs from the prefix', () => {
    for (const text of ['Content-Length: 2\r\n\r\n{}', 'NSX-STREAM 2 ', 'nsx-stream 1 ', 'NSX-STREAM  1', '\0'])
      assert.deepEqual(classify(Buffer.from(text)), { kind: 'rpc', read: Buffer.from(text) }, text);
  });

  it('refuses, once the prefix is said, anything but 64 lowercase hex digits, a newline and nothing after', () => {
    for (const bad of [
      `NSX-STREAM 1 ${TOKEN.toUpperCase()}\n`,
      `NSX-STREAM 1 ${TOKEN.slice(1)}\n`,
      `NSX-STREAM 1 ${TOKEN}\r\n`,
      `NSX-STREAM 1 ${TOKEN}\r`,
      `${line}x`,
      `NSX-STREAM 1 ${' '.repeat(64)}\n`,
      Buffer.concat([Buffer.from('NSX-STREAM 1 '), Buffer.alloc(65)]),
    ])
      assert.equal(kind(bad), 'bad', JSON.stringify(bad.toString()));
  });
});
