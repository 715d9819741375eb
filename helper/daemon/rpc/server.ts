// Accepts connections on nsxd's socket: identifies the peer from SO_PEERCRED,
// enforces connection limits, refuses outsiders before serving anything,
// tells a capture's stream connection from a JSON-RPC one by its first bytes
// (preamble.ts), and wires each area's requests (discovery, pins, terminals,
// captures, ...) to a caller.
import { hostname, release } from 'node:os';
import type { Server as NetServer, Socket } from 'node:net';
import { createMessageConnection, MessageConnection, ResponseError } from 'vscode-jsonrpc/node';
import { SocketMessageWriter } from '../../common/rpcWriter';
import * as libc from '../../../native/libc';
import { audit } from '../access/audit';
import { Caller, identify, Policy } from '../access/access';
import { LimitedMessageReader } from './framing';
import { Outbox } from './outbox';
import { sniff } from './preamble';
import {
  ErrorCodes,
  Exit,
  Initialize,
  InitializeResult,
  Initialized,
  MAX_MESSAGE_BYTES,
  NsType,
  PROTOCOL_VERSION,
  Shutdown,
} from '../../common/protocol';

export interface Limits {
  connectionsPerUid: number;
  connectionsTotal: number;
  maxMessageBytes: number;
  partialTimeoutMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  connectionsPerUid: 32,
  connectionsTotal: 256,
  maxMessageBytes: MAX_MESSAGE_BYTES,
  partialTimeoutMs: 10_000,
};

/** An area of the protocol: given a connection, its caller and its outbox, it registers its handlers. */
export type Area = (conn: MessageConnection, caller: Caller, onClose: (fn: () => void) => void, outbox: Outbox) => void;

/**
 * Takes a connection that presented a stream token, from a caller who passed
 * the same checks as any (SO_PEERCRED, the group, the limits): it must check
 * the token and the caller against what the token was given for, and close
 * the socket, sending nothing, if either is wrong.
 */
export type StreamHandler = (token: string, socket: Socket, caller: Caller) => void;

export interface ServerOptions {
  group: string;
  policy: Policy;
  limits: Limits;
  areas: Area[];
  version: string;
  /** The namespace types this kernel has, which the handshake tells each client. */
  nstypes: NsType[];
  /** Stream connections (a capture's bytes); without it, each is closed. */
  stream?: StreamHandler;
}

export class Server {
  private perUid = new Map<number, number>();
  private total = 0;
  private open = new Set<() => void>();

  constructor(private readonly opts: ServerOptions) {}

