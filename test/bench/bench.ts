// npm run bench: nsxd measured side by side with what people would run
// otherwise, on the same machine in the same run, printed as ratios. Each
// size is measured NSX_BENCH_RUNS times (3), each run with a fresh nsxd; the
// table gives each figure's median and its spread (test/bench/figures.ts).
//   small host: `nsx list` end to end (a whole CLI run), from the model events keep and
//              with --rescan, vs `lsns`, on the machine as it is
//   discovery: `nsx list --json` end to end and namespaces/list, each from the model
//              events keep and as a full scan, vs lsns -J and a plain C /proc scan, at
//              2,000, 7,000 and 20,000 processes (13 a set of namespaces); nsxd's peak
//              memory at each, from a fresh nsxd
//   process events: a process starting in a new namespace, and its exit, to the change
//              at a subscriber, at each size; then nsxd's CPU with a subscriber and
//              nothing changing, right after that burst
//   the extension, at the largest size: a process starting in a new namespace, and its
//              exit, to the Namespaces view redrawn with it (test/bench/render.ts, in a
//              real workbench), vs what one lsns -J takes to show the same
//   terminals, at the middle size: request → first output byte vs nsenter -a; relay
//              throughput vs a raw pty (script); keystroke round trip vs a raw pty's echo
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  rmSync,
  writeSync,
  constants,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as libc from '../../native/libc';
import type { Client } from '../../helper/common/client';
import {
  fromWire,
  ListNamespaces,
  NamespacesChanged,
  NamespacesChangedNotification,
  Subscribe,
  TerminalAck,
  TerminalExit,
  TerminalInput,
  TerminalOpen,
  TerminalOutput,
  Unsubscribe,
} from '../../helper/common/protocol';
import { Daemon, DIST, onStopped, startDaemon, waitFor } from '../support';
import { Figures, median, ms, pct, Show } from './figures';
import { benchNet } from './net';

/** Processes on the machine at each step of the discovery bench. */
const SCALE = (process.env.NSX_BENCH_SCALE ?? '2000,7000,20000').split(',').map(Number);
const PER_SET = 11; // sleeps per set; with unshare and sh, 13 processes a set
const ROOT = join(DIST, '..');

/** How many times each size is measured, each with a fresh nsxd: the table gives the median and the spread. */
const RUNS = Number(process.env.NSX_BENCH_RUNS ?? 3);
const figures = new Figures();
const row = figures.row.bind(figures);
const inMs =
  (digits: number): Show =>
  (v) =>
    `${v.toFixed(digits)} ms`;
const times =
  (digits: number, of: string): Show =>
  (v) =>
    `${v.toFixed(digits)}x ${of}`;

function timeCommand(cmd: string, args: string[], runs = 3): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const rescan = args.includes('--rescan');
    if (rescan) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, rescanPause());
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`${cmd} failed`);
    times.push(ms(t0));
    if (rescan) lastRescanMs = times[i];
  }
  return median(times);
}

/**
 * nsxd grants a rescan only once the last full scan ended 4 of its durations
 * (in time or CPU time) ago, and answers one asked sooner from the model: a
 * rescan timed here waits 5 times what the last one took (in time, or in CPU
 * time as nsxd logged it, the longer).
 */
let lastRescanMs = 1000;
const rescanPause = () => 5 * lastRescanMs;

/** The load's own sleeps, by an argument nothing else uses: other processes (and tests) may come and go meanwhile. */
const MARK = 'sleep 36001';
function sleepers(): number {
  return Number(spawnSync('pgrep', ['-c', '-f', `^${MARK}$`], { encoding: 'utf8' }).stdout.trim() || 0);
}

function processCount(): number {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).length;
}

