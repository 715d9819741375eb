// npm run bench:ports: a forward against a direct loopback connection inside
// the namespace, side by side in one run. A Node server in an `unshare -n`
// namespace counts what it is sent (throughput) or answers one byte at once
// (connect latency); the same client runs inside the namespace (nsenter,
// straight to 127.0.0.1:9000) and on the host, through nsx forward.
import { spawn, spawnSync } from 'node:child_process';
import { Daemon, onStopped, startDaemon, waitFor } from '../support';
import { connect } from '../../helper/common/client';
import { ForwardPort } from '../../helper/common/ports';

const MB = Number(process.env.NSX_BENCH_MB ?? 100);
const CONNECTS = Number(process.env.NSX_BENCH_CONNECTS ?? 300);

const SERVER = `
const net = require('net');
net.createServer((s) => { s.write('x'); let n = 0; s.on('data', (d) => (n += d.length)); s.on('end', () => s.end(String(n))); s.on('error', () => {}); })
  .listen(9000, '127.0.0.1', () => console.log('ready'));`;

// argv: port, MB, connects. Prints JSON: { mbps, medianMs, p99Ms }.
const CLIENT = `
const net = require('net');
const [port, mb, connects] = process.argv.slice(1).map(Number);
const once = () => new Promise((resolve, reject) => {
  const t = process.hrtime.bigint();
  const s = net.connect(port, '127.0.0.1');
  s.once('data', () => { resolve(Number(process.hrtime.bigint() - t) / 1e6); s.destroy(); });
  s.on('error', reject);
});
const bulk = () => new Promise((resolve, reject) => {
  const s = net.connect(port, '127.0.0.1');
  const chunk = Buffer.alloc(256 * 1024, 7);
  let left = mb * 1024 * 1024, got = '', first = true;
  const t = process.hrtime.bigint();
  const pump = () => { while (left > 0) { left -= chunk.length; if (!s.write(chunk)) return s.once('drain', pump); } s.end(); };
  s.on('data', (d) => { if (first) { first = false; d = d.subarray(1); } got += d; });
  s.on('end', () => { const sec = Number(process.hrtime.bigint() - t) / 1e9; if (Number(got) !== mb * 1024 * 1024) reject(new Error('lost bytes: ' + got)); resolve((mb * 8) / sec * 1.048576); });
  s.on('error', reject);
  s.on('connect', pump);
});
(async () => {
  for (let i = 0; i < 20; i++) await once();
  const times = [];
  for (let i = 0; i < connects; i++) times.push(await once());
  times.sort((a, b) => a - b);
  const mbps = await bulk();
  console.log(JSON.stringify({ mbps, medianMs: times[times.length >> 1], p99Ms: times[Math.floor(times.length * 0.99)] }));
})().catch((e) => { console.error(e.message); process.exit(1); });`;

interface Figures {
  mbps: number;
  medianMs: number;
  p99Ms: number;
}

function client(prefix: string[], port: number): Figures {
  const argv = [...prefix, process.execPath, '-e', CLIENT, String(port), String(MB), String(CONNECTS)];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`the client failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function main(): Promise<void> {
  const server = spawn('unshare', ['-n', 'sh', '-c', `ip link set lo up; exec "${process.execPath}" -e "$0"`, SERVER], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let daemon: Daemon | undefined;
  onStopped(() => {
    server.kill('SIGKILL');
    daemon?.abandon();
  });
  daemon = await startDaemon();
  const c = await connect(daemon.socket, 'bench');
  try {
    let out = '';
    server.stdout!.on('data', (d) => (out += d));
    await waitFor(() => out.includes('ready'), 10_000, 'the server');
    const pid =
      Number(spawnSync('pgrep', ['-P', String(server.pid)], { encoding: 'utf8' }).stdout.trim()) || server.pid!;
    const f = await c.conn.sendRequest(ForwardPort, { target: { pid }, port: 9000 });
    const direct = client(['nsenter', '-n', '-t', String(pid)], 9000);
    const forwarded = client([], f.hostPort);
    const row = (name: string, x: Figures) =>
      `${name.padEnd(34)} ${x.mbps.toFixed(0).padStart(7)} Mbit/s   connect median ${x.medianMs.toFixed(3)} ms, p99 ${x.p99Ms.toFixed(3)} ms`;
    console.log(`ports: ${MB} MB one way, ${CONNECTS} connects to a first byte`);
    console.log(row('direct, inside the namespace', direct));
    console.log(row('through nsx forward, from the host', forwarded));
    console.log(
      `ratio: throughput ${(forwarded.mbps / direct.mbps).toFixed(2)}x, connect latency ${(forwarded.medianMs / direct.medianMs).toFixed(1)}x (median)`,
    );
  } finally {
    c.close();
    server.kill('SIGKILL');
    await daemon.destroy();
  }
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
