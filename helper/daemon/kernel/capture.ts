// Captures packets: opens and checks the network namespace of each target
// (a container's, a process's, a pin's, any discovered one), then starts
// dist/nsx-capture with those fds, which enters each in turn, opens its
// sockets, gives up root, and writes one pcapng stream to its stdout (a
// socketpair with nsxd: nsxd's own traffic never crosses an interface).
import { ChildProcess, spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import type { Socket } from 'node:net';
import { pipeline, Readable } from 'node:stream';
import * as libc from '../../../native/libc';
import { ResponseError } from 'vscode-jsonrpc/node';
import type { Scanner } from '../discovery/scanner';
import { closeAll } from '../fds';
import type { Pins } from './pins';
import { CAPTURER } from './programs';
import { openNetTarget } from './netTarget';
import type { OpenedNs } from './targets';
import { CaptureInterface, CaptureStartParams, CaptureTargetSpec } from '../../common/capture';
import { ErrorCodes, NsKey, nsId } from '../../common/protocol';

export interface CaptureDeps {
  scanner: Scanner;
  pins: Pins;
}

/** A namespace opened for capture, and what the capture calls it. */
export interface CaptureNs {
  ns: OpenedNs;
  where: string;
  interfaces?: string[];
}

function hostNetInode(): number | undefined {
  try {
    return statSync('/proc/self/ns/net').ino;
  } catch {
    return undefined;
  }
}

/** A capture's namespace, and what its interfaces are called after (`eth0@web`; a process's by its pid). */
async function openOne(spec: CaptureTargetSpec, deps: CaptureDeps): Promise<{ ns: OpenedNs; where: string }> {
  const { opened, label } = await openNetTarget(spec.target, deps.scanner, deps.pins);
  return { ns: opened, where: 'pid' in spec.target ? String(spec.target.pid) : label };
}

/** Every target's network namespace, opened and checked; each one once. On failure none is left open. */
export async function openCaptureTargets(req: CaptureStartParams, deps: CaptureDeps): Promise<CaptureNs[]> {
  const opened: CaptureNs[] = [];
  const host = hostNetInode();
  try {
    for (const spec of req.targets) {
      const { ns, where } = await openOne(spec, deps);
      const same = opened.find((o) => o.ns.inode === ns.inode);
      opened.push({ ns, where: ns.inode === host ? 'host' : where, interfaces: spec.interfaces });
      if (same) {
        throw new ResponseError(
          ErrorCodes.Conflict,
          `${same.where} and ${opened[opened.length - 1].where} are the same network namespace (${nsId(ns)}): name it once, with all its interfaces`,
        );
      }
    }
    return opened;
  } catch (err) {
    closeAll(opened.map((o) => o.ns));
    throw err;
  }
}

export interface CaptureEnded {
  reason: string;
  packets: number;
  dropped: number;
  error?: string;
}

export interface RunningCapture {
  child: ChildProcess;
  /** The pcapng stream. */
  out: Readable;
  /** Resolves with the interfaces once every socket is open; rejects with nsx-capture's sentence. */
  ready: Promise<CaptureInterface[]>;
  /** Resolves once nsx-capture has exited and its stream has ended. */
  ended: Promise<CaptureEnded>;
  /** SIGTERM: it ends cleanly, writing what it has; SIGKILL if it has not within 3 s. */
  stop(): void;
  /** SIGKILL, and its pipes closed: the client went. */
  kill(): void;
  /** Its stream piped into SOCKET, as fast as that is read; BROKEN if SOCKET went first. */
  pipeTo(socket: Socket, broken: () => void): void;
}

/** What may wait for a stream's reader in nsxd's socket to it: a reader's pause of some ms costs no packet. */
const STREAM_BUFFER = 4 * 1024 * 1024;

function captureArgs(
  list: boolean,
  req: CaptureStartParams,
  where: CaptureNs[],
  limits: Required<Pick<CaptureStartParams, 'seconds' | 'bytes'>>,
): string[] {
  const args = ['--status-fd', '3', '--out-fd', '1', '--seconds', String(req.seconds ?? limits.seconds)];
  if (list) args.push('--list');
  args.push('--bytes', String(req.bytes ?? limits.bytes));
  if (req.count) args.push('--count', String(req.count));
  if (req.snaplen) args.push('--snaplen', String(req.snaplen));
  if (req.filter) args.push('--filter', req.filter);
  where.forEach((w, i) => {
    args.push('--ns', `${4 + i}:${w.where}`);
    for (const name of w.interfaces ?? []) args.push('--iface', name);
  });
  return args;
}

/** Reads nsx-capture's status lines: its interfaces, "r" when capturing, "e…" at the end, or "E<sentence>". */
function watchStatus(status: Readable, where: CaptureNs[]) {
  const interfaces: CaptureInterface[] = [];
  let text = '';
  let end: CaptureEnded | undefined;
  let onReady: (i: CaptureInterface[]) => void = () => undefined;
  let onFail: (err: Error) => void = () => undefined;
  const ready = new Promise<CaptureInterface[]>((resolve, reject) => {
    onReady = resolve;
    onFail = reject;
  });
  const line = (l: string) => {
    const f = l.split('\t');
    if (f[0] === 'i' && f.length === 4 && where[Number(f[1])]) {
      const w = where[Number(f[1])];
      const namespace: NsKey = { type: 'net', inode: w.ns.inode };
      interfaces.push({ name: Buffer.from(f[2], 'hex').toString(), where: w.where, namespace, linktype: Number(f[3]) });
    } else if (f[0] === 'r') onReady(interfaces);
    else if (f[0] === 'e' && f.length === 4) end = { reason: f[1], packets: Number(f[2]), dropped: Number(f[3]) };
  };
  status.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    if (text.length > 64 * 1024) text = text.slice(-1024); // 64 interfaces say far less
    if (text.startsWith('E')) return;
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      line(text.slice(0, nl));
      text = text.slice(nl + 1);
    }
  });
  status.on('error', () => undefined);
  const finished = new Promise<string | undefined>((resolve) =>
    status.on('close', () => resolve(text.startsWith('E') ? text.slice(1) : undefined)),
  );
  return { ready, fail: (err: Error) => onFail(err), finished, end: () => end };
}

