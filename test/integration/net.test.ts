// The network picture against real topologies: veth pairs (the same ifindex
// at both ends), a bridge's ports, macvlan and vlan on a veth (one macvlan
// moved to another namespace), a vxlan, a tun held by a process, a podman
// container on its bridge, a hostile name, live changes, 60 namespaces, and
// an outsider. Every namespace is an `ip netns` name starting n22, removed after.
import assert from 'node:assert/strict';
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import {
  NetChanged,
  NetChangedNotification,
  NetLink,
  NetNamespace,
  ListNet,
  ReadNetCounters,
  SubscribeNet,
  UnsubscribeNet,
} from '../../helper/common/net';
import { docker, Engine, podman } from '../engines';
import { createUser, Daemon, nsInode, nsx, startDaemon, waitFor } from '../support';

const tag = `n22${process.pid % 1000}`;
const made: string[] = [];
const MANY = 60;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
/** Whether the kernel has the link type: this machine's may lack a module (8021q) and cannot load one. */
function tryIp(...args: string[]): boolean {
  return spawnSync('ip', args, { stdio: 'ignore' }).status === 0;
}
function netns(name: string): string {
  const full = `${tag}${name}`;
  spawnSync('ip', ['netns', 'del', full], { stdio: 'ignore' });
  ip('netns', 'add', full);
  made.push(full);
  return full;
}
function inodeOf(name: string): number {
  return Number(execFileSync('stat', ['-L', '-c', '%i', `/run/netns/${name}`], { encoding: 'utf8' }).trim());
}

