// npm run bench:capture: packet capture under a flood, side by side with
// tcpdump -w run in the namespace, in one run on one machine. Two namespaces
// joined by a veth; a UDP flood of 1000-byte datagrams from one for a few
// seconds; captured on the other end by
//   nsx capture -w FILE   end to end: nsx-capture, nsxd piping its output into
//                         nsx's stream connection, nsx writing the file
//   nsx-capture alone     writing to a pipe (what the stream through nsxd costs)
//   tcpdump -w FILE       in the namespace (ip netns exec), with its own ring
// Each: the share of the datagrams sent that reached the file, and MB/s;
// the three take turns, ROUNDS times (NSX_BENCH_ROUNDS, 3), and the medians close.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuTime, Daemon, NSX, onStopped, startDaemon } from '../support';

const A = `c22ba${process.pid}`;
const B = `c22bb${process.pid}`;
const SECONDS = 3;
const ROUNDS = Number(process.env.NSX_BENCH_ROUNDS) || 3;
const SENDER = `
const s = require('dgram').createSocket('udp4'), buf = Buffer.alloc(1000), end = Date.now() + ${SECONDS * 1000};
let n = 0;
(function burst() {
  for (let i = 0; i < 200; i++, n++) s.send(buf, 9, '10.222.24.2');
  if (Date.now() < end) setImmediate(burst); else setTimeout(() => { console.log(n); s.close(); }, 300);
})();`;

function flood(): number {
  return Number(execFileSync('ip', ['netns', 'exec', A, process.execPath, '-e', SENDER], { encoding: 'utf8' }));
}

function topology(): void {
  for (const ns of [A, B]) execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['link', 'add', 'veth0', 'netns', A, 'type', 'veth', 'peer', 'name', 'veth0', 'netns', B]);
  execFileSync('ip', ['-n', A, 'addr', 'add', '10.222.24.1/24', 'dev', 'veth0']);
  execFileSync('ip', ['-n', B, 'addr', 'add', '10.222.24.2/24', 'dev', 'veth0']);
  for (const ns of [A, B]) execFileSync('ip', ['-n', ns, 'link', 'set', 'veth0', 'up']);
}

/** Packets in a capture file, as tcpdump counts them. */
function packets(file: string): number {
  const out = spawnSync('tcpdump', ['-r', file, '-nn', '-q'], { encoding: 'utf8', maxBuffer: 1 << 30 }).stdout;
  return out.split('\n').filter(Boolean).length;
}

interface Result {
  share: number;
  mbps: number;
  /** The CPU time WATCHED (nsxd) spent per MB of the file, in ms. */
  msPerMB?: number;
}

/** Runs a capturer for the flood; the share of what was sent that is in its file, its MB/s, and WATCH's CPU per MB. */
async function measure(
  start: (file: string) => ReturnType<typeof spawn>,
  file: string,
  watch?: number,
): Promise<Result> {
  const proc = start(file);
  const exited = new Promise((r) => proc.once('close', r));
  await new Promise((r) => setTimeout(r, 1000));
  const cpu = watch && cpuTime(watch);
  const sent = flood();
  const spent = watch && cpuTime(watch) - (cpu as number);
  // Each capturer leads a process group of its own: ^C to all of it, as a terminal would.
  process.kill(-proc.pid!, 'SIGINT');
  await exited;
  const got = packets(file);
  const mb = statSync(file).size / 1e6;
  return { share: got / sent, mbps: mb / SECONDS, ...(watch && { msPerMB: (spent as number) / mb }) };
}

type Row = [string, Result];

function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

/** Every round's rows, then each capturer's medians. */
function report(rows: Row[]): void {
  const of = (what: string) => rows.filter(([w]) => w === what).map(([, r]) => r);
  const whats = [...new Set(rows.map(([w]) => w))];
  const base = median(of(whats.find((w) => w.startsWith('tcpdump'))!).map((r) => r.share));
  const line = (what: string, share: number, mbps: number) =>
    console.log(`| ${what} | ${(share * 100).toFixed(0)}% | ${mbps.toFixed(0)} | ${(share / base).toFixed(2)}x |`);
  console.log('\n| capture of a 1000-byte UDP flood | captured | MB/s | vs tcpdump -w (median) |\n|---|---|---|---|');
  for (const [what, r] of rows) line(what, r.share, r.mbps);
  for (const what of whats)
    line(`**median** ${what}`, median(of(what).map((r) => r.share)), median(of(what).map((r) => r.mbps)));
  const cpu = rows.flatMap(([, r]) => (r.msPerMB === undefined ? [] : [r.msPerMB]));
  console.log(`\nnsxd's CPU per MB streamed end to end: ${cpu.map((c) => c.toFixed(2)).join(', ')} ms`);
}

function untopology(): void {
  for (const ns of [A, B]) spawnSync('ip', ['netns', 'del', ns]);
}

async function main(): Promise<void> {
  topology();
  let daemon: Daemon | undefined;
  onStopped(() => {
    daemon?.abandon();
    untopology();
  });
  daemon = await startDaemon();
  const dir = mkdtempSync(join(tmpdir(), 'c22-bench-'));
  try {
    const rows: Row[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      rows.push([
        'nsx capture -w FILE (end to end)',
        await measure(
          (f) =>
            spawn(NSX, ['--socket', daemon.socket, 'capture', `pin:${B}`, '-i', 'veth0', '-f', 'udp', '-w', f], {
              stdio: 'ignore',
              detached: true,
            }),
          join(dir, 'nsx.pcapng'),
          daemon.proc.pid,
        ),
      ]);
      rows.push([
        'nsx-capture alone, to a pipe',
        await measure(
          (f) => {
            const ns = openSync(`/run/netns/${B}`, 'r');
            const out = openSync(f, 'w');
            const args = ['--status-fd', '2', '--out-fd', '1', '--filter', 'udp', '--ns', `3:${B}`, '--iface', 'veth0'];
            const p = spawn('sh', ['-c', `"$0" "$@" | cat >&4`, join(__dirname, '../../nsx-capture'), ...args], {
              stdio: ['ignore', 'ignore', 'ignore', ns, out],
              detached: true,
            });
            closeSync(ns);
            closeSync(out);
            return p;
          },
          join(dir, 'alone.pcapng'),
        ),
      ]);
      rows.push([
        'tcpdump -w FILE in the namespace',
        await measure(
          (f) =>
            spawn('ip', ['netns', 'exec', B, 'tcpdump', '-i', 'veth0', '-w', f, 'udp'], {
              stdio: 'ignore',
              detached: true,
            }),
          join(dir, 'tcpdump.pcap'),
        ),
      ]);
    }
    report(rows);
  } finally {
    await daemon.destroy();
    untopology();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
