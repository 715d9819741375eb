// The ports area: ports/list, ports/forward, ports/unforward, ports/forwards,
// ports/connect. Any member may list and forward in every namespace
// (membership already lets them enter it); a forward is its opener's: only
// their uid's connections get through (anyone's only if root asks), only they
// (or an admin) end it, and it ends with their connection unless kept. A
// streams forward's connections are stream connections, each presenting a
// token of ports/connect, good once, for a few seconds, for the opener's uid
// alone (as a capture's are). Each forward opened, ended or refused, and each
// connection refused, is audited.
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { MessageConnection } from 'vscode-jsonrpc/node';
import { ResponseError } from 'vscode-jsonrpc/node';
import { audit } from '../access/audit';
import type { Caller } from '../access/access';
import { listPorts, readHeldOnly } from '../discovery/ports';
import { runInside } from '../kernel/inside';
import type { Scanner } from '../discovery/scanner';
import { closeQuietly } from '../fds';
import { Forwards } from '../kernel/forwards';
import { NetTarget, openNetTarget } from '../kernel/netTarget';
import type { Pins } from '../kernel/pins';
import type { Area } from '../rpc/server';
import {
  describeForward,
  Forward,
  FORWARD_CONNECTED,
  ForwardClosed,
  ForwardConnect,
  ForwardParams,
  ForwardPort,
  ListForwards,
  ListPorts,
  parseForward,
  parseForwardConnect,
  parsePortsList,
  PortsListParams,
  PortsListResult,
  parseUnforward,
  Unforward,
} from '../../common/ports';
import { ErrorCodes } from '../../common/protocol';

const MAX_FORWARDS_PER_CONNECTION = 32;
const MAX_FORWARDS_PER_USER = 64;
/** ports/list requests read at once, across connections: each may read tens of thousands of fds. */
const MAX_LISTS_AT_ONCE = 4;
/** Refused connections audited a second per forward; the rest are counted in the next line. */
const REFUSALS_AUDITED_PER_SECOND = 20;
/** How long a ports/connect token waits for its stream connection. */
const TOKEN_MS = 10_000;
/** Tokens waiting at once, per forward: a client asks for one per connection it accepted. */
const TOKENS_PER_FORWARD = 64;

export interface PortsArea {
  area: Area;
  stopAll(reason: string): void;
  /** A stream connection: false when its token is none of ports/connect's (another area's, maybe). */
  stream(token: string, socket: Socket, caller: Caller): boolean;
}

/** A token waiting for its stream connection: for which forward, whose, until when. */
interface Waiting {
  forward: number;
  uid: number;
  expires: number;
}

/** Tokens are kept and looked up by their hash: a lookup's timing says nothing of a token's bytes. */
function tokenKey(token: string): string {
  return createHash('sha256').update(token, 'ascii').digest('hex');
}

/** What one connection has of the forwards: those that end with it, and those it is opening. */
interface ConnectionForwards {
  conn: MessageConnection;
  caller: Caller;
  mine: Set<number>;
  opening: number;
  closed: boolean;
}

export function portsArea(scanner: Scanner, pins: Pins): PortsArea {
  const requests = new PortsRequests(scanner, pins);
  return {
    area: (conn, caller, onClose) => requests.serve(conn, caller, onClose),
    stopAll: (r) => requests.stopAll(r),
    stream: (token, socket, caller) => requests.stream(token, socket, caller),
  };
}

class PortsRequests {
  /** Who is told when a forward ends: the connection that opened it, while it lasts. */
  private readonly openers = new Map<number, MessageConnection>();
  private readonly refusals = new Map<number, { second: number; count: number; dropped: number }>();
  /** Forwards starting, by uid, across connections: each counts against its user's until it lands. */
  private readonly openingOf = new Map<number, number>();
  private listing = 0;
  private readonly waiting = new Map<string, Waiting>();
  private readonly forwards = new Forwards({
    refused: (f, peer, uid, reason) => this.refused(f, peer, uid, reason),
    failed: (f, reason) => audit('ports/connection', { forward: f.id, owner: f.user, result: 'failed', reason }),
    closed: (f, reason) => this.closed(f, reason),
  });

  constructor(
    private readonly scanner: Scanner,
    private readonly pins: Pins,
  ) {}

