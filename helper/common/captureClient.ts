// What every client of a capture does the same way (nsx capture, the
// extension): start it, open its stream connection (a second connection to
// nsxd's socket that presents the start's token) and copy what comes into
// where it goes, reading no faster than that takes it (so a slow disk or
// reader paces nsx-capture, and the kernel counts what it dropped
// meanwhile), stop it, and learn how it ended (capture/end, on the first).
import type { Duplex, Writable } from 'node:stream';
import {
  CaptureEndParams,
  CaptureStart,
  CaptureStartParams,
  CaptureStartResult,
  CaptureStop,
  streamPreamble,
} from './capture';
import type { SessionConnection } from './session';

/** One capture, as its client sees it. */
export interface CaptureHandle {
  result: CaptureStartResult;
  /** Once the last byte was written: how it ended. */
  ended: Promise<CaptureEndParams>;
  /** Asks nsxd to stop; the end follows once what was captured is written. */
  stop(): void;
  /** Bytes of the stream written so far. */
  readonly bytes: number;
}

/** A new stream to nsxd (OPEN) that presents TOKEN: the capture's bytes follow, until nsxd ends them. */
export async function openStream(open: () => Promise<Duplex>, token: string): Promise<Duplex> {
  const stream = await open();
  stream.write(streamPreamble(token));
  return stream;
}

/**
 * Copies SOCKET into OUT (which stays open), reading only while OUT takes
 * more; COUNT sees each chunk. Resolves once the stream ended or broke, with
 * why OUT failed (a full disk, a reader gone), if it did: the stream is then
 * closed, which stops the capture.
 */
export function copyStream(socket: Duplex, out: Writable, count: (n: number) => void): Promise<string | undefined> {
  return new Promise((resolve) => {
    let failed: string | undefined;
    const onError = (err: Error) => {
      failed ??= `cannot write the capture: ${err.message}`;
      socket.destroy();
    };
    out.on('error', onError);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      count(chunk.length);
      if (!out.write(chunk)) {
        socket.pause();
        out.once('drain', () => socket.resume());
      }
    });
    socket.once('close', () => {
      out.off('error', onError);
      resolve(failed);
    });
  });
}

/** The captures of one connection: its capture/end notifications are routed here. */
export class CaptureStreams {
  private ends = new Map<number, (end: CaptureEndParams) => void>();
  private sockets = new Set<Duplex>();
  /** An end that came before its start's answer was taken in (nsxd answers first; this is in case). */
  private early = new Map<number, CaptureEndParams>();

  /** OPEN: a new stream to the nsxd that CONN speaks to, for each capture's bytes. */
  constructor(
    private readonly conn: SessionConnection,
    private readonly open: () => Promise<Duplex>,
  ) {}

  async start(params: CaptureStartParams, out: Writable): Promise<CaptureHandle> {
    const result = await this.conn.sendRequest(CaptureStart, params);
    const id = result.capture;
    const stop = () => void this.conn.sendNotification(CaptureStop, { capture: id }).catch(() => undefined);
    const said = new Promise<CaptureEndParams>((resolve) => this.ends.set(id, resolve));
    const early = this.early.get(id);
    if (early) this.end(early);
    this.early.delete(id);
    let bytes = 0;
    let copied: Promise<string | undefined>;
    try {
      const socket = await openStream(this.open, result.token);
      this.sockets.add(socket);
      copied = copyStream(socket, out, (n) => (bytes += n)).finally(() => this.sockets.delete(socket));
    } catch (err) {
      stop();
      copied = Promise.resolve(`cannot open the capture's stream: ${(err as Error).message}`);
    }
    const ended = Promise.all([said, copied]).then(([end, failed]) =>
      failed ? { ...end, reason: 'failed', error: failed } : end,
    );
    return {
      result,
      ended,
      stop,
      get bytes() {
        return bytes;
      },
    };
  }

  end(p: CaptureEndParams): void {
    const done = this.ends.get(p.capture);
    if (!done) {
      if (this.early.size < 16) this.early.set(p.capture, p);
      return;
    }
    this.ends.delete(p.capture);
    done(p);
  }

  /** The connection went: every capture ends, said as such, and its stream with it. */
  lost(reason: string): void {
    for (const [capture, done] of this.ends) done({ capture, reason: 'failed', packets: 0, dropped: 0, error: reason });
    this.ends.clear();
    for (const socket of this.sockets) socket.destroy();
  }
}
