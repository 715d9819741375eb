// The process events' latency alone, A/B: builds of nsxd run in turn on one
// load, each timed from a process's start (and its exit) to the change at a
// subscriber, with nsxd's CPU per event and its memory. For comparing builds
// in the same conditions on a busy machine, where a whole bench run is noise.
//   NSX_EV_DAEMONS=/a/dist/nsxd.js,/b/dist/nsxd.js NSX_EV_SCALE=20000 NSX_EV_ROUNDS=3 \
//     node dist/test/bench/events.js     (NSX_EV_PROF=DIR: --cpu-prof into DIR)
// NSX_EV_HEAP=DIR: a heap snapshot of each nsxd after its events, into DIR (its name says the pid).
// NSX_EV_IDLE=S: then S seconds with nothing asked of nsxd: its CPU (% of a core), and the full scans its log names.
// NSX_EV_MARK=N makes the load's sleepers `sleep N`, so that runs of others on the same machine keep theirs.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../helper/common/client';
import { NamespacesChanged, NamespacesChangedNotification, Subscribe } from '../../helper/common/protocol';

const MARK = `sleep ${Number(process.env.NSX_EV_MARK ?? 36025)}`;
const PER_SET = 11;
const EVENTS = Number(process.env.NSX_EV_EVENTS ?? 15);

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const pct = (xs: number[], p: number) => sorted(xs)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));
const count = () => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).length;
const marked = () => Number(spawnSync('pgrep', ['-c', '-f', `^${MARK}$`], { encoding: 'utf8' }).stdout.trim() || 0);

async function grow(total: number, drivers: ChildProcess[]): Promise<void> {
  const sets = Math.max(0, Math.ceil((total - count()) / (PER_SET + 2)));
  const script = `for i in $(seq ${sets}); do unshare --uts --ipc --net --pid --mount --fork --mount-proc -- sh -c 'for j in $(seq ${PER_SET}); do ${MARK} & done; wait' & done; wait`;
  drivers.push(spawn('sh', ['-c', script], { stdio: 'ignore', detached: true }));
  while (marked() < sets * PER_SET) await sleep(1000);
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** nsxd's CPU over SECONDS of nothing asked (what else the machine does sends events still), and its full scans then. */
async function idleFor(seconds: number, pid: number, log: () => string): Promise<Record<string, number>> {
  if (seconds <= 0) return {};
  await sleep(5000); // the last event's update, and its engines' poll
  const scans = () => log().match(/full scan \(\w+/g) ?? [];
  const before = scans().length;
  const cpu0 = cpuTicks(pid);
  await sleep(seconds * 1000);
  const during = scans().slice(before);
  if (during.length) console.log(`full scans while idle: ${during.map((s) => s.slice(11)).join(', ')}`);
  return { idlePct: (cpuTicks(pid) - cpu0) / seconds, idleScans: during.length };
}

async function one(daemon: string, prof: string | undefined): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'nsx-ev-'));
  const config = join(dir, 'nsxd.json');
  writeFileSync(config, JSON.stringify({ admins: [], rootShells: [] }));
  const heap = process.env.NSX_EV_HEAP;
  const flags = [
    ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []),
    ...(heap ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${heap}`] : []),
  ];
  const socket = join(dir, 'nsxd.sock');
  const born = Date.now();
  const proc = spawn(process.execPath, [...flags, daemon, '--socket', socket, '--group', 'nsx', '--config', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  await new Promise<void>((ok, fail) => {
    proc.stderr!.on('data', (d) => {
      log += d;
      if (log.includes('listening on')) ok();
    });
    proc.once('exit', (code) => fail(new Error(`nsxd exited ${code}: ${log}`)));
  });
  const c = await connect(socket, 'bench');
  let seen: ((ch: NamespacesChanged) => void) | undefined;
  c.conn.onNotification(NamespacesChangedNotification, (ch) => seen?.(ch));
  const until = (ok: (ch: NamespacesChanged) => boolean) =>
    new Promise<void>((resolve) => {
      seen = (ch) => ok(ch) && resolve();
    });
  try {
    await c.conn.sendRequest(Subscribe, { intervalMs: 2000 });
    await sleep(3000); // the subscription's scan, its GC
    const hostUts = Number(/\d+/.exec(readlinkSync('/proc/self/ns/uts'))![0]);
    const started: number[] = [];
    const exited: number[] = [];
    const cpu0 = cpuTicks(proc.pid!);
    if (prof) console.log(`events from ${((Date.now() - born) / 1000).toFixed(1)} s`);
    for (let i = 0; i < EVENTS; i++) {
      const t0 = process.hrtime.bigint();
      const s = spawn('unshare', ['--uts', '--', 'sleep', '600'], { stdio: 'ignore' });
      await until((ch) =>
        [...ch.processesAdded, ...ch.processesChanged].some((p) => p.pid === s.pid && p.ns.uts !== hostUts),
      );
      started.push(ms(t0));
      const t1 = process.hrtime.bigint();
      const removed = until((ch) => ch.processesRemoved.includes(s.pid!));
      s.kill('SIGKILL');
      await removed;
      exited.push(ms(t1));
      await sleep(200);
    }
    const cpuMs = ((cpuTicks(proc.pid!) - cpu0) * 10) / EVENTS; // CLK_TCK 100; per start+exit pair
    const idle = await idleFor(Number(process.env.NSX_EV_IDLE ?? 0), proc.pid!, () => log);
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))![1]) / 1024;
    const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))![1]) / 1024;
    if (heap) {
      const before = readdirSync(heap).length;
      proc.kill('SIGUSR2');
      while (readdirSync(heap).length === before) await sleep(500);
      const size = () => readdirSync(heap).reduce((n, f) => n + statSync(join(heap, f)).size, 0);
      for (let last = -1; last !== size(); await sleep(1000)) last = size();
    }
    return {
      startMed: pct(started, 0.5),
      startP90: pct(started, 0.9),
      exitMed: pct(exited, 0.5),
      exitP90: pct(exited, 0.9),
      cpuPerPair: cpuMs,
      ...idle,
      rss,
      hwm,
    };
  } finally {
    c.close();
    proc.kill('SIGINT');
    await new Promise((r) => proc.once('exit', r));
    spawnSync('umount', ['--recursive', '--lazy', join(dir, 'pins')]);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const daemons = (process.env.NSX_EV_DAEMONS ?? '').split(',').filter(Boolean);
  const rounds = Number(process.env.NSX_EV_ROUNDS ?? 3);
  const drivers: ChildProcess[] = [];
  const stop = () => {
    for (const d of drivers)
      try {
        process.kill(-d.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    spawnSync('pkill', ['-KILL', '-f', `^${MARK}$`]);
  };
  process.on('SIGINT', () => {
    stop();
    process.exit(130);
  });
  try {
    for (const total of (process.env.NSX_EV_SCALE ?? '20000').split(',').map(Number)) {
      await grow(total, drivers);
      console.log(`\n${count()} processes`);
      for (let r = 0; r < rounds; r++)
        for (const d of daemons) {
          const res = await one(d, process.env.NSX_EV_PROF);
          console.log(
            `${total}\t${d}\t${Object.entries(res)
              .map(([k, v]) => `${k}=${v.toFixed(1)}`)
              .join(' ')}`,
          );
        }
    }
  } finally {
    stop();
  }
}

void main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