type Labelled = NetNamespace & { label: string };
function netJson(daemon: Daemon, ...args: string[]): Labelled[] {
  const r = nsx(daemon, ['net', '--json', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { namespaces: Labelled[] }).namespaces;
}
function link(list: NetNamespace[], ns: string, name: string): NetLink {
  const inode = inodeOf(ns);
  const l = list.find((n) => n.inode === inode)?.links.find((x) => x.name === name);
  assert.ok(l, `${name} in ${ns}`);
  return l;
}

describe('network wiring', () => {
  let daemon: Daemon;
  let a: string, b: string, br: string, lan: string, away: string, tun: string;
  let holder: ChildProcess | undefined;
  let hasVlan = false;
  let hasVxlan = false;
  let hasIpvlan = false;
  let pm: Engine | string = 'not tried';
  let dk: Engine | string = 'not tried';
  const web = `${tag}web`;
  const db = `${tag}db`;

  before(async () => {
    [a, b, br, lan, away, tun] = ['a', 'b', 'br', 'lan', 'away', 'tun'].map(netns);
    // The same ifindex (2) at both ends of a veth.
    ip('-n', a, 'link', 'add', 'name', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b);
    ip('-n', a, 'addr', 'add', '10.222.1.1/24', 'dev', 'eth0');
    ip('-n', a, 'link', 'set', 'dev', 'eth0', 'up');
    ip('-n', a, 'route', 'add', 'default', 'via', '10.222.1.2');
    ip('-n', br, 'link', 'add', 'name', 'br0', 'type', 'bridge');
    for (const i of [1, 2, 3]) {
      ip('-n', br, 'link', 'add', 'name', `p${i}`, 'type', 'veth', 'peer', 'name', `q${i}`);
      ip('-n', br, 'link', 'set', 'dev', `p${i}`, 'master', 'br0');
    }
    ip('-n', lan, 'link', 'add', 'name', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
    ip('-n', lan, 'link', 'add', 'link', 'v0', 'name', 'mv0', 'type', 'macvlan', 'mode', 'bridge');
    hasVlan = tryIp('-n', lan, 'link', 'add', 'link', 'v0', 'name', 'v0.10', 'type', 'vlan', 'id', '10');
    ip('-n', lan, 'link', 'add', 'link', 'v0', 'name', 'mvx', 'type', 'macvlan', 'mode', 'private');
    ip('-n', lan, 'link', 'set', 'dev', 'mvx', 'netns', away);
    hasIpvlan = tryIp('-n', lan, 'link', 'add', 'link', 'v1', 'name', 'ipv0', 'type', 'ipvlan', 'mode', 'l3');
    hasVxlan = tryIp(
      '-n',
      lan,
      'link',
      'add',
      'name',
      'vx0',
      'type',
      'vxlan',
      'id',
      '42',
      'dev',
      'v0',
      'dstport',
      '4789',
    );
    // A tun device that exists only while a process holds it open.
    holder = spawn('ip', ['netns', 'exec', tun, 'python3', '-c', TUN_HOLDER], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((ok) => holder!.stdout!.once('data', ok));
    pm = await podman();
    if (typeof pm !== 'string') pm.run(web, []);
    dk = await docker();
    if (typeof dk !== 'string') dk.run(db, []);
    daemon = await startDaemon();
  });

  after(async () => {
    holder?.kill('SIGKILL');
    await daemon?.destroy();
    for (const [e, name] of [
      [pm, web],
      [dk, db],
    ] as const) {
      if (typeof e === 'string') continue;
      e.remove(name);
      e.stop();
    }
    for (const name of made) spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  });

  it('resolves a veth pair with the same ifindex at both ends, with addresses and the default route', () => {
    const list = netJson(daemon);
    const ea = link(list, a, 'eth0');
    const eb = link(list, b, 'eth0');
    assert.equal(ea.index, eb.index);
    assert.equal(ea.kind, 'veth');
    assert.deepEqual(ea.other, { relation: 'peer', netns: inodeOf(b), index: eb.index, name: 'eth0' });
    assert.deepEqual(eb.other, { relation: 'peer', netns: inodeOf(a), index: ea.index, name: 'eth0' });
    assert.ok(ea.addresses.includes('10.222.1.1/24'));
    const nsA = list.find((n) => n.inode === inodeOf(a))!;
    assert.equal(nsA.label, a);
    assert.equal(nsA.defaultGateway, '10.222.1.2');
    assert.ok(nsA.routes.some((r) => r.dst === '10.222.1.0/24' && r.devName === 'eth0'));
    assert.equal(eb.adminUp, false);
  });

  it('shows a net namespace’s interfaces, other ends and routes in Details, from the wiring', () => {
    const r = nsx(daemon, ['details', `net:${inodeOf(a)}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /# interfaces, their addresses and other ends\nIFACE/);
    assert.match(r.stdout, new RegExp(`eth0 +veth .*10\\.222\\.1\\.1/24.*↔ eth0 \\(${b}\\)`));
    assert.match(r.stdout, /# routes, main table \(default gateway 10\.222\.1\.2\)\nDESTINATION/);
    assert.ok(!r.stdout.includes('link-netnsid'), 'not ip’s text');
  });

  it('names a bridge and its three ports, each port with its peer in the same namespace', () => {
    const list = netJson(daemon, br);
    assert.equal(list.length, 1);
    assert.equal(link(list, br, 'br0').kind, 'bridge');
    for (const i of [1, 2, 3]) {
      const p = link(list, br, `p${i}`);
      assert.equal(p.master?.name, 'br0');
      assert.equal(p.other?.name, `q${i}`);
      assert.equal(p.other?.netns, inodeOf(br));
    }
  });

  it('gives macvlan, vlan and vxlan their parent and underlay, across namespaces too', (t) => {
    const list = netJson(daemon);
    const mv = link(list, lan, 'mv0');
    assert.equal(mv.kind, 'macvlan');
    assert.equal(mv.mode, 'bridge');
    assert.deepEqual(mv.other, {
      relation: 'parent',
      netns: inodeOf(lan),
      index: link(list, lan, 'v0').index,
      name: 'v0',
    });
    if (hasVlan) {
      const vlan = link(list, lan, 'v0.10');
      assert.equal(vlan.kind, 'vlan');
      assert.equal(vlan.vlan, 10);
      assert.equal(vlan.other?.name, 'v0');
    } else t.diagnostic('this kernel has no vlan link type (8021q): not checked');
    if (hasVxlan) {
      const vx = link(list, lan, 'vx0');
      assert.equal(vx.kind, 'vxlan');
      assert.equal(vx.vni, 42);
      assert.equal(vx.other?.relation, 'underlay');
      assert.equal(vx.other?.name, 'v0');
    } else t.diagnostic('this kernel has no vxlan link type: not checked');
    if (hasIpvlan) {
      const ipv = link(list, lan, 'ipv0');
      assert.equal(ipv.kind, 'ipvlan');
      assert.equal(ipv.mode, 'l3');
      assert.equal(ipv.other?.name, 'v1');
    } else t.diagnostic('this kernel has no ipvlan link type: not checked');
    const moved = link(list, away, 'mvx');
    assert.equal(moved.mode, 'private');
    assert.deepEqual(moved.other, {
      relation: 'parent',
      netns: inodeOf(lan),
      index: link(list, lan, 'v0').index,
      name: 'v0',
    });
  });

  it('says which process holds a tun device', () => {
    const list = netJson(daemon, tun);
    const t = link(list, tun, 'n22tun0');
    assert.equal(t.kind, 'tun');
    assert.ok(t.holders?.includes(holder!.pid!) || t.holders?.length, JSON.stringify(t));
    const text = nsx(daemon, ['net', tun]).stdout;
    assert.match(text, /n22tun0 +tun .*held by python3 \(\d+\)/);
  });

  it('prints a podman container’s eth0 with its host veth on the bridge', (t) => {
    if (typeof pm === 'string') return t.skip(pm);
    const r = nsx(daemon, ['net', web]);
    assert.equal(r.code, 0, r.stderr);
    const line = r.stdout.split('\n').find((l) => l.startsWith(web) && / eth0 /.test(l));
    assert.match(line ?? '', /veth +up +10\.\d+\.\d+\.\d+\/\d+.*↔ \S+ on \S+ \(host\)/, r.stdout);
    const host = nsx(daemon, ['net', 'host']).stdout;
    assert.match(host, new RegExp(`veth .*↔ eth0 \\(${web}\\)`), host);
  });

  it('prints a Docker container’s eth0 with its host veth on docker0', (t) => {
    if (typeof dk === 'string') return t.skip(dk);
    const r = nsx(daemon, ['net', db]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`${db} +eth0 +veth +up +172\\.\\d+\\.\\d+\\.\\d+/\\d+ +↔ veth\\w+ on docker0 \\(host\\)`),
      r.stdout,
    );
  });

  it('escapes a hostile interface name in nsx net and keeps its bytes in --json', () => {
    const name = 'q"\\\x1b[31mz';
    ip('-n', b, 'link', 'add', 'name', name, 'type', 'veth', 'peer', 'name', 'plain');
    const list = netJson(daemon, b);
    const l = list[0].links.find((x) => x.name === name);
    assert.ok(l, JSON.stringify(list[0].links.map((x) => x.name)));
    const text = nsx(daemon, ['net', b]).stdout;
    assert.ok(!text.includes('\x1b'), 'no escape byte reaches the terminal');
    assert.ok(text.includes('q"\\\\x1b[31mz') || text.includes('q"\\x1b[31mz'), text);
    // A name that is not UTF-8: shown with U+FFFD, its bytes exact in nameHex.
    execFileSync('bash', ['-c', `ip -n ${b} link add name $'bad\\xff' type veth peer name fine`]);
    const bad = netJson(daemon, b)[0].links.find((x) => x.nameHex === '626164ff');
    assert.equal(bad?.name, 'bad\ufffd');
    const dot = nsx(daemon, ['net', b, '--dot']).stdout;
    assert.ok(!dot.includes('\x1b'));
    assert.match(dot, /^graph nsx_net \{/);
  });

  it('sends a link change to a subscriber', async () => {
    const client = await daemon.client();
    try {
      const changes: NetChanged[] = [];
      client.conn.onNotification(NetChangedNotification, (c) => void changes.push(c));
      const first = await client.conn.sendRequest(SubscribeNet);
      assert.ok(first.namespaces.some((n) => n.inode === inodeOf(a)));
      ip('-n', a, 'link', 'set', 'dev', 'eth0', 'mtu', '1400');
      await waitFor(() =>
        changes.some((c) => c.changed.some((n) => n.links.some((l) => l.name === 'eth0' && l.mtu === 1400))),
      );
      // The peer's side follows: its other end is now up.
      ip('-n', b, 'link', 'set', 'dev', 'eth0', 'up');
      await waitFor(() =>
        changes.some((c) =>
          c.changed.some((n) => n.inode === inodeOf(b) && n.links.some((l) => l.name === 'eth0' && l.adminUp)),
        ),
      );
      // A namespace made now comes with the process events that hold it.
      const late = netns('late');
      const lateInode = inodeOf(late);
      await waitFor(() => changes.some((c) => c.changed.some((n) => n.inode === lateInode)), 40_000);
      // Deleted, it is let go at once: its veth's other end (in a) goes with it, and it is reported gone.
      ip('-n', late, 'link', 'add', 'name', 'gone0', 'type', 'veth', 'peer', 'name', 'lateveth', 'netns', a);
      await waitFor(() => changes.some((c) => c.changed.some((n) => n.links.some((l) => l.name === 'lateveth'))));
      ip('netns', 'del', late);
      await waitFor(() => changes.some((c) => c.removed.includes(lateInode)), 10_000, 'the deleted namespace gone');
      await waitFor(
        () => spawnSync('ip', ['-n', a, 'link', 'show', 'dev', 'lateveth'], { stdio: 'ignore' }).status !== 0,
        10_000,
        'the veth end left in a to go with it',
      );
    } finally {
      // Nothing in flight at close: vscode-jsonrpc's reader re-arms a timer forever for a half-read message.
      await client.conn.sendRequest(UnsubscribeNet).catch(() => undefined);
      client.close();
    }
  });

  it('lets every namespace go once no one is subscribed and a client died', async () => {
    const client = await daemon.client();
    await client.conn.sendRequest(SubscribeNet);
    const helper = () => spawnSync('pgrep', ['-P', String(daemon.proc.pid), '-x', 'nsx-net']).status === 0;
    assert.ok(helper(), 'nsx-net runs while someone subscribes');
    // The client dies without unsubscribing.
    client.close();
    await waitFor(() => !helper(), 15_000, 'nsx-net to end, and with it every socket it held');
  });

  it(`wires ${MANY} namespaces, each to a hub`, () => {
    const hub = netns('hub');
    for (let i = 0; i < MANY; i++) {
      const leaf = netns(`m${i}`);
      ip('-n', hub, 'link', 'add', 'name', `h${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', leaf);
    }
    const list = netJson(daemon);
    for (let i = 0; i < MANY; i++) {
      const h = link(list, hub, `h${i}`);
      assert.equal(h.other?.netns, inodeOf(`${tag}m${i}`), `h${i}: ${JSON.stringify(h)}\n${daemon.log().slice(-2000)}`);
      assert.equal(link(list, `${tag}m${i}`, 'eth0').other?.name, `h${i}`);
    }
    const text = nsx(daemon, ['net', hub]).stdout;
    assert.match(text, new RegExp(`h7 +veth +down +- +↔ eth0 \\(${tag}m7\\)`));
  });

  it('caps a namespace at 512 links and says how many it left out', () => {
    const big = netns('big');
    const pairs = Array.from({ length: 300 }, (_, i) => `link add name a${i} type veth peer name b${i}\n`).join('');
    execFileSync('ip', ['-n', big, '-batch', '-'], { input: pairs });
    const [ns] = netJson(daemon, big);
    assert.equal(ns.links.length, 512);
    assert.deepEqual(ns.cut, { links: 601 - 512, addresses: 0, routes: 0 });
    assert.match(nsx(daemon, ['net', big]).stdout, /89 links, 0 addresses and 0 routes not shown: over nsxd's limit/);
  });

  it('refuses an outsider and serves a member', () => {
    const outsider = createUser();
    const member = createUser({ inGroup: true });
    try {
      const r = nsx(daemon, ['net'], { user: outsider.name });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /permission denied|access denied/);
      assert.equal(r.stdout, '');
      const m = nsx(daemon, ['net', a], { user: member.name });
      assert.equal(m.code, 0, m.stderr);
      assert.match(m.stdout, /eth0 +veth/);
    } finally {
      outsider.remove();
      member.remove();
    }
  });

  it('says what it cannot find in the user’s words', () => {
    const r = nsx(daemon, ['net', 'no-such-thing']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no network namespace is called "no-such-thing"/);
    assert.ok(nsInode('self', 'net') > 0);
  });

  it('reads counters now, through a process in the namespace, for the rates on wires', async () => {
    ip('-n', b, 'addr', 'add', '10.222.1.2/24', 'dev', 'eth0');
    ip('-n', b, 'link', 'set', 'dev', 'eth0', 'up');
    const member = spawn('ip', ['netns', 'exec', a, 'sleep', '60'], { stdio: 'ignore' });
    const client = await daemon.client();
    try {
      const read = async () => {
        const { namespaces } = await client.conn.sendRequest(ReadNetCounters, { inodes: [inodeOf(a), inodeOf(b)] });
        return namespaces.find((n) => n.inode === inodeOf(a))?.links.find((l) => l.name === 'eth0');
      };
      const before = (await waitFor(read))!;
      spawnSync('ip', ['netns', 'exec', a, 'ping', '-c', '3', '-i', '0.2', '-W', '1', '10.222.1.2'], {
        stdio: 'ignore',
      });
      const after = (await read())!;
      assert.ok(after.txBytes > before.txBytes && after.rxBytes > before.rxBytes, JSON.stringify({ before, after }));
      const all = await client.conn.sendRequest(ReadNetCounters, { inodes: [inodeOf(b)] });
      assert.deepEqual(all.namespaces, [], 'b has no process to read through: nothing, not a guess');
      // Malformed asks are refused in words, for the wiring and the counters alike.
      for (const method of [ReadNetCounters.method, ListNet.method])
        for (const bad of [{ inodes: 'all' }, { inodes: [-1] }, { inodes: Array(5000).fill(1) }])
          await assert.rejects(client.conn.sendRequest(method, bad), /inodes|inode/);
    } finally {
      member.kill();
      client.close();
    }
  });
});

/** Opens /dev/net/tun as n22tun0 (TUNSETIFF, IFF_TUN | IFF_NO_PI), says so, and holds it. */
const TUN_HOLDER = `
import fcntl, os, struct, sys, time
fd = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack('16sH', b'n22tun0', 0x0001 | 0x1000))
sys.stdout.write('ready\\n'); sys.stdout.flush()
time.sleep(600)
`;
