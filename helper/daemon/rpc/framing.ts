// A Content-Length message reader that enforces nsxd's limits, which
// vscode-jsonrpc's own reader does not: a size cap, a deadline for a message
// that never completes, and no second chance for a malformed one. Any
// violation ends that connection only; the daemon never throws on input.
import type { Socket } from 'node:net';
import { AbstractMessageReader, DataCallback, Disposable, Message } from 'vscode-jsonrpc';

export interface FramingLimits {
  maxMessageBytes: number;
  /** A message whose bytes started arriving must be complete within this. */
  partialTimeoutMs: number;
}

const MAX_HEADER_BYTES = 1024;
const HEADER_END = Buffer.from('\r\n\r\n');

export class LimitedMessageReader extends AbstractMessageReader {
  private buffer: Buffer = Buffer.alloc(0);
  private expected = -1;
  private timer: NodeJS.Timeout | undefined;
  private callback: DataCallback | undefined;
  private failed = false;

  /** READ: what was read from the socket before this reader (the first bytes, to tell a stream connection). */
  constructor(
    private readonly socket: Socket,
    private readonly limits: FramingLimits,
    private read: Buffer = Buffer.alloc(0),
  ) {
    super();
    socket.on('close', () => {
      this.clearTimer();
      this.fireClose();
    });
    socket.on('error', (err) => this.fireError(err));
  }

  listen(callback: DataCallback): Disposable {
    this.callback = callback;
    // Before any byte the socket has yet to give: in order, and synchronously, so none is missed.
    if (this.read.length > 0) this.onData(this.read);
    this.read = Buffer.alloc(0);
    const onData = (chunk: Buffer) => this.onData(chunk);
    this.socket.on('data', onData);
    return Disposable.create(() => this.socket.off('data', onData));
  }

  private onData(chunk: Buffer): void {
    if (this.failed) return;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let completed = false;
    try {
      for (;;) {
        if (this.expected < 0) {
          const end = this.buffer.indexOf(HEADER_END);
          if (end < 0) {
            if (this.buffer.length > MAX_HEADER_BYTES) throw new Error('message header too long');
            break;
          }
          this.expected = parseHeaders(this.buffer.subarray(0, end).toString('ascii'), this.limits.maxMessageBytes);
          this.buffer = this.buffer.subarray(end + HEADER_END.length);
        }
        if (this.buffer.length < this.expected) break;
        const body = this.buffer.subarray(0, this.expected);
        this.buffer = this.buffer.subarray(this.expected);
        this.expected = -1;
        completed = true;
        this.callback?.(parseMessage(body));
      }
    } catch (err) {
      this.fail(err instanceof Error ? err.message : String(err));
      return;
    }
    // The deadline is per message: one that completed restarts it for the next.
    if (completed) this.clearTimer();
    if (this.buffer.length > 0 || this.expected >= 0) this.armTimer();
  }

  private armTimer(): void {
    if (this.timer) return;
    this.timer = setTimeout(
      () => this.fail(`message not completed within ${this.limits.partialTimeoutMs / 1000} s`),
      this.limits.partialTimeoutMs,
    );
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fail(reason: string): void {
    this.failed = true;
    this.clearTimer();
    this.fireError(new Error(reason));
    this.socket.destroy();
  }
}

function parseHeaders(text: string, max: number): number {
  let length = -1;
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error('malformed message header');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') {
      if (!/^\d{1,10}$/.test(value)) throw new Error('malformed Content-Length');
      length = Number(value);
    } else if (name !== 'content-type') {
      throw new Error(`unexpected header ${JSON.stringify(name.slice(0, 40))}`);
    }
  }
  if (length < 0) throw new Error('missing Content-Length');
  if (length > max) throw new Error(`message of ${length} bytes exceeds the limit of ${max}`);
  return length;
}

function parseMessage(body: Buffer): Message {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new Error('message body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || (value as Message).jsonrpc !== '2.0') {
    throw new Error('message is not a JSON-RPC 2.0 object');
  }
  return value as Message;
}
