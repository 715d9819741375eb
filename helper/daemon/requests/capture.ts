// The capture area: capture/start, capture/stop and capture/end on the
// JSON-RPC connection; the pcapng itself goes to a second connection to the
// socket that presents the start's one-time token (rpc/preamble.ts tells it
// apart), from the same user, within STREAM_TOKEN_SECONDS: nsx-capture's
// output is piped straight into it, paced by the client's reading (a slow
// reader fills nsx-capture's pipe, and the kernel counts what it drops).
// Any member may capture, as any member may open a root shell's equal (the
// socket is root-equivalent); each start, stream and end is audited. A
// capture dies with its connection, and stops when its stream connection goes.
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { ResponseError } from 'vscode-jsonrpc/node';
import { audit } from '../access/audit';
import type { Caller } from '../access/access';
import { CaptureDeps, listInterfaces, openCaptureTargets, RunningCapture, startCapture } from '../kernel/capture';
import { closeAll } from '../fds';
import type { Area, StreamHandler } from '../rpc/server';
import type { Outbox } from '../rpc/outbox';
import {
  CAPTURE_LIMITS,
  CaptureEnd,
  CaptureInterfaces,
  CaptureStart,
  CaptureStartParams,
  CaptureStartResult,
  CaptureStop,
  interfaceLabel,
  parseCaptureParams,
  parseCaptureStart,
  STREAM_TOKEN_SECONDS,
} from '../../common/capture';
import { ErrorCodes } from '../../common/protocol';

const MAX_PER_CONNECTION = 4;
const MAX_PER_USER = 16;

interface Capture {
  id: number;
  run: RunningCapture;
  /** Its control connection went: no capture/end to send. */
  closed: boolean;
  /** Its token, hashed, while it waits for its stream connection. */
  waiting?: string;
  stream?: Socket;
  /** Why it ended failed, when nsxd ended it (no stream came). */
  failure?: string;
}

/** A notification's params, or undefined: one that does not parse is dropped. */
function parsed<T>(fn: (v: unknown) => T, v: unknown): T | undefined {
  try {
    return fn(v);
  } catch {
    return undefined;
  }
}

function describe(req: CaptureStartParams): string {
  return req.targets
    .map(({ target: t, interfaces }) => {
      const what =
        'host' in t
          ? 'host'
          : 'pid' in t
            ? `pid:${t.pid}`
            : 'pin' in t
              ? `pin:${t.pin.name}`
              : 'container' in t
                ? `container:${t.container}`
                : `net:${t.namespace.inode}`;
      return interfaces ? `${what}[${interfaces.join(',')}]` : what;
    })
    .join(' ');
}

/** Tokens are kept and looked up by their hash: a lookup's timing says nothing of a token's bytes. */
function tokenKey(token: string): string {
  return createHash('sha256').update(token, 'ascii').digest('hex');
}

interface Waiting {
  capture: Capture;
  uid: number;
  owner: ConnectionCaptures;
  timer: NodeJS.Timeout;
}

/** What all connections share: captures running or starting, per user (root's not capped), the ids, the tokens. */
class Shared {
  private held = new Map<number, number>();
  private waiting = new Map<string, Waiting>();
  nextId = 1;
  constructor(readonly deps: CaptureDeps) {}

  /** A new token for C, good once, for its caller's uid, for STREAM_TOKEN_SECONDS; EXPIRE if unused. */
  offer(c: Capture, caller: Caller, owner: ConnectionCaptures, expire: () => void): string {
    const token = randomBytes(32).toString('hex');
    const key = tokenKey(token);
    const timer = setTimeout(() => {
      if (this.waiting.delete(key)) expire();
    }, STREAM_TOKEN_SECONDS * 1000);
    this.waiting.set(key, { capture: c, uid: caller.uid, owner, timer });
    c.waiting = key;
    return token;
  }

  withdraw(c: Capture): void {
    const w = c.waiting !== undefined ? this.waiting.get(c.waiting) : undefined;
    if (w) clearTimeout(w.timer);
    if (c.waiting !== undefined) this.waiting.delete(c.waiting);
    c.waiting = undefined;
  }

  /** A stream connection: its token must be waiting, and for this uid; else it is closed, sent nothing. */
  stream(token: string, socket: Socket, caller: Caller): void {
    const w = this.waiting.get(tokenKey(token));
    const refuse = (reason: string, fields = {}) => {
      audit('capture/stream', { ...who(caller), ...fields, result: 'refused', reason });
      socket.destroy();
    };
    if (!w) return refuse('no capture waits for this token (wrong, used or expired)');
    // Not used up: the token leaked, and its owner may still present it.
    if (w.uid !== caller.uid) return refuse(`the token is uid ${w.uid}'s`, { capture: w.capture.id });
    this.withdraw(w.capture);
    audit('capture/stream', { ...who(caller), capture: w.capture.id, result: 'ok' });
    w.owner.attach(w.capture, socket);
  }
  take(caller: Caller): void {
    const n = this.held.get(caller.uid) ?? 0;
    if (caller.uid !== 0 && n >= MAX_PER_USER)
      throw new ResponseError(
        ErrorCodes.LimitExceeded,
        `${caller.user} has ${MAX_PER_USER} captures running: stop some first`,
      );
    this.held.set(caller.uid, n + 1);
  }
  give(caller: Caller): void {
    const n = (this.held.get(caller.uid) ?? 1) - 1;
    if (n > 0) this.held.set(caller.uid, n);
    else this.held.delete(caller.uid);
  }
}