  serve(conn: MessageConnection, caller: Caller, onClose: (fn: () => void) => void): void {
    const state: ConnectionForwards = { conn, caller, mine: new Set(), opening: 0, closed: false };
    const mayManage = (f: Forward) => caller.uid === f.uid || caller.role === 'admin';
    conn.onRequest(ListPorts, (params) => this.list(parsePortsList(params)));
    conn.onRequest(ForwardPort, (params) => this.open(state, params));
    conn.onRequest(Unforward, (params) => {
      const { id } = parseUnforward(params);
      const f = this.forwards.get(id);
      if (!f || !mayManage(f)) throw new ResponseError(ErrorCodes.NotFound, `there is no forward ${id} of yours`);
      this.forwards.stop(id, `${caller.user} stopped it`);
      return null;
    });
    conn.onRequest(ListForwards, () => this.forwards.list().filter(mayManage));
    conn.onRequest(ForwardConnect, (params) => this.offer(parseForwardConnect(params).forward, caller));
    onClose(() => {
      state.closed = true;
      for (const id of state.mine) this.forwards.stop(id, 'its client went away');
      for (const [id, c] of this.openers) if (c === conn) this.openers.delete(id);
    });
  }

  stopAll(reason: string): void {
    this.forwards.stopAll(reason);
  }

  /** ports/connect: a token for one connection through a streams forward of the caller's own. */
  private offer(id: number, caller: Caller): { token: string } {
    const now = Date.now();
    for (const [key, w] of this.waiting)
      if (w.expires <= now || !this.forwards.get(w.forward)) this.waiting.delete(key);
    const f = this.forwards.get(id);
    // Another's forward is as good as none: its existence is not told.
    if (!f?.streams || f.uid !== caller.uid)
      throw new ResponseError(ErrorCodes.NotFound, `there is no streams forward ${id} of yours`);
    if ([...this.waiting.values()].filter((w) => w.forward === id).length >= TOKENS_PER_FORWARD)
      throw new ResponseError(ErrorCodes.LimitExceeded, `at most ${TOKENS_PER_FORWARD} connections may wait to start`);
    const token = randomBytes(32).toString('hex');
    this.waiting.set(tokenKey(token), { forward: id, uid: caller.uid, expires: now + TOKEN_MS });
    return { token };
  }

  /** A stream connection whose token is ours: for its uid, not expired, its forward still there; else closed, audited. */
  stream(token: string, socket: Socket, caller: Caller): boolean {
    const key = tokenKey(token);
    const w = this.waiting.get(key);
    if (!w) return false;
    const refuse = (reason: string) => {
      audit('ports/connection', { forward: w.forward, peerUid: caller.uid, result: 'refused', reason });
      socket.destroy();
      return true;
    };
    // Not used up by another uid: the token leaked, and its owner may still present it.
    if (w.uid !== caller.uid) return refuse(`the token is uid ${w.uid}'s`);
    this.waiting.delete(key);
    if (w.expires <= Date.now()) return refuse('the token expired');
    if (!this.forwards.connectStream(w.forward, socket, FORWARD_CONNECTED)) return refuse('the forward has ended');
    return true;
  }

  private async list(p: PortsListParams): Promise<PortsListResult> {
    if (this.listing >= MAX_LISTS_AT_ONCE)
      throw new ResponseError(
        ErrorCodes.Busy,
        `at most ${MAX_LISTS_AT_ONCE} port listings at a time: try again in a moment`,
      );
    this.listing++;
    try {
      return await this.read(p);
    } finally {
      this.listing--;
    }
  }

  private async read(p: PortsListParams): Promise<PortsListResult> {
    let only: number | undefined;
    if (p.target) {
      const t = await openNetTarget(p.target, this.scanner, this.pins);
      closeQuietly(t.opened.fd);
      only = t.opened.inode;
    }
    const model = await this.scanner.model(only === undefined ? 2000 : 0);
    const result = await listPorts(model, only, p.udp !== false);
    await readHeldOnly(model, result, p.udp !== false, (ns, files) => runInside(model, ns, files, true));
    return result;
  }

