// Ports without a daemon (issue 23): /proc/net tables as the kernel writes
// them, what nsx ports prints of hostile names, and the parse of each
// ports message a client sends.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseForward, parsePortsList } from '../../helper/common/ports';
import { portsTable, socketAddress } from '../../helper/common/portsFormat';
import { hexAddress, parseListening } from '../../helper/daemon/discovery/sockets';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41234 1 0000000000000000 100 0 0 10 0
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41235 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1F90 0100007F:D2A4 01 00000000:00000000 00:00000000 00000000     0        0 41236 1 0000000000000000 20 4 30 10 -1
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 51234 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000    33        0 51235 1 0000000000000000 100 0 0 10 0
`;

it('reads addresses as the kernel writes them: IPv4 in host order, IPv6 in four words, ::ffff:a.b.c.d', () => {
  assert.equal(hexAddress('0100007F'), '127.0.0.1');
  assert.equal(hexAddress('0501A8C0'), '192.168.1.5');
  assert.equal(hexAddress('00000000000000000000000001000000'), '::1');
  assert.equal(hexAddress('0000000000000000FFFF00000100007F'), '::ffff:127.0.0.1');
  assert.equal(hexAddress('B80D0120000000000000000001000000'), '2001:db8::1');
});

it('keeps listening TCP sockets only (not an established one), v4 and v6 from one or two tables', () => {
  const found = parseListening(TCP + TCP6, 'tcp');
  assert.deepEqual(
    found.map((s) => [socketAddress(s), s.uid, s.inode]),
    [
      ['127.0.0.1:8080', 0, 41234],
      ['*:22', 1000, 41235],
      ['[::1]:80', 0, 51234],
      ['*:443', 33, 51235],
    ],
  );
});

it('makes hostile process names printable in nsx ports', () => {
  const text = portsTable({
    namespaces: [
      {
        inode: 4026532201,
        label: 'web\x1b]0;owned\x07',
        initial: false,
        sockets: [
          {
            protocol: 'tcp',
            address: '0.0.0.0',
            port: 80,
            inode: 1,
            uid: 0,
            processes: [{ pid: 7, comm: 'x\u202e\nfake row', fd: 3 }],
          },
        ],
      },
    ],
  });
  assert.doesNotMatch(text, /\x1b|\x07|\u202e/);
  assert.equal(text.trimEnd().split('\n').length, 2, 'one header and one row: no forged line');
  assert.match(text, /web\\x1b]0;owned\\x07 +tcp +\*:80 +0 +x\\u202e\\x0afake row \(7\)/);
});

it('parses ports messages strictly', () => {
  assert.deepEqual(parseForward({ target: { name: 'web' }, port: 8080 }), {
    target: { name: 'web' },
    port: 8080,
    keep: false,
    anyUser: false,
  });
  for (const bad of [
    { target: { name: 'web' }, port: 0 },
    { target: { name: 'web' }, port: 70000 },
    { target: { name: '../etc' }, port: 80 },
    { target: { name: 'web' }, port: 80, address: '127.0.0.1; rm -rf /' },
    { target: { name: 'web' }, port: 80, address: '127.0.0.1\n1 10.0.0.1 22' },
    { target: { name: 'web' }, port: 80, hostPort: -1 },
    { port: 80 },
  ])
    assert.throws(() => parseForward(bad), /must|not a|needs/, JSON.stringify(bad));
  assert.deepEqual(parsePortsList(undefined), {});
  assert.deepEqual(parsePortsList({ target: { pid: 1 }, udp: false }), { target: { pid: 1, inodes: {} }, udp: false });
});
