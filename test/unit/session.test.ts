// A session's client across nsxd going and coming back, over real sockets
// with vscode-jsonrpc's connections on both sides.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { it } from 'node:test';
import { createMessageConnection, MessageConnection, StreamMessageReader } from 'vscode-jsonrpc/node';
import { TerminalAttach, TerminalInput, TerminalOpen, TerminalOpenResult } from '../../helper/common/protocol';
import { SocketMessageWriter } from '../../helper/common/rpcWriter';
import { SessionClient } from '../../helper/common/session';
import { socketPair } from './socketPair';

const SESSION: TerminalOpenResult = { session: 7, pid: 4242, title: 'sh', namespaces: [], user: 'root', uid: 0 };

/** An nsxd's side of a connection: it answers open and attach, and keeps the input it is sent (answered or not). */
function daemon(socket: Socket, answerInput: boolean) {
  const conn = createMessageConnection(new StreamMessageReader(socket), new SocketMessageWriter(socket));
  const input: string[] = [];
  conn.onRequest(TerminalOpen, () => SESSION);
  conn.onRequest(TerminalAttach, () => SESSION);
  conn.onRequest(TerminalInput, (p) => {
    input.push(Buffer.from(p.data, 'base64').toString());
    return answerInput ? null : new Promise<null>(() => undefined);
  });
  conn.listen();
  return { input };
}

function client(socket: Socket): MessageConnection {
  const conn = createMessageConnection(new StreamMessageReader(socket), new SocketMessageWriter(socket));
  conn.listen();
  return conn;
}

async function until<T>(what: string, value: () => T | undefined): Promise<T> {
  for (const end = Date.now() + 5000; Date.now() < end; await new Promise((r) => setTimeout(r, 10))) {
    const v = value();
    if (v) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

it('sends input on the connection it attached again on, not behind a request nsxd never answered before it went', async () => {
  const [toFirst, firstEnd] = await socketPair();
  const [toSecond, secondEnd] = await socketPair();
  try {
    const first = daemon(firstEnd, false);
    const session = new SessionClient();
    // Not disposed when nsxd goes, as vscode-languageclient leaves a client whose shutdown could not be written.
    await session.open(client(toFirst), { root: false, freshProc: false, persistent: true } as never);
    session.input('typed as nsxd died\n');
    await until('the first input at the first nsxd', () => first.input.length);
    firstEnd.destroy();
    await new Promise((r) => toFirst.once('close', r));
    session.held = true;

    const second = daemon(secondEnd, true);
    await session.attach(client(toSecond), { session: SESSION.session, pid: SESSION.pid });
    session.held = false;
    session.input('echo UP2\n');
    assert.deepEqual(await until('the input at the second nsxd', () => second.input.length && second.input), [
      'echo UP2\n',
    ]);
    session.input('and more\n');
    await until('more input at the second nsxd', () => second.input.length === 2);
  } finally {
    for (const s of [toFirst, firstEnd, toSecond, secondEnd]) s.destroy();
  }
});