/** The interfaces of each namespace (or those named), as a capture would open them; nothing is captured. */
export async function listInterfaces(where: CaptureNs[]): Promise<CaptureInterface[]> {
  const run = startCapture({ targets: [] }, where, { seconds: 1, bytes: 1 }, true);
  try {
    return await run.ready;
  } finally {
    run.kill();
  }
}

/** Listens without reading: what nsx-capture writes waits (see startCapture). */
function hold(): void {}

function pipeStream(out: Readable, socket: Socket, broken: () => void): void {
  out.removeListener('readable', hold);
  try {
    libc.setSendBuffer(socket, STREAM_BUFFER);
  } catch {
    /* the system's size, then */
  }
  pipeline(out, socket, (err) => err && broken());
}

export function startCapture(
  req: CaptureStartParams,
  where: CaptureNs[],
  limits: Required<Pick<CaptureStartParams, 'seconds' | 'bytes'>>,
  list = false,
): RunningCapture {
  // Only its stdout, the status fd and the namespaces reach it; no environment (no LD_* from anyone).
  const child = spawn(CAPTURER, captureArgs(list, req, where, limits), {
    stdio: ['ignore', 'pipe', 'ignore', 'pipe', ...where.map((w) => w.ns.fd)],
    env: {},
  });
  const out = child.stdout!;
  // Held, not paused, until its stream connection comes: Node drains and drops
  // the output of a child that exits with its stdout paused and unheard, so a
  // capture that reached its count before its reader came would end empty.
  // A 'readable' listener keeps what it wrote (and its end) for the reader.
  out.on('readable', hold);
  const status = watchStatus(child.stdio[3] as Readable, where);
  const exited = new Promise<string | undefined>((resolve) => {
    child.once('error', (err) => resolve(`cannot start ${CAPTURER}: ${err.message}`));
    child.once('exit', (code, signal) =>
      resolve(
        signal ? `nsx-capture was killed by ${signal}` : code ? `nsx-capture failed (status ${code})` : undefined,
      ),
    );
  });
  const outEnded = new Promise<void>((resolve) => {
    out.once('close', () => resolve());
    out.on('error', () => undefined);
  });
  // Its failure is known once it exited and its status fd closed, whether or not its stream was read.
  const failure = Promise.all([exited, status.finished]).then(([exitError, sentence]) => {
    if (status.end()) return undefined;
    const error = sentence ?? exitError ?? 'nsx-capture ended without a word';
    status.fail(new ResponseError(ErrorCodes.Failed, error));
    return error;
  });
  const ended = Promise.all([failure, outEnded]).then(
    ([error]): CaptureEnded => status.end() ?? { reason: 'failed', packets: 0, dropped: 0, error },
  );
  let killTimer: NodeJS.Timeout | undefined;
  void ended.then(() => clearTimeout(killTimer));
  return {
    child,
    out,
    ready: status.ready,
    ended,
    stop: () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      killTimer ??= setTimeout(() => child.kill('SIGKILL'), 3000);
    },
    kill: () => {
      child.kill('SIGKILL');
      out.destroy();
      (child.stdio[3] as Readable).destroy();
    },
    pipeTo: (socket, broken) => pipeStream(out, socket, broken),
  };
}
