// Forwards from this machine's 127.0.0.1 into another host's namespace: that
// host's nsxd opens a streams forward (no port there), and the extension
// listens here. Each connection it accepts, if it is this user's (every
// local user can reach 127.0.0.1), is carried over a stream connection of its
// own (another bridge run, as a capture's stream is): ports/connect gives a
// token, the stream presents it, the far nsxd connects inside with
// nsx-connect and says so, then the bytes flow both ways.
import { createServer, Server, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { LanguageClient } from 'vscode-languageclient/node';
import { streamPreamble } from '../helper/common/capture';
import {
  Forward,
  FORWARD_CONNECTED,
  ForwardConnect,
  ForwardParams,
  ForwardPort,
  Unforward,
} from '../helper/common/ports';
import { tcpPeerUid } from '../helper/common/tcpPeer';
import type { Connection } from './connection';

/** How long a connection waits for the far side to say it is connected inside. */
const CONNECT_MS = 30_000;

interface Carried {
  server: Server;
  sockets: Set<Socket>;
}

export class CarriedForwards {
  private readonly carried = new Map<number, Carried>();

  constructor(private readonly connection: Connection) {}

  /** Opens the far side, then listens here: the Forward as this window sees it (its port here). */
  async start(params: ForwardParams): Promise<Forward> {
    const client = this.connection.require();
    const far = await client.sendRequest(ForwardPort, { ...params, hostPort: undefined, streams: true });
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: '127.0.0.1', port: params.hostPort ?? 0, exclusive: true }, resolve);
      });
    } catch (err) {
      void client.sendRequest(Unforward, { id: far.id }).catch(() => undefined);
      const code = (err as NodeJS.ErrnoException).code;
      throw new Error(
        code === 'EADDRINUSE'
          ? `127.0.0.1:${params.hostPort} is in use here: choose another port, or 0 for any`
          : `cannot listen on 127.0.0.1:${params.hostPort ?? 0} here: ${code ?? (err as Error).message}`,
      );
    }
    const c: Carried = { server, sockets: new Set() };
    this.carried.set(far.id, c);
    const port = (server.address() as { port: number }).port;
    server.on('connection', (socket) => void this.accept(client, far.id, port, c, socket));
    server.on('error', () => this.end(far.id));
    return { ...far, hostPort: port };
  }

  /** The forward as this window shows it, if it carries it: its port here (one that listens there is of no use here). */
  shown(f: Forward): Forward | undefined {
    const c = this.carried.get(f.id);
    if (!c) return undefined;
    return { ...f, hostPort: (c.server.address() as { port: number } | null)?.port ?? 0 };
  }

  private async accept(client: LanguageClient, id: number, port: number, c: Carried, socket: Socket): Promise<void> {
    socket.on('error', () => socket.destroy());
    const peer = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    if (tcpPeerUid(peer, { address: '127.0.0.1', port }) !== process.getuid?.()) return void socket.destroy();
    c.sockets.add(socket);
    socket.once('close', () => c.sockets.delete(socket));
    let stream: Duplex | undefined;
    try {
      const { token } = await client.sendRequest(ForwardConnect, { forward: id });
      stream = await this.connection.open();
      stream.write(streamPreamble(token));
      const rest = await connected(stream);
      if (socket.destroyed) return void stream.destroy();
      if (rest.length) socket.write(rest);
      splice(socket, stream);
    } catch {
      // Refused inside, or the link went: the connection is closed, as a refused port's is.
      socket.destroy();
      stream?.destroy();
    }
  }

  /** Ends what this window carries of forward ID (the far side ends with it, or has ended). */
  end(id: number): void {
    const c = this.carried.get(id);
    if (!c) return;
    this.carried.delete(id);
    c.server.close();
    for (const s of c.sockets) s.destroy();
  }

  endAll(): void {
    for (const id of [...this.carried.keys()]) this.end(id);
  }
}

/** Resolves once the far nsxd said it is connected inside, with any bytes that came after; rejects if the stream ends first. */
function connected(stream: Duplex): Promise<Buffer> {
  const want = Buffer.from(FORWARD_CONNECTED, 'ascii');
  return new Promise((resolve, reject) => {
    let read = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error('no answer')), CONNECT_MS);
    const fail = (err: Error) => {
      clearTimeout(timer);
      stream.off('data', onData);
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      read = Buffer.concat([read, chunk]);
      if (read.length < want.length) return;
      clearTimeout(timer);
      stream.off('data', onData);
      stream.pause();
      if (!read.subarray(0, want.length).equals(want)) return reject(new Error('not a forward stream'));
      resolve(read.subarray(want.length));
    };
    stream.on('data', onData);
    stream.once('close', () => fail(new Error('closed')));
    stream.on('error', () => undefined);
  });
}

/** Bytes both ways, each side read only as fast as the other writes; one side's end is the other's. */
function splice(socket: Socket, stream: Duplex): void {
  socket.setNoDelay(true);
  const both = () => {
    socket.destroy();
    stream.destroy();
  };
  socket.once('close', both);
  stream.once('close', both);
  socket.pipe(stream);
  stream.pipe(socket);
}
