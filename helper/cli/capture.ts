// nsx capture: packets in one or several network namespaces, as one pcapng
// stream, to a file or to stdout (nsx capture web -w - | tshark -r -), with
// tcpdump's options and its words on stderr.
//   nsx capture TARGET... [-i IFACE]... [-f FILTER] [-c COUNT] [-G SECONDS] [-C BYTES] [-s SNAPLEN] -w FILE|-
import { UsageError } from './usage';
import { targetWord } from './words';
import { closeSync, existsSync, openSync, rmSync, writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import type { Client } from '../common/client';
import {
  CaptureEndParams,
  CaptureTarget,
  CaptureStartParams,
  CaptureTargetSpec,
  capturingOn,
  captureSummary,
} from '../common/capture';
import { CaptureEnd } from '../common/capture';
import { CaptureStreams } from '../common/captureClient';
import { printable } from '../common/format';

export const CAPTURE_USAGE = `usage: nsx capture TARGET... [-i IFACE]... [-f FILTER] [-c COUNT] [-G SECONDS] [-C BYTES] [-s SNAPLEN] -w FILE|-
  TARGET: a container's name or id, a PID (its network namespace), host, net:INODE, or pin:NAME
  -i IFACE    capture on IFACE of the TARGET before it (of every TARGET when it comes first);
              without -i, on every interface of the namespace, lo included
  -f FILTER   a tcpdump filter (pcap-filter(7)), as one argument: -f "icmp or arp"
  -c COUNT    stop after COUNT packets; -G SECONDS: after SECONDS; -C BYTES: before the file passes BYTES
  -s SNAPLEN  keep at most SNAPLEN bytes of each packet (262144)
  -w FILE     write pcapng to FILE, or to stdout with -w -; ^C stops and keeps what was captured
`;

/** A capture's command line nsx cannot read: the hint is nsx capture -h. */
export class CaptureUsageError extends UsageError {}

const OPTIONS = {
  socket: { type: 'string' },
  interface: { type: 'string', short: 'i', multiple: true },
  filter: { type: 'string', short: 'f' },
  count: { type: 'string', short: 'c' },
  seconds: { type: 'string', short: 'G' },
  bytes: { type: 'string', short: 'C' },
  snaplen: { type: 'string', short: 's' },
  write: { type: 'string', short: 'w' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The arguments after `capture` (with a --socket before it), if the command line is a capture. */
export function captureArgv(argv: string[]): string[] | undefined {
  const socket = argv[0] === '--socket' ? argv.slice(0, 2) : argv[0]?.startsWith('--socket=') ? argv.slice(0, 1) : [];
  return argv[socket.length] === 'capture' ? [...socket, ...argv.slice(socket.length + 1)] : undefined;
}

/** A target as every verb reads it (words.ts), for a capture: net namespaces, containers by name. */
export function captureTarget(word: string): CaptureTarget {
  const t = targetWord(word);
  if ('pin' in t) return { pin: { type: 'net', name: t.pin } };
  if ('name' in t) return { container: t.name };
  return t;
}

function positive(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new CaptureUsageError(`${what} must be a positive number, not ${JSON.stringify(value)}`);
  return Number(value);
}

/** The request and where it goes; -i binds to the TARGET before it, or to all when it comes first. */
export function parseCaptureArgs(argv: string[]): {
  params: CaptureStartParams;
  write: string;
  socket?: string;
  help?: boolean;
} {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, tokens: true });
  } catch (err) {
    throw new CaptureUsageError((err as Error).message.split('\n')[0]);
  }
  const { values, tokens } = parsed;
  if (values.help) return { params: { targets: [] }, write: '', help: true };
  const targets: CaptureTargetSpec[] = [];
  const everywhere: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'positional') targets.push({ target: captureTarget(t.value) });
    else if (t.kind === 'option' && t.name === 'interface') {
      const spec = targets[targets.length - 1];
      if (spec) (spec.interfaces ??= []).push(t.value!);
      else everywhere.push(t.value!);
    }
  }
  if (targets.length === 0) throw new CaptureUsageError('capture wants a TARGET: nsx capture web -w web.pcapng');
  if (values.write === undefined) throw new CaptureUsageError('capture wants -w FILE, or -w - for stdout');
  for (const spec of targets)
    if (everywhere.length) spec.interfaces = [...new Set([...everywhere, ...(spec.interfaces ?? [])])];
  const params: CaptureStartParams = { targets };
  if (values.filter) params.filter = values.filter;
  const limits = { count: values.count, seconds: values.seconds, bytes: values.bytes, snaplen: values.snaplen };
  for (const [key, flag] of [
    ['count', '-c'],
    ['seconds', '-G'],
    ['bytes', '-C'],
    ['snaplen', '-s'],
  ] as const) {
    const v = positive(limits[key], flag);
    if (v !== undefined) params[key] = v;
  }
  return { params, write: values.write, ...(values.socket !== undefined && { socket: values.socket }) };
}

/**
 * Where the stream goes: a file (created, or emptied, as tcpdump -w does;
 * removed again if the capture never starts and nsx made it) or stdout.
 * A file that cannot be opened is said before anything is captured.
 */
function sink(path: string): { out: Writable; close: () => Promise<void>; discard: () => void } {
  if (path === '-') {
    if (process.stdout.isTTY)
      throw new CaptureUsageError(
        'will not write a binary capture to a terminal: pipe it (-w - | tshark -r -) or -w FILE',
      );
    return { out: process.stdout, close: async () => undefined, discard: () => undefined };
  }
  const made = !existsSync(path);
  let fd: number;
  try {
    fd = openSync(path, 'w', 0o666);
  } catch (err) {
    throw new Error(`cannot write ${path}: ${(err as Error).message}`);
  }
  // Written as it comes, as tcpdump -w writes: no thread hand-off, no chunk kept waiting for one.
  const out = new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _encoding, done) {
      try {
        for (let at = 0; at < chunk.length;) at += writeSync(fd, chunk, at);
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
  let closed = false;
  const close = () => {
    if (!closed) closeSync(fd);
    closed = true;
  };
  return {
    out,
    close: async () => close(),
    discard: () => {
      close();
      if (made) rmSync(path, { force: true });
    },
  };
}

/** Runs a capture to its end; the exit status. */
export async function capture(client: Client, params: CaptureStartParams, write: string): Promise<number> {
  const out = sink(write);
  const streams = new CaptureStreams(client.conn, () => client.open());
  client.conn.onNotification(CaptureEnd, (p) => streams.end(p));
  client.conn.onClose(() => streams.lost('nsxd closed the connection before the capture ended'));
  const handle = await streams.start(params, out.out).catch((err) => {
    out.discard();
    throw err;
  });
  process.stderr.write(`nsx: ${capturingOn(handle.result.interfaces)}\n`);
  // ^C once stops, keeping what was captured; twice leaves at once.
  let interrupted = 0;
  const onSignal = () => {
    if (interrupted++) process.exit(130);
    handle.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const end: CaptureEndParams = await handle.ended;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  await out.close();
  // A capture that failed has no count to tell (nsxd's went with it): what was written stays written.
  if (end.reason === 'failed') {
    process.stderr.write(`nsx: ${printable(end.error ?? 'the capture failed')}\n`);
    return 1;
  }
  process.stderr.write(`nsx: ${captureSummary(end)}\n`);
  return 0;
}
