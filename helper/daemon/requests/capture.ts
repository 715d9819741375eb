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
        'pid' in t
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

export function captureArea(deps: CaptureDeps): Area {
  const perUser = new Map<number, number>();
  let nextId = 1;
  const count = (uid: number, by: number) => perUser.set(uid, (perUser.get(uid) ?? 0) + by);
  return (conn, caller, onClose, outbox) => {
    const captures = new Map<number, Capture>();
    const pumps = new Map<number, ReturnType<typeof pump>>();
    let opening = 0;
    let closed = false;

    const start = async (req: CaptureStartParams): Promise<CaptureStartResult> => {
      const where = await openCaptureTargets(req, deps);
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
      const c: Capture = { id: nextId++, run, unacked: 0, closed: false };
      if (closed) {
        run.kill();
        throw new ResponseError(ErrorCodes.Failed, 'the connection closed');
      }
      captures.set(c.id, c);
      count(caller.uid, 1);
      void run.ended.then((end) => finish(c, end));
      // The answer goes out first; the stream starts after it.
      setImmediate(() => {
        if (captures.has(c.id)) pumps.set(c.id, pump(c, outbox));
      });
      return { capture: c.id, interfaces };
    };

    const finish = (c: Capture, end: Awaited<RunningCapture['ended']>) => {
      if (!captures.delete(c.id)) return;
      pumps.get(c.id)?.dispose();
      pumps.delete(c.id);
      count(caller.uid, -1);
      audit(CaptureEnd.method, { uid: caller.uid, user: caller.user, capture: c.id, ...end });
      if (!c.closed) outbox.send(CaptureEnd, { capture: c.id, ...end }, 200);
      c.closed = true;
    };

    conn.onRequest(CaptureStart, async (params): Promise<CaptureStartResult> => {
      let target = 'invalid';
      let filter: string | undefined;
      try {
        const held = captures.size + opening;
        if (held >= MAX_PER_CONNECTION)
          throw new ResponseError(ErrorCodes.LimitExceeded, `at most ${MAX_PER_CONNECTION} captures per connection`);
        if (caller.uid !== 0 && (perUser.get(caller.uid) ?? 0) + opening >= MAX_PER_USER)
          throw new ResponseError(
            ErrorCodes.LimitExceeded,
            `${caller.user} has ${MAX_PER_USER} captures running: stop some first`,
          );
        opening++;
        try {
          const req = parseCaptureStart(params);
          target = describe(req);
          filter = req.filter;
          const result = await start(req);
          audit(CaptureStart.method, {
            ...who(caller),
            target,
            filter,
            capture: result.capture,
            interfaces: result.interfaces.map(interfaceLabel).join(','),
            result: 'ok',
          });
          return result;
        } finally {
          opening--;
        }
      } catch (err) {
        audit(CaptureStart.method, {
          ...who(caller),
          target,
          filter,
          result: 'refused',
          reason: (err as Error).message,
        });
        throw err;
      }
    });

    conn.onRequest(CaptureInterfaces, async (params) => {
      const where = await openCaptureTargets(parseCaptureStart(params), deps);
      try {
        return await listInterfaces(where);
      } finally {
        closeAll(where.map((w) => w.ns));
      }
    });

    conn.onNotification(CaptureAck, (params) => {
      const p = parsed(parseCaptureAck, params);
      const c = p && captures.get(p.capture);
      if (!p || !c) return;
      c.unacked = Math.max(0, c.unacked - p.bytes);
      pumps.get(c.id)?.resume();
    });
    conn.onNotification(CaptureStop, (params) => {
      const p = parsed(parseCaptureParams, params);
      if (p) captures.get(p.capture)?.run.stop();
    });
    onClose(() => {
      closed = true;
      for (const c of captures.values()) {
        c.closed = true;
        c.run.kill();
        pumps.get(c.id)?.dispose();
      }
    });
  };
}

function who(caller: Caller) {
  return { uid: caller.uid, user: caller.user };
}