/** More sets of namespaces until the machine has about `total` processes; stop() ends all the load. */
function makeLoad(): { grow(total: number): Promise<number>; samplePid(): number; stop(): void } {
  const drivers: ChildProcess[] = [];
  let target = 0;
  return {
    async grow(total) {
      const sets = Math.max(0, Math.ceil((total - processCount()) / (PER_SET + 2)));
      target += sets * PER_SET;
      const script = `for i in $(seq ${sets}); do unshare --uts --ipc --net --pid --mount --fork --mount-proc -- sh -c 'for j in $(seq ${PER_SET}); do ${MARK} & done; wait' & done; wait`;
      drivers.push(spawn('sh', ['-c', script], { stdio: 'ignore', detached: true }));
      await waitFor(() => sleepers() >= target, 600_000, `${target} sleeping processes`);
      return processCount();
    },
    samplePid: () => Number(execFileSync('pgrep', ['-n', '-f', `^${MARK}$`], { encoding: 'utf8' }).trim()),
    stop: () => {
      for (const d of drivers)
        try {
          process.kill(-d.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
    },
  };
}

/** A whole CLI run, as a user types it: the C front's start, the connection, the scan, the output. */
function nsxRun(socket: string, args: string[], runs = 5): number {
  return timeCommand(join(DIST, 'nsx'), ['--socket', socket, ...args], runs);
}

function smallHost(socket: string): void {
  const procs = processCount();
  nsxRun(socket, ['list'], 1); // the first one also fills nsxd's caches
  const ours = nsxRun(socket, ['list'], 21);
  const rescanned = nsxRun(socket, ['list', '--rescan'], 21);
  const theirs = timeCommand('lsns', [], 21);
  const node = timeCommand(process.execPath, [join(DIST, 'nsx.js'), '--socket', socket, 'list'], 5);
  console.log(`\nsmall host: ${procs} processes`);
  const lsns = (v: number) => `lsns ${v.toFixed(1)} ms`;
  row('small host: nsx list, end to end (median)', [ours, inMs(1)], [theirs, lsns], [ours / theirs, times(2, 'lsns')]);
  row('small host: the Node client alone (nsx.js list)', [node, inMs(0)]);
  row(
    'small host: nsx list --rescan, end to end (median)',
    [rescanned, inMs(1)],
    [theirs, lsns],
    [rescanned / theirs, times(2, 'lsns')],
  );
}

/** Resolves with what lsns -J took. `size` names the rows of this size, the same in every run. */
async function discovery(c: Client, daemon: Daemon, size: string): Promise<number> {
  const [socket, nsxdPid] = [daemon.socket, daemon.proc.pid!];
  // nsxd logs each full scan with its cost and whether it patched the model or built it whole.
  const scans = () => [
    ...daemon.log().matchAll(/full scan \(\w+, \d+ so far\): (\d+) ms, (\d+) ms of CPU, model (\w+)/g),
  ];
  const floorRuns = Array.from({ length: 5 }, () =>
    execFileSync(join(DIST, 'scan-floor'), { encoding: 'utf8' }).trim().split(' ').map(Number),
  );
  const floor = median(floorRuns.map((r) => r[2]));
  const lsns = timeCommand('lsns', ['-J'], 3);
  const timed = async (params: { rescan?: boolean }, runs: number) => {
    const times: number[] = [];
    let count = 0;
    for (let i = 0; i < runs; i++) {
      if (params.rescan) await new Promise((r) => setTimeout(r, rescanPause()));
      const t0 = process.hrtime.bigint();
      count = fromWire(await c.conn.sendRequest(ListNamespaces, params)).namespaces.length;
      times.push(ms(t0));
      // nsxd's rule counts the scan's CPU time too (a fresh nsxd's first scan spends more than its wall time).
      const last = scans().at(-1);
      if (params.rescan) lastRescanMs = Math.max(times[i], last ? Math.max(Number(last[1]), Number(last[2])) : 0);
    }
    return { time: median(times), count };
  };
  const scansBefore = scans().length;
  const full = await timed({ rescan: true }, 3);
  const fullScans = scans().slice(scansBefore);
  const kept = await timed({}, 5);
  const n = floorRuns[0][0];
  console.log(
    `\ndiscovery over ${n} processes, ${full.count} namespaces (C scan counts ${floorRuns[0][1]} with members)`,
  );
  const cli = nsxRun(socket, ['list', '--json'], 3);
  const cliFull = nsxRun(socket, ['list', '--json', '--rescan'], 1);
  // Each against lsns -J and the C floor of this run; the two ratios are two rows, each summarised on its own.
  const against = (what: string, t: number, digits: number) => {
    row(
      `${size}: ${what}`,
      [t, inMs(digits)],
      [lsns, (v) => `lsns -J ${v.toFixed(0)} ms`],
      [t / lsns, times(2, 'lsns')],
    );
    row(
      `${size}: ${what}, against the C floor`,
      [t, inMs(digits)],
      [floor, (v) => `C floor ${v.toFixed(0)} ms`],
      [t / floor, times(2, 'the floor')],
    );
  };
  against('nsx list --json, end to end', cli, 0);
  against('nsx list --json --rescan, end to end', cliFull, 0);
  against('namespaces/list, the model events keep (median)', kept.time, 1);
  against('namespaces/list, a full scan (median)', full.time, 0);
  row(
    `${size}: namespaces/list's full scans, as nsxd logged them`,
    [fullScans.filter((m) => m[3] === 'patched').length, (v) => `${v.toFixed(0)} of ${fullScans.length} patched`],
    fullScans.map((m) => `${m[1]} ms ${m[3]}`).join(', ') || 'none',
  );
  const mb = (field: string, status = readFileSync(`/proc/${nsxdPid}/status`, 'utf8')) =>
    Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]) / 1024;
  const aim = (v: number) => `aim ${v} MB`;
  const memory = (what: string, v: number) =>
    row(`${size}: nsxd memory, ${what}`, [v, (v) => `${v.toFixed(0)} MB`], [80, aim], [v / 80, times(2, 'the aim')]);
  memory('right after the last answer', mb('VmRSS'));
  // nsxd keeps the last list's JSON for a burst of callers, then lets it go with a collection (requests/namespaces.ts).
  await new Promise((r) => setTimeout(r, 3000));
  memory('peak', mb('VmHWM'));
  memory('after the scans', mb('VmRSS'));
  return lsns;
}

