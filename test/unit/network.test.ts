// The network picture's rules, without a workbench: a veth is one wire however
// its ends are numbered, bridges gather their ports, marks follow state, and
// a name is what the user calls the namespace.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { NetLink, NetList } from '../../helper/common/net';
import { buildGraph, formatRate, rates } from '../../extension/network/graph';
import { kindWords } from '../../helper/common/netWords';

const link = (over: Partial<NetLink> & Pick<NetLink, 'index' | 'name' | 'kind'>): NetLink => ({
  oper: 'up',
  adminUp: true,
  carrier: true,
  mtu: 1500,
  addresses: [],
  ...over,
});

// The host (inode 1) with a bridge and two veths on it; container web (inode 2) and db (inode 3),
// each with eth0 at ifindex 2 — the same index as one of the host's veths.
const list: NetList = {
  namespaces: [
    {
      inode: 2,
      routes: [],
      links: [
        link({ index: 1, name: 'lo', kind: 'loopback' }),
        link({
          index: 2,
          name: 'eth0',
          kind: 'veth',
          addresses: ['10.88.0.2/16'],
          other: { relation: 'peer', netns: 1, index: 2, name: 'veth-web' },
        }),
      ],
    },
    {
      inode: 1,
      routes: [],
      links: [
        link({ index: 1, name: 'lo', kind: 'loopback' }),
        link({
          index: 2,
          name: 'veth-web',
          kind: 'veth',
          master: { index: 4, name: 'podman0' },
          other: { relation: 'peer', netns: 2, index: 2, name: 'eth0' },
        }),
        link({
          index: 3,
          name: 'veth-db',
          kind: 'veth',
          mtu: 9000,
          master: { index: 4, name: 'podman0' },
          other: { relation: 'peer', netns: 3, index: 2, name: 'eth0' },
        }),
        link({ index: 4, name: 'podman0', kind: 'bridge', addresses: ['10.88.0.1/16'] }),
        link({ index: 5, name: 'tap0', kind: 'tap', carrier: false, holders: [77] }),
      ],
    },
    {
      inode: 3,
      routes: [],
      links: [
        link({
          index: 2,
          name: 'eth0',
          kind: 'veth',
          oper: 'down',
          other: { relation: 'peer', netns: 1, index: 3, name: 'veth-db' },
        }),
      ],
    },
  ],
};
const names: Record<number, string> = { 1: 'host', 2: 'web', 3: 'db' };
const graph = buildGraph(list, { nameOf: (i) => names[i], hostInode: 1, processName: (pid) => `qemu (${pid})` });

it('draws each namespace as a box in its user-facing name, the host first', () => {
  const boxes = graph.nodes.filter((n) => n.classes.includes('namespace'));
  assert.deepEqual(
    boxes.map((b) => b.label),
    ['host', 'web', 'db'],
  );
  assert.ok(boxes[0].classes.includes('host'));
});

it('draws a veth pair as one wire, even when both ends have the same ifindex', () => {
  const wires = graph.edges.filter((e) => e.classes.includes('wire'));
  assert.deepEqual(
    wires.map((w) => [w.source, w.target].sort()),
    [
      ['if:1:2', 'if:2:2'],
      ['if:1:3', 'if:3:2'],
    ],
  );
});

it('marks an MTU mismatch on the wire and says both sizes', () => {
  const wire = graph.edges.find((e) => e.classes.includes('wire') && e.id.includes('if:1:3'))!;
  assert.ok(wire.classes.includes('mismatch'));
  assert.match(wire.label, /mtu (9000 ≠ 1500|1500 ≠ 9000)/);
});

it('draws a bridge as a box around its ports, and leads a tap to the process that holds it', () => {
  const ports = graph.nodes.filter((n) => n.parent === 'if:1:4');
  assert.deepEqual(ports.map((p) => p.link).sort(), ['veth-db', 'veth-web']);
  assert.equal(graph.nodes.find((n) => n.id === 'if:1:4')!.parent, 'ns:1');
  assert.ok(graph.nodes.some((n) => n.id === 'pid:77' && n.label === 'qemu (77)'));
  assert.ok(graph.edges.some((e) => e.source === 'if:1:5' && e.target === 'pid:77'));
});

it('marks a down end and a missing carrier, and leaves loopback out unless asked', () => {
  assert.ok(graph.nodes.find((n) => n.id === 'if:3:2')!.classes.includes('down'));
  assert.ok(graph.nodes.find((n) => n.id === 'if:1:5')!.classes.includes('nocarrier'));
  assert.ok(!graph.nodes.some((n) => n.link === 'lo'));
  const withLo = buildGraph(list, { nameOf: (i) => names[i], showLoopback: true });
  assert.equal(withLo.nodes.filter((n) => n.link === 'lo').length, 2);
});

it('draws no wire to an end in a namespace it cannot see', () => {
  const lonely: NetList = {
    namespaces: [
      {
        inode: 9,
        routes: [],
        links: [link({ index: 2, name: 'eth0', kind: 'veth', other: { relation: 'peer', index: 7 } })],
      },
    ],
  };
  assert.deepEqual(buildGraph(lonely, { nameOf: () => 'x' }).edges, []);
});

it('says a kind as ip -d link does', () => {
  assert.equal(kindWords(link({ index: 1, name: 'v', kind: 'vlan', vlan: 10 })), 'vlan 10');
  assert.equal(kindWords(link({ index: 1, name: 'm', kind: 'macvlan', mode: 'bridge' })), 'macvlan bridge');
  assert.equal(kindWords(link({ index: 1, name: 'x', kind: 'other', kernelKind: 'xfrm' })), 'xfrm');
});

it('leaves out namespaces with nothing but loopback, and counts them', () => {
  const lonely: NetList = {
    namespaces: [
      ...list.namespaces,
      { inode: 4, routes: [], links: [link({ index: 1, name: 'lo', kind: 'loopback' })] },
    ],
  };
  const g = buildGraph(lonely, { nameOf: (i) => names[i] ?? 'unshare', hostInode: 1 });
  assert.equal(g.isolated, 1);
  assert.ok(!g.nodes.some((n) => n.id === 'ns:4'));
  assert.ok(buildGraph(lonely, { nameOf: () => 'x', showIsolated: true }).nodes.some((n) => n.id === 'ns:4'));
});

it('says the bytes a second on a wire from two readings of its counters, by name', () => {
  const reading = (bytes: number) => [
    { inode: 1, links: [{ name: 'veth-web', rxBytes: bytes, txBytes: bytes, rxPackets: 0, txPackets: 0 }] },
  ];
  const r = rates(list, reading(1000), reading(3000), 2);
  assert.equal(r.get('if:1:2'), 2000);
  const g = buildGraph(list, { nameOf: (i) => names[i], hostInode: 1, rates: r });
  assert.match(g.edges.find((e) => e.source === 'if:1:2')!.label, /2\.0 kB\/s/);
  assert.equal(
    rates(list, reading(3000), reading(1000), 2).size,
    0,
    'counters that went back (a new interface by that name) say nothing',
  );
  assert.equal(formatRate(999), '999 B/s');
});
