// Port forwards: nsxd listens on the host's 127.0.0.1:hostPort and, for each
// connection whose peer belongs to the forward's opener, asks the forward's
// nsx-connect for a socket connected inside the namespace, then copies bytes
// both ways (Node's pipe: each side reads only as fast as the other writes;
// a FIN is passed on as a FIN). Every local user can reach 127.0.0.1, so a
// connection is let through only when the socket that made it is the
// opener's (its uid in /proc/net/tcp), unless root opened it for anyone.
// A streams forward listens nowhere: its connections are stream connections
// its opener's client made (requests/ports.ts checked their token and uid),
// for a client on another host that listens on its own 127.0.0.1.
import { createServer, Server, Socket } from 'node:net';
import { ResponseError } from 'vscode-jsonrpc/node';
import type { Forward } from '../../common/ports';
import { ErrorCodes } from '../../common/protocol';
import { peerUid } from '../discovery/sockets';
import { Connector } from './connector';

/** Connections one forward carries at once; more are closed as they come. */
const MAX_CONNECTIONS = 256;

export interface ForwardSpec {
  /** The net namespace, opened and checked; the caller closes it once open() settles. */
  netnsFd: number;
  netns: number;
  target: string;
  address: string;
  port: number;
  hostPort: number;
  keep: boolean;
  anyUser: boolean;
  /** No listening socket: connections come through connectStream. */
  streams: boolean;
  owner: { uid: number; user: string };
}

/** What happens to a forward after it opened, for the audit log (kernel/ does not write it). */
export interface ForwardEvents {
  refused(f: Forward, peer: string, uid: number | undefined, reason: string): void;
  failed(f: Forward, reason: string): void;
  closed(f: Forward, reason: string): void;
}

interface Open {
  info: Forward;
  /** None for a streams forward. */
  server: Server | undefined;
  connector: Connector;
  sockets: Set<Socket>;
}

export class Forwards {
  private readonly open = new Map<number, Open>();
  private nextId = 1;

  constructor(private readonly events: ForwardEvents) {}

  async start(spec: ForwardSpec): Promise<Forward> {
    const connector = await Connector.start(spec.netnsFd);
    const server = spec.streams ? undefined : await this.listen(spec, connector);
    const address = server?.address();
    const info: Forward = {
      id: this.nextId++,
      target: spec.target,
      netns: spec.netns,
      address: spec.address,
      port: spec.port,
      hostAddress: '127.0.0.1',
      hostPort: typeof address === 'object' && address ? address.port : 0,
      uid: spec.owner.uid,
      user: spec.owner.user,
      keep: spec.keep,
      anyUser: spec.anyUser,
      connections: 0,
      total: 0,
      ...(spec.streams && { streams: true }),
    };
    const f: Open = { info, server, connector, sockets: new Set() };
    this.open.set(info.id, f);
    server?.on('error', (err) => this.stop(info.id, `its listening socket failed: ${err.message}`));
    server?.on('connection', (socket) => this.accept(f, socket));
    connector.onExit = (reason) => this.stop(info.id, reason);
    return { ...info };
  }

  /** The forward's port on 127.0.0.1, listening; said in words when it cannot be had. */
  private async listen(spec: ForwardSpec, connector: Connector): Promise<Server> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: '127.0.0.1', port: spec.hostPort, exclusive: true }, resolve);
      });
    } catch (err) {
      connector.end('its port could not be opened');
      const code = (err as NodeJS.ErrnoException).code;
      throw new ResponseError(
        code === 'EADDRINUSE' ? ErrorCodes.Conflict : ErrorCodes.Failed,
        code === 'EADDRINUSE'
          ? `127.0.0.1:${spec.hostPort} is in use on the host: choose another port, or 0 for any`
          : `cannot listen on 127.0.0.1:${spec.hostPort}: ${code ?? (err as Error).message}`,
      );
    }
    return server;
  }

  private accept(f: Open, socket: Socket): void {
    socket.on('error', () => socket.destroy());
    const peer = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    const shown = `${peer.address}:${peer.port}`;
    if (f.sockets.size >= MAX_CONNECTIONS) {
      socket.destroy();
      this.events.refused(f.info, shown, undefined, `${MAX_CONNECTIONS} connections are open already`);
      return;
    }
    const uid = peerUid(peer, { address: '127.0.0.1', port: f.info.hostPort });
    if (!f.info.anyUser && uid !== f.info.uid) {
      socket.destroy();
      this.events.refused(
        f.info,
        shown,
        uid,
        uid === undefined ? 'no socket of any user makes this connection' : `not ${f.info.user}'s`,
      );
      return;
    }
    this.carry(f, socket);
  }

  /**
   * A stream connection for streams forward ID, its token and uid checked:
   * connected inside, then CONNECTED is written on it and the bytes flow.
   * False (and the socket closed) when there is no such forward.
   */
  connectStream(id: number, socket: Socket, connected: string): boolean {
    const f = this.open.get(id);
    if (!f?.info.streams) {
      socket.destroy();
      return false;
    }
    socket.on('error', () => socket.destroy());
    if (f.sockets.size >= MAX_CONNECTIONS) {
      socket.destroy();
      this.events.refused(f.info, 'a stream', f.info.uid, `${MAX_CONNECTIONS} connections are open already`);
      return true;
    }
    this.carry(f, socket, connected);
    return true;
  }

  /** Counts SOCKET among F's, connects inside, and splices the two (after saying FIRST on it, if given). */
  private carry(f: Open, socket: Socket, first?: string): void {
    f.sockets.add(socket);
    f.info.connections = f.sockets.size;
    f.info.total++;
    socket.once('close', () => {
      f.sockets.delete(socket);
      f.info.connections = f.sockets.size;
    });
    f.connector.connect(f.info.address, f.info.port).then(
      (fd) => {
        const inner = new Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
        if (socket.destroyed || !this.open.has(f.info.id)) return void inner.destroy();
        if (first) socket.write(first);
        splice(socket, inner);
      },
      (err: Error) => {
        socket.destroy();
        if (this.open.has(f.info.id))
          this.events.failed(f.info, `${f.info.address}:${f.info.port} inside: ${err.message}`);
      },
    );
  }

  /** Ends a forward: its port closed, its connections cut, its helper killed. */
  stop(id: number, reason: string): void {
    const f = this.open.get(id);
    if (!f) return;
    this.open.delete(id);
    f.server?.close();
    for (const s of f.sockets) s.destroy();
    f.connector.end(reason);
    this.events.closed(f.info, reason);
  }

  get(id: number): Forward | undefined {
    const f = this.open.get(id);
    return f && { ...f.info };
  }

  list(): Forward[] {
    return [...this.open.values()].map((f) => ({ ...f.info }));
  }

  stopAll(reason: string): void {
    for (const id of [...this.open.keys()]) this.stop(id, reason);
  }
}

/** Bytes both ways, backpressure from pipe; one side's end is the other's FIN; an error or a close ends both. */
function splice(outer: Socket, inner: Socket): void {
  inner.on('error', () => inner.destroy());
  // As a proxy should: a small write (a keystroke, a request line) goes now, not after the peer's ACK.
  outer.setNoDelay(true);
  inner.setNoDelay(true);
  const both = () => {
    outer.destroy();
    inner.destroy();
  };
  outer.once('close', both);
  inner.once('close', both);
  outer.pipe(inner);
  inner.pipe(outer);
}