/**
 * Process events at work: a process starting in a new uts namespace, and its
 * exit, timed to the change a subscriber gets, as the extension subscribes.
 */
async function live(c: Client, size: string, lsns: number): Promise<void> {
  let seen: ((change: NamespacesChanged) => void) | undefined;
  const sub = c.conn.onNotification(NamespacesChangedNotification, (change) => seen?.(change));
  const until = (ok: (change: NamespacesChanged) => boolean) =>
    new Promise<void>((resolve) => {
      seen = (change) => {
        if (ok(change)) resolve();
      };
    });
  try {
    await c.conn.sendRequest(Subscribe, { intervalMs: 2000 });
    const started: number[] = [];
    const exited: number[] = [];
    const hostUts = Number(/\d+/.exec(readlinkSync('/proc/self/ns/uts'))![0]);
    for (let i = 0; i < 15; i++) {
      const t0 = process.hrtime.bigint();
      const sleeper = spawn('unshare', ['--uts', '--', 'sleep', '600'], { stdio: 'ignore' });
      // Seen first as a fork of this process, perhaps; counted once nsxd has it in its own uts namespace.
      await until((ch) =>
        [...ch.processesAdded, ...ch.processesChanged].some((p) => p.pid === sleeper.pid && p.ns.uts !== hostUts),
      );
      started.push(ms(t0));
      const t1 = process.hrtime.bigint();
      const removed = until((ch) => ch.processesRemoved.includes(sleeper.pid!));
      sleeper.kill('SIGKILL');
      await removed;
      exited.push(ms(t1));
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const [what, samples] of [
      ['a process starts in a new namespace → the change at a subscriber', started],
      ['it exits → the change at a subscriber', exited],
    ] as const) {
      const m = median(samples);
      const one = (v: number) => `one lsns -J ${v.toFixed(0)} ms`;
      row(`${size}: ${what} (median of ${samples.length})`, [m, inMs(0)], [lsns, one], [m / lsns, times(3, 'lsns')]);
      row(
        `${size}: ${what} (p90)`,
        [pct(samples, 0.9), inMs(0)],
        [100, (v) => `aim ${v} ms`],
        [pct(samples, 0.9) / 100, times(2, 'the aim')],
      );
    }
  } finally {
    seen = undefined;
    sub.dispose();
    await c.conn.sendRequest(Unsubscribe);
  }
}

/**
 * nsxd's CPU time over 40 s with a subscriber (an open view) and nothing
 * changing but what the machine does itself, right after the events' burst
 * (the model is current, so subscribing starts no scan). A full scan nsxd's
 * rule runs meanwhile is part of the figure: the rule keeps it under 1/500
 * of a core.
 */
