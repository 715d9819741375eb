// Attaches local stdio to an nsxd session, a new one or one that outlived
// the nsxd it was opened with: a raw-mode pty when stdin is a terminal,
// plain pipes otherwise. Input is paced by nsxd's answers, output is
// acknowledged only once written, so neither side buffers without bound.
import type { MessageConnection, NotificationType } from 'vscode-jsonrpc/node';
import {
  TerminalAck, TerminalAttach, TerminalAttachParams, TerminalClose, TerminalEndInput, TerminalExit, TerminalInput, TerminalOpen, TerminalOpenParams,
  TerminalOpenResult, TerminalOutput, TerminalResize,
} from '../common/protocol';
import { attachAgain } from '../common/session';

export interface Streams {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** Runs a session (opened, or attached to again by its id) to its end and resolves with its exit code. */
export async function attach(conn: MessageConnection, what: TerminalOpenParams | TerminalAttachParams, io: Streams = process): Promise<number> {
  const interactive = io.stdin.isTTY === true && io.stdout.isTTY === true;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v; // nsxd keeps only its allowlist
  const size = { cols: io.stdout.columns || 80, rows: io.stdout.rows || 24 };
  const opened: TerminalOpenResult = 'session' in what
    ? await attachAgain((params) => conn.sendRequest(TerminalAttach, params), what)
    : await conn.sendRequest(TerminalOpen, { ...what, env, ...(interactive ? { pty: size } : {}) });
  const session = opened.session;
  if ('session' in what && interactive) void conn.sendNotification(TerminalResize, { session, ...size }).catch(() => undefined);
  let over = false;
  // Notifications after the session is over (late acks) would write to a closing socket.
  const notify = <P>(type: NotificationType<P>, params: P): Promise<void> =>
    over ? Promise.resolve() : conn.sendNotification(type, params).catch(() => undefined);

  const exit = new Promise<number>((resolve) => {
    conn.onNotification(TerminalExit, (p) => { if (p.session === session) resolve(p.code); });
    conn.onClose(() => {
      io.stderr.write(`\r\nnsx: the connection to nsxd was lost; the shell goes on: once nsxd is back, nsx attach ${session}\r\n`);
      resolve(255);
    });
  });
  conn.onNotification(TerminalOutput, (p) => {
    if (p.session !== session) return;
    const bytes = Buffer.from(p.data, 'base64');
    (p.stream === 'stderr' ? io.stderr : io.stdout).write(bytes, () => {
      void notify(TerminalAck, { session, bytes: bytes.length });
    });
  });

  // One input request in flight at a time; what arrives meanwhile is sent together.
  let queued: Buffer[] = [];
  let sending = false;
  let ended = false;
  const pump = async () => {
    if (sending) return;
    sending = true;
    while (queued.length > 0) {
      const data = Buffer.concat(queued);
      queued = [];
      io.stdin.pause();
      try {
        await conn.sendRequest(TerminalInput, { session, data: data.toString('base64') });
      } catch {
        break; // the session ended
      }
      io.stdin.resume();
    }
    sending = false;
    if (ended && !interactive) void notify(TerminalEndInput, { session });
  };
  const onData = (chunk: Buffer) => { queued.push(chunk); void pump(); };
  const onEnd = () => { ended = true; void pump(); };
  const onResize = () => void notify(TerminalResize, { session, cols: io.stdout.columns, rows: io.stdout.rows });
  if (interactive) {
    io.stdin.setRawMode(true);
    io.stdout.on('resize', onResize);
  }
  io.stdin.on('data', onData);
  io.stdin.on('end', onEnd);
  io.stdin.resume();
  const stop = () => void notify(TerminalClose, { session });
  process.once('SIGTERM', stop);
  process.once('SIGHUP', stop);
  try {
    return await exit;
  } finally {
    over = true;
    io.stdin.off('data', onData);
    io.stdin.off('end', onEnd);
    io.stdout.off('resize', onResize);
    process.off('SIGTERM', stop);
    process.off('SIGHUP', stop);
    if (interactive) io.stdin.setRawMode(false);
    io.stdin.pause();
    await new Promise<void>((resolve) => io.stdout.write('', () => resolve()));
  }
}