  attach(server: NetServer): void {
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Ends every connection, and with them every session (nsxd is stopping). */
  closeAll(): void {
    for (const close of [...this.open]) close();
  }

  private accept(socket: Socket): void {
    socket.on('error', () => socket.destroy());
    let cred: libc.PeerCred;
    try {
      // The fd of an accepted Unix socket; identity is taken here, once.
      cred = libc.socketPeerCred(socket);
    } catch (err) {
      audit('connect', { result: 'refused', reason: `no peer credentials: ${(err as Error).message}` });
      socket.destroy();
      return;
    }
    const verdict = identify(cred, this.opts.group, this.opts.policy);
    if ('refused' in verdict) {
      audit('connect', { uid: cred.uid, pid: cred.pid, result: 'refused', reason: 'not in group' });
      this.refuse(socket, ErrorCodes.AccessDenied, verdict.refused);
      return;
    }
    const caller = verdict.caller;
    const mine = this.perUid.get(caller.uid) ?? 0;
    if (mine >= this.opts.limits.connectionsPerUid || this.total >= this.opts.limits.connectionsTotal) {
      const which =
        mine >= this.opts.limits.connectionsPerUid
          ? `${this.opts.limits.connectionsPerUid} per user`
          : `${this.opts.limits.connectionsTotal} in all`;
      audit('connect', {
        uid: caller.uid,
        user: caller.user,
        result: 'refused',
        reason: `connection limit (${which})`,
      });
      this.refuse(
        socket,
        ErrorCodes.LimitExceeded,
        `too many connections to nsxd (the limit is ${which}); close some clients and retry`,
      );
      return;
    }
    this.perUid.set(caller.uid, mine + 1);
    this.total++;
    // Counted until the socket is gone, whatever it turns out to be.
    socket.once('close', () => {
      const n = (this.perUid.get(caller.uid) ?? 1) - 1;
      if (n > 0) this.perUid.set(caller.uid, n);
      else this.perUid.delete(caller.uid);
      this.total--;
    });
    this.route(socket, caller);
  }

  /** JSON-RPC, or a stream connection, as its first bytes say; anything else is closed, sent nothing, and audited. */
  private route(socket: Socket, caller: Caller): void {
    sniff(socket, (verdict) => {
      if (verdict.kind === 'rpc') {
        this.serve(socket, caller, verdict.read);
        socket.resume();
        return;
      }
      if (verdict.kind === 'stream' && this.opts.stream) return this.opts.stream(verdict.token, socket, caller);
      const reason =
        verdict.kind === 'bad'
          ? verdict.reason
          : verdict.kind === 'closed'
            ? 'closed in the stream preamble'
            : 'no streams';
      // A peer that connected and went without a word is no event; one that went mid-preamble is.
      if (verdict.kind !== 'closed' || verdict.read.length > 0)
        audit('stream', { uid: caller.uid, user: caller.user, result: 'refused', reason });
      socket.destroy();
    });
  }

  /** Answers every request with the reason, then hangs up: a refused peer gets 16 KiB and 2 s. */
  private refuse(socket: Socket, code: number, message: string): void {
    const conn = createMessageConnection(
      new LimitedMessageReader(socket, { maxMessageBytes: 16 * 1024, partialTimeoutMs: 2000 }),
      new SocketMessageWriter(socket),
    );
    conn.onRequest(() => {
      setTimeout(() => socket.destroy(), 50);
      return new ResponseError(code, message);
    });
    conn.onNotification(() => undefined);
    conn.onError(() => socket.destroy());
    conn.onClose(() => conn.dispose());
    conn.listen();
    setTimeout(() => socket.destroy(), 2000).unref();
  }

  /** JSON-RPC, from the bytes the preamble's sniff read on. */
  private serve(socket: Socket, caller: Caller, read: Buffer): void {
    const reader = new LimitedMessageReader(
      socket,
      { maxMessageBytes: this.opts.limits.maxMessageBytes, partialTimeoutMs: this.opts.limits.partialTimeoutMs },
      read,
    );
    const conn = createMessageConnection(reader, new SocketMessageWriter(socket));
    const cleanups: (() => void)[] = [];
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      this.open.delete(close);
      for (const fn of cleanups.splice(0)) {
        try {
          fn();
        } catch {
          /* one area's cleanup must not stop the others */
        }
      }
      conn.dispose();
      socket.destroy();
    };
    conn.onError(([err]) => {
      audit('protocol', { uid: caller.uid, user: caller.user, result: 'closed', reason: err.message });
      close();
    });
    conn.onClose(close);
    socket.on('close', close);
    this.open.add(close);
    const outbox = new Outbox(conn, (reason) => {
      audit('protocol', { uid: caller.uid, user: caller.user, result: 'closed', reason });
      close();
    });

    conn.onRequest(Initialize, (): InitializeResult => ({
      capabilities: {},
      serverInfo: { name: 'nsxd', version: this.opts.version },
      protocolVersion: PROTOCOL_VERSION,
      identity: {
        uid: caller.uid,
        user: caller.user,
        role: caller.role,
        rootShells: caller.rootShells,
        nstypes: this.opts.nstypes,
      },
      host: { hostname: hostname(), kernel: release() },
    }));
    conn.onNotification(Initialized, () => undefined);
    conn.onRequest(Shutdown, () => null);
    conn.onNotification(Exit, () => close());
    // vscode-languageclient sends $/setTrace and the like; they mean nothing here.
    conn.onNotification(() => undefined);
    for (const area of this.opts.areas) area(conn, caller, (fn) => cleanups.push(fn), outbox);
    conn.listen();
  }
}
