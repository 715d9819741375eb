// The network picture's pure parts: what nsx-net writes read back (names as
// bytes, kinds, modes), other ends resolved from nsids, and the words and
// escapes of nsx net.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { netDot, netTable } from '../../helper/cli/net';
import { NetList } from '../../helper/common/net';
import type { Snapshot } from '../../helper/common/protocol';
import { decodeName, decodeNet, linkKind, RawNet } from '../../helper/daemon/discovery/netDecode';
import { NsidBook, resolve } from '../../helper/daemon/discovery/netPeers';

/** A line as nsx-net writes it: every byte above 0x7e as \u00XX. */
function nsxNetLine(id: number, inode: number, links: string): Record<string, unknown> {
  return JSON.parse(`{"id":${id},"inode":${inode},"links":[${links}],"addrs":[[2,"10.0.0.1/24"]],"routes":[]}`);
}

describe('nsx-net lines', () => {
  it('reads names as the bytes they are: UTF-8 decoded, anything else kept in nameHex', () => {
    assert.deepEqual(decodeName('caf\u00c3\u00a9'), { name: 'café' });
    assert.deepEqual(decodeName('a\u00ffb'), { name: 'a\ufffdb', nameHex: '61ff62' });
    const raw = decodeNet(
      nsxNetLine(
        1,
        5,
        '{"index":2,"flags":1,"arptype":1,"name":"q\\"\\\\\\u001b[31m","kind":"veth","link":2,"linkNsid":0}',
      ),
    );
    assert.equal(raw?.links[0].name, 'q"\\\x1b[31m');
    assert.equal(raw?.links[0].linkNsid, 0);
    assert.equal(raw?.links[0].relation, 'peer');
  });

  it('names kinds, modes and states as the contract says', () => {
    assert.equal(linkKind('tun', 1, 0, 2), 'tap');
    assert.equal(linkKind('tun', 1, 0, 1), 'tun');
    assert.equal(linkKind(undefined, 772, 8), 'loopback');
    assert.equal(linkKind(undefined, 1, 0), 'physical');
    assert.equal(linkKind('ifb', 1, 0), 'other');
    const raw = decodeNet(
      nsxNetLine(
        1,
        5,
        '{"index":3,"flags":65537,"arptype":1,"name":"mv","kind":"macvlan","mode":4,"link":2,"oper":6,"mtu":1500}',
      ),
    )!;
    assert.equal(raw.links[0].mode, 'bridge');
    assert.equal(raw.links[0].oper, 'up');
    assert.equal(raw.links[0].relation, 'parent');
    assert.equal(
      decodeNet({ id: 3, error: 'cannot open the namespace: No such file' })?.error,
      'cannot open the namespace: No such file',
    );
    assert.equal(decodeNet({ nsids: 1 }), undefined);
  });
});

describe('other ends', () => {
  const a = (): RawNet =>
    decodeNet(
      nsxNetLine(1, 100, '{"index":2,"flags":1,"arptype":1,"name":"eth0","kind":"veth","link":2,"linkNsid":0}'),
    )!;
  const b = (): RawNet =>
    decodeNet(
      nsxNetLine(2, 200, '{"index":2,"flags":1,"arptype":1,"name":"eth0","kind":"veth","link":2,"linkNsid":5}'),
    )!;

  it('asks about candidates only, then resolves both ends of a veth from one answer', () => {
    const states = new Map([
      [1, a()],
      [2, b()],
    ]);
    const book = new NsidBook();
    const first = resolve(states, book, new Map());
    assert.deepEqual(first.ask.get(1), [2]);
    assert.equal(first.namespaces[0].links[0].other?.netns, undefined);
    book.set(1, 0, 2); // the kernel's answer: namespace 1 calls namespace 2 by nsid 0
    const second = resolve(states, book, new Map());
    assert.deepEqual(second.namespaces[0].links[0].other, { relation: 'peer', netns: 200, index: 2, name: 'eth0' });
    assert.equal(book.get(2, 5), 1, 'the other side follows');
    const third = resolve(states, book, new Map());
    assert.equal(third.ask.size, 0);
    assert.equal(third.namespaces[1].links[0].other?.netns, 100);
    assert.deepEqual(third.namespaces[0].links[0].addresses, ['10.0.0.1/24']);
    book.drop(2);
    assert.equal(book.get(1, 0), undefined);
  });
});

describe('nsx net words', () => {
  const snapshot = {
    namespaces: [{ type: 'net', inode: 100, pids: [], holders: [], initial: true, pins: [] }],
    processes: [],
    containers: [],
    scanMs: 0,
  } as unknown as Snapshot;
  const list: NetList = {
    namespaces: [
      {
        inode: 100,
        routes: [],
        links: [
          {
            index: 2,
            name: 'e"\x1b]0;x\x07',
            kind: 'veth',
            oper: 'up',
            adminUp: true,
            carrier: true,
            mtu: 1500,
            addresses: ['10.0.0.1/24'],
            other: { relation: 'peer', netns: 100, index: 3, name: 'f' },
          },
          {
            index: 3,
            name: 'f',
            kind: 'veth',
            oper: 'down',
            adminUp: false,
            carrier: false,
            mtu: 1500,
            addresses: [],
            master: { index: 4, name: 'br0' },
          },
        ],
      },
    ],
  };

  it('escapes every name in the table and in Graphviz', () => {
    const text = netTable(list, snapshot);
    assert.ok(!text.includes('\x1b') && !text.includes('\x07'), text);
    assert.match(text, /host +e"\\x1b\]0;x\\x07 +veth +up +10\.0\.0\.1\/24 +↔ f on br0 \(here\)/);
    assert.match(text, /host +f +veth +down +- +port of br0/);
    const dot = netDot(list, snapshot);
    assert.ok(dot.includes('label="e\\"\\\\x1b]0;x\\\\x07\\nveth"'), dot);
    assert.ok(!dot.includes('\x1b'));
  });
});