  /** ports/forward: parsed, counted against the limits, opened, audited either way. */
  private async open(state: ConnectionForwards, params: unknown): Promise<Forward> {
    const { caller } = state;
    let target = 'invalid';
    let counted = false;
    try {
      const p = parseForward(params);
      const ofConnection = [...state.mine].filter((id) => this.forwards.get(id)).length + state.opening;
      const ofUser =
        this.forwards.list().filter((f) => f.uid === caller.uid).length + (this.openingOf.get(caller.uid) ?? 0);
      refuseOverLimits(caller, p, ofConnection, ofUser);
      this.count(state, 1);
      counted = true;
      const t = await openNetTarget(p.target, this.scanner, this.pins);
      target = `${t.label}:${p.port}`;
      const f = await this.start(p, t, caller).finally(() => closeQuietly(t.opened.fd));
      // The connection went while the helper started: nothing of it may stay.
      if (state.closed && !f.keep) {
        this.forwards.stop(f.id, 'its client went away');
        throw new ResponseError(ErrorCodes.Failed, 'the connection closed');
      }
      this.openers.set(f.id, state.conn);
      if (!f.keep) state.mine.add(f.id);
      const { id: forward, netns, keep, anyUser } = f;
      audit(ForwardPort.method, {
        forward,
        uid: caller.uid,
        user: caller.user,
        target: describeForward(f),
        netns,
        keep,
        anyUser,
        result: 'ok',
      });
      return f;
    } catch (err) {
      audit(ForwardPort.method, {
        uid: caller.uid,
        user: caller.user,
        target,
        result: 'refused',
        reason: (err as Error).message,
      });
      throw err;
    } finally {
      if (counted) this.count(state, -1);
    }
  }

  private count(state: ConnectionForwards, by: 1 | -1): void {
    state.opening += by;
    this.openingOf.set(state.caller.uid, (this.openingOf.get(state.caller.uid) ?? 0) + by);
  }

  private start(p: ForwardParams, t: NetTarget, caller: Caller): Promise<Forward> {
    return this.forwards.start({
      netnsFd: t.opened.fd,
      netns: t.opened.inode,
      target: t.label,
      address: p.address ?? '127.0.0.1',
      port: p.port,
      hostPort: p.hostPort ?? 0,
      keep: p.keep === true,
      anyUser: p.anyUser === true,
      streams: p.streams === true,
      owner: { uid: caller.uid, user: caller.user },
    });
  }

  /** A connection that was not let through: audited, at most REFUSALS_AUDITED_PER_SECOND a second a forward. */
  private refused(f: Forward, peer: string, uid: number | undefined, reason: string): void {
    const second = Math.floor(Date.now() / 1000);
    const r = this.refusals.get(f.id) ?? { second, count: 0, dropped: 0 };
    if (r.second !== second) Object.assign(r, { second, count: 0 });
    this.refusals.set(f.id, r);
    if (++r.count > REFUSALS_AUDITED_PER_SECOND) return void r.dropped++;
    const more = r.dropped ? { more: r.dropped } : {};
    audit('ports/connection', { forward: f.id, owner: f.user, peer, peerUid: uid, result: 'refused', reason, ...more });
    r.dropped = 0;
  }

  private closed(f: Forward, reason: string): void {
    this.refusals.delete(f.id);
    const { id: forward, uid, user, total } = f;
    audit('ports/unforward', { forward, uid, user, target: describeForward(f), total, result: 'closed', reason });
    const conn = this.openers.get(f.id);
    this.openers.delete(f.id);
    conn?.sendNotification(ForwardClosed, { id: f.id, reason }).catch(() => undefined);
  }
}

function refuseOverLimits(caller: Caller, p: ForwardParams, onConnection: number, ofUser: number): void {
  if (p.streams && (p.anyUser || p.hostPort || p.keep))
    throw new ResponseError(
      ErrorCodes.InvalidParams,
      "a streams forward has no port here, is its opener's alone and ends with its client: no hostPort, anyUser or keep",
    );
  if (p.anyUser && caller.uid !== 0)
    throw new ResponseError(ErrorCodes.AccessDenied, 'only root may open a forward every local user can use');
  if (p.hostPort !== undefined && p.hostPort !== 0 && p.hostPort < 1024 && caller.uid !== 0)
    throw new ResponseError(
      ErrorCodes.AccessDenied,
      `only root may forward to a host port below 1024 (${p.hostPort}); choose 1024 or above, or 0 for any`,
    );
  if (onConnection >= MAX_FORWARDS_PER_CONNECTION)
    throw new ResponseError(ErrorCodes.LimitExceeded, `at most ${MAX_FORWARDS_PER_CONNECTION} forwards per connection`);
  if (caller.uid !== 0 && ofUser >= MAX_FORWARDS_PER_USER)
    throw new ResponseError(
      ErrorCodes.LimitExceeded,
      `${caller.user} has ${ofUser} forwards (at most ${MAX_FORWARDS_PER_USER}): stop some with nsx unforward or in VS Code`,
    );
}
