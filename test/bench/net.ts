// The network picture's figures: the wiring of N namespaces (each a veth to
// a hub) by `nsx net --json` end to end, cold (nsx-net started) and warm,
// against what a user runs today (`ip -n NAME -j link` and `-j addr` for
// each) and against a C floor (nsx-net alone, fed every namespace); a link
// change to a subscriber (median, p90); nsxd's and nsx-net's memory.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NetChanged, NetChangedNotification, SubscribeNet, UnsubscribeNet } from '../../helper/common/net';
import type { Client } from '../../helper/common/client';
import { Daemon, DIST, onStopped, startDaemon, waitFor } from '../support';
import { Figures, median, pct, Show } from './figures';

type Row = Figures['row'];
const inMs: Show = (v) => `${v.toFixed(0)} ms`;
const faster: Show = (v) => `${v.toFixed(1)}× faster`;

const N = Number(process.env.NSX_BENCH_NET ?? 500);
const PREFIX = 'n22b';
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

function build(): string[] {
  const names = Array.from({ length: N }, (_, i) => `${PREFIX}${i}`);
  teardown(names);
  const hub = `${PREFIX}hub`;
  execFileSync('ip', ['-batch', '-'], { input: [hub, ...names].map((n) => `netns add ${n}\n`).join('') });
  const links = names.map((n, i) => `link add name h${i} type veth peer name eth0 netns ${n}\n`).join('');
  execFileSync('ip', ['-n', hub, '-batch', '-'], { input: links });
  return [hub, ...names];
}

function teardown(names: string[]): void {
  const all = [`${PREFIX}hub`, ...names];
  spawnSync('ip', ['-batch', '-', '-force'], {
    input: all.map((n) => `netns del ${n}\n`).join(''),
    stdio: ['pipe', 'ignore', 'ignore'],
  });
}

/** What a user runs today: two ip commands a namespace. */
function ipEach(names: string[]): number {
  const t0 = process.hrtime.bigint();
  for (const n of names) {
    execFileSync('ip', ['-n', n, '-j', 'link'], { stdio: ['ignore', 'ignore', 'ignore'] });
    execFileSync('ip', ['-n', n, '-j', 'addr'], { stdio: ['ignore', 'ignore', 'ignore'] });
  }
  return ms(t0);
}

/** nsx-net alone, fed every namespace by path: the floor under nsxd's part. */
async function floor(names: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  const child = spawn(join(DIST, 'nsx-net'), [], { stdio: ['pipe', 'pipe', 'inherit'] });
  let lines = 0;
  const done = new Promise<void>((ok) =>
    child.stdout.on('data', (d: Buffer) => {
      for (const b of d) if (b === 10 && ++lines === names.length) ok();
    }),
  );
  child.stdin.write(names.map((n, i) => `A ${i + 1} /run/netns/${n}\n`).join(''));
  await done;
  const t = ms(t0);
  child.kill();
  return t;
}

function nsxNet(socket: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(join(DIST, 'nsx'), ['--socket', socket, 'net', '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 30,
  });
  if (r.status !== 0) throw new Error('nsx net failed');
  return ms(t0);
}

/** From `ip link set` to the subscriber's net/changed with the new MTU, 20 times. */
async function changeLatency(client: Client, netns: string): Promise<number[]> {
  const changes: { at: bigint; change: NetChanged }[] = [];
  client.conn.onNotification(
    NetChangedNotification,
    (change) => void changes.push({ at: process.hrtime.bigint(), change }),
  );
  await client.conn.sendRequest(SubscribeNet);
  const lat: number[] = [];
  for (let i = 0; i < 20; i++) {
    const mtu = 1300 + i;
    const t0 = process.hrtime.bigint();
    execFileSync('ip', ['-n', netns, 'link', 'set', 'dev', 'eth0', 'mtu', String(mtu)]);
    const hit = await waitFor(() =>
      changes.find((x) => x.change.changed.some((n) => n.links.some((l) => l.name === 'eth0' && l.mtu === mtu))),
    );
    lat.push(Number(hit.at - t0) / 1e6);
  }
  return lat;
}

export async function benchNet(row: Row): Promise<void> {
  console.log(`\nwiring ${N} network namespaces (a veth each to a hub)…`);
  const names = build();
  let started: Daemon | undefined;
  const off = onStopped(() => {
    started?.abandon();
    teardown(names.slice(1));
  });
  const daemon = (started = await startDaemon());
  try {
    const cold = nsxNet(daemon.socket);
    const warm = median([nsxNet(daemon.socket), nsxNet(daemon.socket), nsxNet(daemon.socket)]);
    const ip = ipEach(names.slice(1));
    const c = await floor(names);
    const ipShow = (n: number) => (v: number) => `ip -n -j link+addr ×${n}: ${v.toFixed(0)} ms`;
    row(`wiring of ${N} namespaces, nsx net --json (cold)`, [cold, inMs], [ip, ipShow(N)], [ip / cold, faster]);
    row(`wiring of ${N} namespaces, nsx net --json (warm)`, [warm, inMs], [ip, ipShow(N)], [ip / warm, faster]);
    row(
      `wiring of ${N} namespaces, C floor (nsx-net alone)`,
      [cold, inMs],
      [c, (v) => `nsx-net: ${v.toFixed(0)} ms`],
      [cold / c, (v) => `${v.toFixed(1)}× the floor`],
    );
    const client = await daemon.client();
    const lat = await changeLatency(client, names[1]);
    row('a link change to a subscriber (ip link set included), median', [median(lat), inMs]);
    row('a link change to a subscriber (ip link set included), p90', [pct(lat, 0.9), inMs]);
    const helper = Number(
      execFileSync('pgrep', ['-P', String(daemon.proc.pid), 'nsx-net'], { encoding: 'utf8' })
        .trim()
        .split('\n')[0],
    );
    row(
      `memory with ${N} namespaces wired`,
      [rssKb(daemon.proc.pid!) / 1024, (v) => `${v.toFixed(0)} MiB`],
      [rssKb(helper) / 1024, (v) => `nsx-net ${v.toFixed(1)} MiB`],
    );
    await client.conn.sendRequest(UnsubscribeNet);
    client.close();
  } finally {
    off();
    await daemon.destroy();
    teardown(names.slice(1));
  }
}
