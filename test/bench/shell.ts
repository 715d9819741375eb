// A shell's costs alone, side by side in one run, on a machine others share:
// terminal/open → first output byte against `nsenter -a` running the same
// command, and a keystroke's round trip against a raw pty's echo; with
// NSX_SHELL_BASE=DIR (another build's dist/), that build's nsxd too, each
// measure taken in turn from both, so that the machine's noise falls on both.
//   node dist/test/bench/shell.js        (NSX_SHELL_N: opens per nsxd, 200)
import { spawn } from 'node:child_process';
import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import * as libc from '../../native/libc';
import type { Client } from '../../helper/common/client';
import {
  ListNamespaces,
  TerminalAck,
  TerminalExit,
  TerminalInput,
  TerminalOpen,
  TerminalOutput,
} from '../../helper/common/protocol';
import { Daemon, holdNamespaces, startDaemon } from '../support';

const N = Number(process.env.NSX_SHELL_N ?? 200);
const KEYS = Number(process.env.NSX_SHELL_KEYS ?? 1000);
const BASE = process.env.NSX_SHELL_BASE;

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const figures = (xs: number[]) =>
  `median ${pct(xs, 0.5).toFixed(2)}  p90 ${pct(xs, 0.9).toFixed(2)}  p99 ${pct(xs, 0.99).toFixed(2)} ms`;

interface Nsxd {
  name: string;
  daemon: Daemon;
  c: Client;
}

/** terminal/open of `sh -c 'echo x'` in the namespaces of pid, on pipes as the bench's: ms to its first byte. */
function firstByte(c: Client, pid: number, pty: boolean): Promise<number> {
  const t0 = process.hrtime.bigint();
  let id = -1;
  let first = -1;
  return new Promise((resolve, reject) => {
    const out = c.conn.onNotification(TerminalOutput, (p) => {
      if (first < 0) first = ms(t0);
      void c.conn.sendNotification(TerminalAck, { session: p.session, bytes: Buffer.byteLength(p.data, 'base64') });
    });
    const exit = c.conn.onNotification(TerminalExit, (p) => {
      if (p.session !== id) return;
      out.dispose();
      exit.dispose();
      resolve(first);
    });
    const params = {
      target: { pid },
      command: ['sh', '-c', 'echo x'],
      ...(pty ? { pty: { rows: 24, cols: 80 } } : {}),
    };
    c.conn.sendRequest(TerminalOpen, params).then((r) => (id = r.session), reject);
  });
}

function nsenterFirstByte(pid: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve) => {
    let first = -1;
    const p = spawn('nsenter', ['-t', String(pid), '-a', 'sh', '-c', 'echo x'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    p.stdout.once('data', () => (first = ms(t0)));
    p.once('close', () => resolve(first));
  });
}

/** A cat on a pty in the uts namespace of pid: one byte in, its echo out, KEYS times after a warm-up. */
async function keystrokes(c: Client, pid: number, rtts: number[], count: number): Promise<void> {
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
  for (let i = 0; i < count + 20; i++) {
    const echoed = new Promise<void>((r) => (waiting = r));
    const t0 = process.hrtime.bigint();
    await c.conn.sendRequest(TerminalInput, { session: opened.session, data: Buffer.from('a').toString('base64') });
    await echoed;
    if (i >= 20) rtts.push(ms(t0));
  }
  sub.dispose();
  await c.conn.sendRequest(TerminalInput, {
    session: opened.session,
    data: Buffer.from('\x04\x04').toString('base64'),
  });
}

function rawPtyKeystrokes(count: number): number[] {
  const master = openSync('/dev/ptmx', constants.O_RDWR | libc.O_NOCTTY);
  const peer = libc.openPtyPeer(master);
  const buf = Buffer.alloc(64);
  const rtts: number[] = [];
  for (let i = 0; i < count + 20; i++) {
    const t0 = process.hrtime.bigint();
    writeSync(master, 'a');
    readSync(master, buf, 0, buf.length, null);
    if (i >= 20) rtts.push(ms(t0));
  }
  closeSync(peer);
  closeSync(master);
  return rtts;
}

/** Another build's nsxd, run from its own dist/ (its programs beside it) by the same test support. */
function baseWrap(dist: string): string[] {
  return ['sh', '-c', 'node=$1; shift 2; exec "$node" "$0" "$@"', join(dist, 'nsxd.js')];
}

async function main(): Promise<void> {
  const held = await holdNamespaces(
    ['--uts', '--ipc', '--net', '--pid', '--mount', '--fork', '--mount-proc'],
    'exec sleep 3604',
  );
  const nsxds: Nsxd[] = [];
  try {
    const builds: [string, string[] | undefined][] = [
      ['this', undefined],
      ...(BASE ? [['base', baseWrap(BASE)] as [string, string[]]] : []),
    ];
    for (const [name, wrap] of builds) {
      const daemon = await startDaemon(wrap ? { wrap } : {});
      const c = await daemon.client();
      // As in npm run bench: nsxd holds the model of the machine's processes (its size is the fork's).
      await c.conn.sendRequest(ListNamespaces, {});
      nsxds.push({ name, daemon, c });
    }
    console.log(
      `load average at the start: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}; ${N} opens each`,
    );
    const first = new Map<string, number[]>([['nsenter -a', []]]);
    const firstPty = new Map<string, number[]>();
    for (const n of nsxds) {
      first.set(n.name, []);
      firstPty.set(n.name, []);
      await firstByte(n.c, held.pid, false); // warm-up
    }
    for (let i = 0; i < N; i++) {
      for (const n of nsxds) {
        first.get(n.name)!.push(await firstByte(n.c, held.pid, false));
        firstPty.get(n.name)!.push(await firstByte(n.c, held.pid, true));
      }
      first.get('nsenter -a')!.push(await nsenterFirstByte(held.pid));
    }
    const keys = new Map<string, number[]>(nsxds.map((n) => [n.name, []]));
    const raw: number[] = [];
    for (let round = 0; round < 5; round++) {
      for (const n of nsxds) await keystrokes(n.c, held.pid, keys.get(n.name)!, KEYS / 5);
      raw.push(...rawPtyKeystrokes(KEYS / 5));
    }
    console.log(
      `load average at the end: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    const anchor = pct(first.get('nsenter -a')!, 0.5);
    for (const [name, xs] of first)
      console.log(
        `first byte, pipes, ${name.padEnd(10)} ${figures(xs)}  (${(pct(xs, 0.5) / anchor).toFixed(2)}x nsenter -a)`,
      );
    for (const [name, xs] of firstPty) console.log(`first byte, pty,   ${name.padEnd(10)} ${figures(xs)}`);
    for (const [name, xs] of keys) console.log(`keystroke,         ${name.padEnd(10)} ${figures(xs)}`);
    console.log(`keystroke,         raw pty    ${figures(raw)}`);
  } finally {
    for (const n of nsxds) {
      n.c.close();
      await n.daemon.destroy();
    }
    held.kill();
  }
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