/** One connection's captures: started, streamed, stopped, and all killed when it closes. */
class ConnectionCaptures {
  private captures = new Map<number, Capture>();
  private opening = 0;
  private closed = false;

  constructor(
    private readonly shared: Shared,
    private readonly caller: Caller,
    private readonly outbox: Outbox,
  ) {}

  /** Counted against the limits from the first moment, the opening included; given back on any failure. */
  async start(req: CaptureStartParams): Promise<CaptureStartResult> {
    if (this.captures.size + this.opening >= MAX_PER_CONNECTION)
      throw new ResponseError(ErrorCodes.LimitExceeded, `at most ${MAX_PER_CONNECTION} captures per connection`);
    this.shared.take(this.caller);
    this.opening++;
    try {
      return await this.launch(req);
    } catch (err) {
      this.shared.give(this.caller);
      throw err;
    } finally {
      this.opening--;
    }
  }

  private async launch(req: CaptureStartParams): Promise<CaptureStartResult> {
    const where = await openCaptureTargets(req, this.shared.deps);
    let run: RunningCapture;
    try {
      run = startCapture(req, where, { seconds: CAPTURE_LIMITS.seconds, bytes: CAPTURE_LIMITS.bytes });
    } finally {
      closeAll(where.map((w) => w.ns)); // nsx-capture has its copies
    }
    const interfaces = await run.ready.catch((err) => {
      run.kill();
      throw err;
    });
    if (this.closed) {
      run.kill();
      throw new ResponseError(ErrorCodes.Failed, 'the connection closed');
    }
    const c: Capture = { id: this.shared.nextId++, run, closed: false };
    this.captures.set(c.id, c);
    void run.ended.then((end) => this.finish(c, end));
    // Until its stream connection comes, what it writes waits in its pipe (and, once that is full, is dropped).
    const token = this.shared.offer(c, this.caller, this, () => {
      c.failure = `no stream connection presented the capture's token within ${STREAM_TOKEN_SECONDS} s`;
      audit('capture/stream', { ...who(this.caller), capture: c.id, result: 'refused', reason: c.failure });
      run.kill();
    });
    return { capture: c.id, interfaces, token };
  }

  /**
   * The stream: nsx-capture's output piped into SOCKET as fast as its
   * reader takes it. It is one-way: a byte from the client, or its going,
   * ends it, and stops the capture; the capture's end ends it.
   */
  attach(c: Capture, socket: Socket): void {
    if (!this.captures.has(c.id) || c.closed) return void socket.destroy();
    c.stream = socket;
    socket.on('data', () => socket.destroy());
    socket.once('close', () => c.run.stop());
    socket.resume();
    c.run.pipeTo(socket, () => c.run.stop());
  }

  private finish(c: Capture, ended: Awaited<RunningCapture['ended']>): void {
    if (!this.captures.delete(c.id)) return;
    this.shared.withdraw(c);
    this.shared.give(this.caller);
    const end = c.failure ? { reason: 'failed', packets: 0, dropped: 0, error: c.failure } : ended;
    audit(CaptureEnd.method, { ...who(this.caller), capture: c.id, ...end });
    if (!c.closed) this.outbox.send(CaptureEnd, { capture: c.id, ...end }, 200);
    c.closed = true;
  }

  stop(capture: number): void {
    this.captures.get(capture)?.run.stop();
  }

  /** The client went: every capture is killed now; each ends (and is audited) as its process goes. */
  close(): void {
    this.closed = true;
    for (const c of this.captures.values()) {
      c.closed = true;
      this.shared.withdraw(c);
      c.run.kill();
      c.stream?.destroy();
    }
  }
}

async function audited(caller: Caller, params: unknown, mine: ConnectionCaptures): Promise<CaptureStartResult> {
  let target = 'invalid';
  let filter: string | undefined;
  try {
    const req = parseCaptureStart(params);
    target = describe(req);
    filter = req.filter;
    const result = await mine.start(req);
    const interfaces = result.interfaces.map(interfaceLabel).join(',');
    audit(CaptureStart.method, { ...who(caller), target, filter, capture: result.capture, interfaces, result: 'ok' });
    return result;
  } catch (err) {
    const reason = (err as Error).message;
    audit(CaptureStart.method, { ...who(caller), target, filter, result: 'refused', reason });
    throw err;
  }
}

/** The area, and the handler of the stream connections its tokens are for. */
export function captureArea(deps: CaptureDeps): { area: Area; stream: StreamHandler } {
  const shared = new Shared(deps);
  const area: Area = (conn, caller, onClose, outbox) => {
    const mine = new ConnectionCaptures(shared, caller, outbox);
    conn.onRequest(CaptureStart, (params) => audited(caller, params, mine));
    // Each listing is a short nsx-capture: a few at a time per connection.
    let listing = 0;
    conn.onRequest(CaptureInterfaces, async (params) => {
      if (listing >= MAX_PER_CONNECTION)
        throw new ResponseError(ErrorCodes.LimitExceeded, `at most ${MAX_PER_CONNECTION} interface listings at once`);
      listing++;
      try {
        const where = await openCaptureTargets(parseCaptureStart(params), deps);
        try {
          return await listInterfaces(where);
        } finally {
          closeAll(where.map((w) => w.ns));
        }
      } finally {
        listing--;
      }
    });
    conn.onNotification(CaptureStop, (params) => {
      const p = parsed(parseCaptureParams, params);
      if (p) mine.stop(p.capture);
    });
    onClose(() => mine.close());
  };
  return { area, stream: (token, socket, caller) => shared.stream(token, socket, caller) };
}

function who(caller: Caller) {
  return { uid: caller.uid, user: caller.user };
}
