// Connects to nsxd and does the handshake; used by nsx, the tests and the
// benchmark (the extension connects through vscode-languageclient instead).
import { createConnection } from 'node:net';
import type { Duplex } from 'node:stream';
import { createMessageConnection, ErrorCodes, MessageConnection, StreamMessageReader } from 'vscode-jsonrpc/node';
import { defaultSocket, explainConnectError } from './deployment';
import { SocketMessageWriter } from './rpcWriter';
import { Initialize, Initialized, InitializeResult, PROTOCOL_VERSION, protocolMismatch } from './protocol';

export interface Client {
  conn: MessageConnection;
  /** The Unix socket, or a bridge's stdio (ssh, kubectl exec) as one stream. */
  socket: Duplex;
  /** Another stream to the same nsxd, not yet spoken on: a capture's bytes come on one (captureClient.ts). */
  open(): Promise<Duplex>;
  server: InitializeResult;
  close(): void;
}

export async function connect(path = defaultSocket(), clientName = 'nsx'): Promise<Client> {
  const open = () => openSocket(path);
  return handshake(await open(), clientName, (err) => lostConnection(err, path), open);
}

/** A connection to nsxd's socket at PATH, its failure said in the user's words. */
export function openSocket(path: string): Promise<Duplex> {
  return new Promise<Duplex>((resolve, reject) => {
    const s = createConnection(path);
    s.once('connect', () => resolve(s));
    s.once('error', (err: NodeJS.ErrnoException) => reject(new Error(explainConnectError(err, path))));
  });
}

/**
 * The handshake over any stream to nsxd: a local socket, or a bridge to
 * another host (helper/common/bridge.ts), whose failure FAILED says in the
 * transport's own words; OPEN makes another stream the same way.
 */
export async function handshake(
  socket: Duplex,
  clientName: string,
  failed: (err: unknown) => unknown | Promise<unknown>,
  open: () => Promise<Duplex>,
): Promise<Client> {
  const conn = createMessageConnection(new StreamMessageReader(socket), new SocketMessageWriter(socket));
  // vscode-jsonrpc leaves a request unanswered for ever when the socket closes
  // under it (nsx would end in silence, status 0); disposing rejects each one.
  conn.onClose(() => conn.dispose());
  conn.listen();
  socket.on('error', () => undefined);
  let lastWrite: Promise<void> = Promise.resolve();
  // The Initialized notification is written asynchronously: end the socket only after it.
  const close = () =>
    void lastWrite.finally(() => {
      conn.dispose();
      if (socket.writable) socket.end();
    });
  try {
    const server = await conn.sendRequest(Initialize, {
      processId: process.pid,
      clientInfo: { name: clientName },
      capabilities: {},
      initializationOptions: { protocolVersion: PROTOCOL_VERSION },
    });
    const mismatch = protocolMismatch(server);
    if (mismatch) throw new Error(mismatch);
    lastWrite = conn.sendNotification(Initialized, {}).catch(() => undefined);
    return { conn, socket, open, server, close };
  } catch (err) {
    conn.dispose();
    socket.destroy();
    throw await failed(err);
  }
}

/** A request's failure because nsxd hung up, said as such; any other error as it is. */
export function lostConnection(err: unknown, path: string): unknown {
  const e = err as { message?: string; code?: number } | undefined;
  // A write that failed (EPIPE, ECONNRESET), or a socket that closed before the answer.
  if (/^write E/.test(e?.message ?? '') || e?.code === ErrorCodes.PendingResponseRejected) {
    return new Error(`nsxd at ${path} closed the connection before answering; it may be stopping: try again`);
  }
  return err;
}
