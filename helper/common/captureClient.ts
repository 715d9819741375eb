// What every client of a capture does the same way (nsx capture, the
// extension): start it, write its stream where it goes and acknowledge each
// chunk once written (so a slow disk or reader paces nsxd, and the kernel
// counts what it dropped meanwhile), stop it, and learn how it ended.
import {
  CaptureAck,
  CaptureDataParams,
  CaptureEndParams,
  CaptureStart,
  CaptureStartParams,
  CaptureStartResult,
  CaptureStop,
} from './capture';
import type { SessionConnection } from './session';

/** One capture, as its client sees it. */
export interface CaptureHandle {
  result: CaptureStartResult;
  /** Once the last byte was written: how it ended. */
  ended: Promise<CaptureEndParams>;
  /** Asks nsxd to stop; the end follows once what was captured is written. */
  stop(): void;
}

interface Stream {
  write: (bytes: Buffer) => Promise<void>;
  /** Each chunk written in order; the end waits for the last. */
  last: Promise<void>;
  done: (end: CaptureEndParams) => void;
  /** Writing failed (a full disk, a reader gone): the capture is stopped, and its end says why. */
  failed?: string;
}

/** The captures of one connection: its capture/data and capture/end notifications are routed here. */
export class CaptureStreams {
  private streams = new Map<number, Stream>();
  /** What came for a capture before its start was answered (nsxd sends the answer first; this is in case). */
  private early = new Map<number, (CaptureDataParams | CaptureEndParams)[]>();

  constructor(private readonly conn: SessionConnection) {}

  async start(params: CaptureStartParams, write: (bytes: Buffer) => Promise<void>): Promise<CaptureHandle> {
    const result = await this.conn.sendRequest(CaptureStart, params);
    const id = result.capture;
    let done: (end: CaptureEndParams) => void = () => undefined;
    const ended = new Promise<CaptureEndParams>((resolve) => (done = resolve));
    this.streams.set(id, { write, last: Promise.resolve(), done });
    for (const m of this.early.get(id) ?? []) 'data' in m ? this.data(m) : this.end(m);
    this.early.delete(id);
    return {
      result,
      ended,
      stop: () => void this.conn.sendNotification(CaptureStop, { capture: id }).catch(() => undefined),
    };
  }

  data(p: CaptureDataParams): void {
    const s = this.streams.get(p.capture);
    if (!s) return this.hold(p);
    const bytes = Buffer.from(p.data, 'base64');
    const ack = () => this.conn.sendNotification(CaptureAck, { capture: p.capture, bytes: bytes.length });
    s.last = s.last.then(async () => {
      if (s.failed) return void ack().catch(() => undefined);
      try {
        await s.write(bytes);
      } catch (err) {
        s.failed = `cannot write the capture: ${(err as Error).message}`;
        void this.conn.sendNotification(CaptureStop, { capture: p.capture }).catch(() => undefined);
      }
      await ack().catch(() => undefined);
    });
  }

  end(p: CaptureEndParams): void {
    const s = this.streams.get(p.capture);
    if (!s) return this.hold(p);
    this.streams.delete(p.capture);
    void s.last.finally(() => s.done(s.failed ? { ...p, reason: 'failed', error: s.failed } : p));
  }

  /** The connection went: every capture ends, said as such. */
  lost(reason: string): void {
    for (const [capture, s] of this.streams)
      void s.last.finally(() => s.done({ capture, reason: 'failed', packets: 0, dropped: 0, error: reason }));
    this.streams.clear();
  }

  private hold(m: CaptureDataParams | CaptureEndParams): void {
    const list = this.early.get(m.capture) ?? [];
    if (this.early.size < 16 && list.length < 1024) this.early.set(m.capture, [...list, m]);
  }
}
