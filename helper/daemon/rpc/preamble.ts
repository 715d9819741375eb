// The first bytes of a connection say what it is: a JSON-RPC client's start
// with a header (Content-Length:), a capture's stream connection with
// exactly the line `NSX-STREAM 1 <64 lowercase hex>\n` and nothing after
// it. Decided byte by byte: the first byte that differs from the prefix
// makes it JSON-RPC, handled as ever with what was read; a connection that
// says the whole prefix must say the rest within a bound, exactly, or is
// closed. Nothing here allocates more than the preamble's 78 bytes.
import type { Socket } from 'node:net';

export const STREAM_PREFIX = 'NSX-STREAM 1 ';
export const TOKEN_HEX = 64;
/** The whole line: prefix, token, newline. */
export const PREAMBLE_BYTES = STREAM_PREFIX.length + TOKEN_HEX + 1;
/** A connection that said the prefix must finish the line within this. */
export const PREAMBLE_TIMEOUT_MS = 2000;

const PREFIX = Buffer.from(STREAM_PREFIX, 'ascii');
const NEWLINE = 0x0a;

export type Preamble =
  | { kind: 'rpc'; read: Buffer }
  | { kind: 'stream'; token: string }
  | { kind: 'bad'; reason: string }
  | { kind: 'more' }
  | { kind: 'closed'; read: Buffer };

function isLowerHex(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66);
}

/** What the bytes read so far make the connection; `more` while it cannot yet tell. */
export function classify(read: Buffer): Preamble {
  const n = Math.min(read.length, PREFIX.length);
  for (let i = 0; i < n; i++) if (read[i] !== PREFIX[i]) return { kind: 'rpc', read };
  if (read.length > PREAMBLE_BYTES) return { kind: 'bad', reason: 'bytes after the stream preamble' };
  for (let i = PREFIX.length; i < Math.min(read.length, PREAMBLE_BYTES - 1); i++)
    if (!isLowerHex(read[i])) return { kind: 'bad', reason: 'malformed stream token' };
  if (read.length < PREAMBLE_BYTES) return { kind: 'more' };
  if (read[PREAMBLE_BYTES - 1] !== NEWLINE) return { kind: 'bad', reason: 'malformed stream preamble' };
  return { kind: 'stream', token: read.toString('ascii', PREFIX.length, PREAMBLE_BYTES - 1) };
}

/**
 * Reads a connection's first bytes until classify can tell, then calls back
 * once, with the socket paused and no listener of its own left on it: the
 * bytes read go along with an `rpc` verdict. No bytes at all wait as a
 * JSON-RPC connection that says nothing always has; the prefix bounds the
 * wait. `closed`: the peer went before it could tell (with what it said).
 */
export function sniff(socket: Socket, done: (verdict: Exclude<Preamble, { kind: 'more' }>) => void): void {
  let read: Buffer = Buffer.alloc(0);
  let timer: NodeJS.Timeout | undefined;
  const finish = (verdict: Exclude<Preamble, { kind: 'more' }>) => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', onClose);
    socket.pause();
    done(verdict);
  };
  const onData = (chunk: Buffer) => {
    read = read.length === 0 ? chunk : Buffer.concat([read, chunk]);
    const verdict = classify(read);
    if (verdict.kind !== 'more') return finish(verdict);
    timer ??= setTimeout(
      () => finish({ kind: 'bad', reason: 'stream preamble not completed in time' }),
      PREAMBLE_TIMEOUT_MS,
    );
  };
  const onClose = () => finish({ kind: 'closed', read });
  socket.on('data', onData);
  socket.on('close', onClose);
}
