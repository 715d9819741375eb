// Attaches local stdio to an nsxd session, a new one or one that outlived
// the nsxd it was opened with: a raw-mode pty when stdin is a terminal,
// plain pipes otherwise. Input is paced by nsxd's answers, output is
// acknowledged only once written, so neither side buffers without bound.
import type { MessageConnection } from 'vscode-jsonrpc/node';
import { TerminalAttachParams, TerminalExit, TerminalOpenParams, TerminalOutput } from '../common/protocol';
import { SessionClient } from '../common/session';

export interface Streams {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** Runs a session (opened, or attached to again by its id) to its end and resolves with its exit code. */
export async function attach(
  conn: MessageConnection,
  what: TerminalOpenParams | TerminalAttachParams,
  io: Streams = process,
  /** Called instead of the usual sentence when the connection goes (a bridge that will attach again). */
  lost?: (session: number) => void,
): Promise<number> {
  const interactive = io.stdin.isTTY === true && io.stdout.isTTY === true;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v; // nsxd keeps only its allowlist
  const size = { cols: io.stdout.columns || 80, rows: io.stdout.rows || 24 };
  // stdin is not read while an input request is in flight: what is typed meanwhile waits in the kernel.
  const client = new SessionClient({ sending: () => io.stdin.pause(), sent: () => io.stdin.resume() });
  const opened =
    'session' in what
      ? await client.attach(conn, what)
      : await client.open(conn, { ...what, env, ...(interactive ? { pty: size } : {}) });
  const session = opened.session;
  if ('session' in what && interactive) client.resize(size.cols, size.rows);

  const exit = exitOf(conn, session, io, lost);
  conn.onNotification(TerminalOutput, (p) => {
    if (p.session !== session) return;
    const stream = p.stream === 'stderr' ? io.stderr : io.stdout;
    client.output(p.data, (bytes) => new Promise((resolve) => stream.write(bytes, () => resolve())));
  });

  const onData = (chunk: Buffer) => client.input(chunk);
  // A pipe's end is passed on (once what came before it is sent); a terminal's is not, as a pty has no end of input but ^D.
  const onEnd = () => void (interactive ? client.flush() : client.endInput());
  const onResize = () => client.resize(io.stdout.columns, io.stdout.rows);
  if (interactive) {
    io.stdin.setRawMode(true);
    io.stdout.on('resize', onResize);
  }
  io.stdin.on('data', onData);
  io.stdin.on('end', onEnd);
  io.stdin.resume();
  const stop = () => client.close();
  process.once('SIGTERM', stop);
  process.once('SIGHUP', stop);
  try {
    return await exit;
  } finally {
    client.over = true; // late acks would write to a closing socket
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

/** What the session exited with; 255 when the connection to nsxd is lost (the shell goes on, to be attached again). */
function exitOf(
  conn: MessageConnection,
  session: number,
  io: Streams,
  lost?: (session: number) => void,
): Promise<number> {
  return new Promise<number>((resolve) => {
    conn.onNotification(TerminalExit, (p) => {
      if (p.session === session) resolve(p.code);
    });
    conn.onClose(() => {
      if (lost) lost(session);
      else
        io.stderr.write(
          `\r\nnsx: the connection to nsxd was lost; the shell goes on: once nsxd is back, nsx attach ${session}\r\n`,
        );
      resolve(255);
    });
  });
}