async function idle(c: Client, daemon: Daemon, size: string): Promise<void> {
  const nsxdPid = daemon.proc.pid!;
  const cpu = () => {
    const stat = readFileSync(`/proc/${nsxdPid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in clock ticks of 10 ms
  };
  // nsxd logs each full scan with why it ran: the figure says whether one ran in the window, and why.
  const scans = () => [...daemon.log().matchAll(/full scan \((\w+),/g)].map((m) => m[1]);
  await c.conn.sendRequest(Subscribe, { intervalMs: 2000 });
  await new Promise((r) => setTimeout(r, 5_000));
  const [before, scansBefore] = [cpu(), scans().length];
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, 40_000));
  const share = (cpu() - before) / ms(t0);
  const ran = scans().slice(scansBefore);
  await c.conn.sendRequest(Unsubscribe);
  row(
    `${size}: nsxd idle with a subscriber, over 40 s`,
    [share * 100, (v) => `${v.toFixed(2)}% of one core`],
    'aim 0.5%',
    [share / 0.005, times(2, 'the aim')],
  );
  row(`${size}: nsxd idle, full scans in those 40 s`, [ran.length, (v) => v.toFixed(0)], ran.join(' ') || 'none');
}

/** The extension's figures, from its half of the bench in a real workbench (test/bench/render.ts). */
function render(socket: string, lsns: number): void {
  const out = join(mkdtempSync(join(tmpdir(), 'nsx-render-')), 'render.json');
  const r = spawnSync(
    process.execPath,
    [join(ROOT, 'test/vscode/run.mjs'), '--suite', join(DIST, 'test/bench/render.js')],
    {
      stdio: 'inherit',
      env: { ...process.env, NSX_SOCKET: socket, NSX_BENCH_OUT: out },
      timeout: 15 * 60_000,
    },
  );
  if (r.status !== 0) throw new Error(`the workbench half of the bench failed (${r.status ?? r.signal})`);
  const { started, exited, namespaces } = JSON.parse(readFileSync(out, 'utf8')) as {
    started: number[];
    exited: number[];
    namespaces: number;
  };
  rmSync(dirname(out), { recursive: true, force: true });
  console.log(`\nthe extension, with ${namespaces} namespaces in its model`);
  for (const [what, samples] of [
    ['a process starts in a new namespace → the view redrawn with it', started],
    ['it exits → the view redrawn without it', exited],
  ] as const) {
    const m = median(samples);
    row(
      `extension: ${what} (median of ${samples.length})`,
      [m, inMs(0)],
      [300, (v) => `aim ${v} ms`],
      [m / 300, times(2, 'the aim')],
    );
    row(
      `extension: ${what}, against lsns`,
      [m, inMs(0)],
      [lsns, (v) => `one lsns -J ${v.toFixed(0)} ms`],
      [m / lsns, times(2, 'lsns')],
    );
  }
}

/** Opens a session and resolves with (ms to first output byte, total bytes, ms to exit). */
async function session(
  c: Client,
  params: Parameters<Client['conn']['sendRequest']>[1],
): Promise<{ first: number; bytes: number; total: number }> {
  const t0 = process.hrtime.bigint();
  let first = -1;
  let bytes = 0;
  let id = -1;
  const early: { session: number; data: string }[] = [];
  return new Promise((resolve, reject) => {
    const out = c.conn.onNotification(TerminalOutput, (p) => {
      if (id < 0) {
        early.push(p);
        return;
      }
      if (p.session !== id) return;
      if (first < 0) first = ms(t0);
      const n = Buffer.byteLength(p.data, 'base64');
      bytes += n;
      void c.conn.sendNotification(TerminalAck, { session: id, bytes: n });
    });
    const exit = c.conn.onNotification(TerminalExit, (p) => {
      if (p.session !== id) return;
      out.dispose();
      exit.dispose();
      resolve({ first, bytes, total: ms(t0) });
    });
    c.conn.sendRequest(TerminalOpen, params as never).then((r) => {
      id = r.session;
      for (const p of early.splice(0))
        if (p.session === id) {
          if (first < 0) first = ms(t0);
          bytes += Buffer.byteLength(p.data, 'base64');
          void c.conn.sendNotification(TerminalAck, { session: id, bytes: Buffer.byteLength(p.data, 'base64') });
        }
    }, reject);
  });
}

async function terminals(c: Client, pid: number): Promise<void> {
  console.log(`\nterminals, in the namespaces of pid ${pid}`);
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let i = 0; i < 20; i++) {
    ours.push((await session(c, { target: { pid }, command: ['sh', '-c', 'echo x'] })).first);
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve) => {
      const p = spawn('nsenter', ['-t', String(pid), '-a', 'sh', '-c', 'echo x'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      p.stdout.once('data', () => {
        theirs.push(ms(t0));
      });
      p.once('close', () => resolve());
    });
  }
  row(
    'terminals: request → first output byte (median)',
    [median(ours), inMs(1)],
    [median(theirs), (v) => `nsenter -a ${v.toFixed(1)} ms`],
    [median(ours) / median(theirs), times(2, 'nsenter')],
  );

  const cmd = 'head -c 256M /dev/zero | base64';
  const relay = await session(c, {
    target: { pid },
    types: ['uts'],
    command: ['sh', '-c', cmd],
    pty: { cols: 200, rows: 50 },
  });
  const relayMBs = relay.bytes / 1e6 / (relay.total / 1000);
  const raw = timeCommand('script', ['-qc', cmd, '/dev/null'], 1);
  const rawMBs = relay.bytes / 1e6 / (raw / 1000);
  row(
    'terminals: pty throughput of base64 of 256 MiB of zeros',
    [relayMBs, (v) => `${v.toFixed(0)} MB/s`],
    [rawMBs, (v) => `raw pty (script) ${v.toFixed(0)} MB/s`],
    [relayMBs / rawMBs, times(2, 'the raw pty')],
  );

  // Keystroke round trip: a byte in, its echo (by the pty's line discipline, under cat) out.
  const rtts = await keystrokes(c, pid);
  const rawRtts = rawPtyKeystrokes();
  for (const [what, p] of [
    ['median', 0.5],
    ['p99', 0.99],
  ] as const) {
    const [ours, raw] = [pct(rtts, p), pct(rawRtts, p)];
    row(
      `terminals: keystroke round trip, ${what}`,
      [ours, inMs(2)],
      [raw, (v) => `raw pty ${v.toFixed(3)} ms`],
      [ours - raw, (v) => `+${v.toFixed(2)} ms`],
    );
  }
}

async function keystrokes(c: Client, pid: number): Promise<number[]> {
  const opened = await c.conn.sendRequest(TerminalOpen, {
    target: { pid },
    types: ['uts'],
    command: ['cat'],
    pty: { cols: 80, rows: 24 },
  });
  let waiting: (() => void) | undefined;
  const sub = c.conn.onNotification(TerminalOutput, (p) => {
    if (p.session !== opened.session) return;
    void c.conn.sendNotification(TerminalAck, { session: opened.session, bytes: Buffer.byteLength(p.data, 'base64') });
    waiting?.();
  });
  const rtts: number[] = [];
  for (let i = 0; i < 300; i++) {
    const echoed = new Promise<void>((r) => {
      waiting = r;
    });
    const t0 = process.hrtime.bigint();
    await c.conn.sendRequest(TerminalInput, { session: opened.session, data: Buffer.from('a').toString('base64') });
    await echoed;
    rtts.push(ms(t0));
  }
  sub.dispose();
  await c.conn.sendRequest(TerminalInput, {
    session: opened.session,
    data: Buffer.from('\x04\x04').toString('base64'),
  });
  return rtts.slice(20);
}

function rawPtyKeystrokes(): number[] {
  const master = openSync('/dev/ptmx', constants.O_RDWR | libc.O_NOCTTY);
  const peer = libc.openPtyPeer(master);
  const buf = Buffer.alloc(64);
  const rtts: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t0 = process.hrtime.bigint();
    writeSync(master, 'a');
    readSync(master, buf, 0, buf.length, null);
    rtts.push(ms(t0));
  }
  closeSync(peer);
  closeSync(master);
  return rtts.slice(20);
}

async function main(): Promise<void> {
  // NSX_BENCH_ONLY=net: the network picture's figures alone (test/bench/net.ts); =scale: the sizes of SCALE alone.
  const only = process.env.NSX_BENCH_ONLY;
  if (only !== 'scale') await benchNet(row);
  if (only === 'net') return figures.print();
  execFileSync('cc', ['-O2', '-o', join(DIST, 'scan-floor'), join(ROOT, 'test/bench/scan-floor.c')]);
  const load = makeLoad();
  // Stopped midway (Ctrl-C, a kill), it takes its 20,000 sleepers and its nsxd with it.
  let daemon: Daemon | undefined;
  onStopped(() => {
    load.stop();
    daemon?.abandon();
  });
  try {
    for (let run = 1; run <= (only === 'scale' ? 0 : RUNS); run++) {
      console.log(`\nthe small host, run ${run} of ${RUNS}`);
      daemon = await startDaemon();
      smallHost(daemon.socket);
      const c = await daemon.client();
      await idle(c, daemon, 'small host');
      c.close();
      await daemon.destroy();
    }
    for (const total of SCALE) {
      console.log(`\ngrowing the machine to ${total} processes…`);
      await load.grow(total);
      const size = `${total / 1000}k procs`;
      for (let run = 1; run <= RUNS; run++) {
        console.log(`\n${size} (${processCount()} now), run ${run} of ${RUNS}`);
        // A fresh nsxd for each run: its peak memory is that size's.
        daemon = await startDaemon();
        const c = await daemon.client();
        try {
          const lsns = await discovery(c, daemon, size);
          await live(c, size, lsns);
          // Right after the burst of events: nothing changes now, so nsxd should do nothing.
          await idle(c, daemon, size);
          if (total === SCALE[Math.min(1, SCALE.length - 1)]) await terminals(c, load.samplePid());
          if (total === SCALE[SCALE.length - 1]) render(daemon.socket, lsns);
        } finally {
          c.close();
          await daemon.destroy();
        }
      }
    }
  } finally {
    load.stop();
  }
  figures.print();
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
