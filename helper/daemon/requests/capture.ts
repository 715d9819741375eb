// The capture area: capture/start, its stream (capture/data, paced by
// capture/ack as terminal output is), capture/stop and capture/end. Any
// member may capture, as any member may open a root shell's equal (the
// socket is root-equivalent); each start and end is audited. A capture dies
// with its connection: nsx-capture is killed and its pipes closed.
import { ResponseError } from 'vscode-jsonrpc/node';
import { audit } from '../access/audit';
import type { Caller } from '../access/access';
import { CaptureDeps, listInterfaces, openCaptureTargets, RunningCapture, startCapture } from '../kernel/capture';
import { closeAll } from '../fds';
import type { Area } from '../rpc/server';
import type { Outbox } from '../rpc/outbox';
import {
  CAPTURE_LIMITS,
  CaptureAck,
  CaptureData,
  CaptureEnd,
  CaptureInterfaces,
  CaptureStart,
  CaptureStartParams,
  CaptureStartResult,
  CaptureStop,
  interfaceLabel,
  parseCaptureAck,
  parseCaptureParams,
  parseCaptureStart,
} from '../../common/capture';
import { ErrorCodes, OUTPUT_WINDOW } from '../../common/protocol';

const MAX_PER_CONNECTION = 4;
const MAX_PER_USER = 16;

interface Capture {
  id: number;
  run: RunningCapture;
  unacked: number;
  closed: boolean;
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

/** The stream to the client, no more than OUTPUT_WINDOW unacknowledged, nor while the connection's outbox is full. */
function pump(c: Capture, outbox: Outbox): { resume(): void; dispose(): void } {
  const resume = () => {
    if (!c.closed && c.unacked < OUTPUT_WINDOW && !outbox.congested) c.run.out.resume();
  };
  c.run.out.on('data', (chunk: Buffer) => {
    if (c.closed) return;
    c.unacked += chunk.length;
    outbox.send(CaptureData, { capture: c.id, data: chunk.toString('base64') }, chunk.length * 1.4);
    if (c.unacked >= OUTPUT_WINDOW || outbox.congested) c.run.out.pause();
  });
  const dispose = outbox.onDrain(resume);
  resume();
  return { resume, dispose };
}

/** What all connections share: captures running or starting, per user (root's not capped), and the ids. */
class Shared {
  private held = new Map<number, number>();
  nextId = 1;
  constructor(readonly deps: CaptureDeps) {}
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
  private pumps = new Map<number, ReturnType<typeof pump>>();
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
    const c: Capture = { id: this.shared.nextId++, run, unacked: 0, closed: false };
    this.captures.set(c.id, c);
    void run.ended.then((end) => this.finish(c, end));
    // The answer goes out first; the stream starts after it.
    setImmediate(() => {
      if (this.captures.has(c.id)) this.pumps.set(c.id, pump(c, this.outbox));
    });
    return { capture: c.id, interfaces };
  }

  private finish(c: Capture, end: Awaited<RunningCapture['ended']>): void {
    if (!this.captures.delete(c.id)) return;
    this.pumps.get(c.id)?.dispose();
    this.pumps.delete(c.id);
    this.shared.give(this.caller);
    audit(CaptureEnd.method, { ...who(this.caller), capture: c.id, ...end });
    if (!c.closed) this.outbox.send(CaptureEnd, { capture: c.id, ...end }, 200);
    c.closed = true;
  }

  ack(capture: number, bytes: number): void {
    const c = this.captures.get(capture);
    if (!c) return;
    // An ack for more than was sent only opens the window: memory is bounded by the outbox.
    c.unacked = Math.max(0, c.unacked - bytes);
    this.pumps.get(c.id)?.resume();
  }

  stop(capture: number): void {
    this.captures.get(capture)?.run.stop();
  }

  /** The client went: every capture is killed now; each ends (and is audited) as its process goes. */
  close(): void {
    this.closed = true;
    for (const c of this.captures.values()) {
      c.closed = true;
      c.run.kill();
      this.pumps.get(c.id)?.dispose();
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

export function captureArea(deps: CaptureDeps): Area {
  const shared = new Shared(deps);
  return (conn, caller, onClose, outbox) => {
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
    conn.onNotification(CaptureAck, (params) => {
      const p = parsed(parseCaptureAck, params);
      if (p) mine.ack(p.capture, p.bytes);
    });
    conn.onNotification(CaptureStop, (params) => {
      const p = parsed(parseCaptureParams, params);
      if (p) mine.stop(p.capture);
    });
    onClose(() => mine.close());
  };
}

function who(caller: Caller) {
  return { uid: caller.uid, user: caller.user };
}
