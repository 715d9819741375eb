// The ports area: ports/list, ports/forward, ports/unforward, ports/forwards.
// Any member may list and forward in every namespace (membership already
// lets them enter it); a forward is its opener's: only their uid's
// connections get through (anyone's only if root asks), only they (or an
// admin) end it, and it ends with their connection unless kept. Each
// forward opened, ended or refused, and each connection refused, is audited.
import type { MessageConnection } from 'vscode-jsonrpc/node';
import { ResponseError } from 'vscode-jsonrpc/node';
import { audit } from '../access/audit';
import type { Caller } from '../access/access';
import { listPorts, readHeldOnly } from '../discovery/ports';
import { runInside } from '../kernel/inside';
import type { Scanner } from '../discovery/scanner';
import { closeQuietly } from '../fds';
import { Forwards } from '../kernel/forwards';
import { openNetTarget } from '../kernel/netTarget';
import type { Pins } from '../kernel/pins';
import type { Area } from '../rpc/server';
import {
  describeForward,
  Forward,
  ForwardClosed,
  ForwardPort,
  ListForwards,
  ListPorts,
  parseForward,
  parsePortsList,
  parseUnforward,
  Unforward,
} from '../../common/ports';
import { ErrorCodes } from '../../common/protocol';

const MAX_FORWARDS_PER_CONNECTION = 32;
const MAX_FORWARDS_PER_USER = 64;
/** Refused connections audited a second per forward; the rest are counted in the next line. */
const REFUSALS_AUDITED_PER_SECOND = 20;

export interface PortsArea {
  area: Area;
  stopAll(reason: string): void;
}

export function portsArea(scanner: Scanner, pins: Pins): PortsArea {
  /** Who is told when a forward ends: the connection that opened it, while it lasts. */
  const openers = new Map<number, MessageConnection>();
  const refusals = new Map<number, { second: number; count: number; dropped: number }>();
  const forwards = new Forwards({
    refused(f, peer, uid, reason) {
      const second = Math.floor(Date.now() / 1000);
      const r = refusals.get(f.id) ?? { second, count: 0, dropped: 0 };
      if (r.second !== second) Object.assign(r, { second, count: 0 });
      refusals.set(f.id, r);
      if (++r.count > REFUSALS_AUDITED_PER_SECOND) return void r.dropped++;
      audit('ports/connection', {
        forward: f.id,
        owner: f.user,
        peer,
        peerUid: uid,
        result: 'refused',
        reason,
        ...(r.dropped ? { more: r.dropped } : {}),
      });
      r.dropped = 0;
    },
    failed(f, reason) {
      audit('ports/connection', { forward: f.id, owner: f.user, result: 'failed', reason });
    },
    closed(f, reason) {
      refusals.delete(f.id);
      audit('ports/unforward', {
        forward: f.id,
        uid: f.uid,
        user: f.user,
        target: describeForward(f),
        total: f.total,
        result: 'closed',
        reason,
      });
      const conn = openers.get(f.id);
      openers.delete(f.id);
      conn?.sendNotification(ForwardClosed, { id: f.id, reason }).catch(() => undefined);
    },
  });
  /** Forwards starting, by uid, across connections: each counts against its user's until it lands. */
  const openingOf = new Map<number, number>();
  const mayManage = (caller: Caller, f: Forward) => caller.uid === f.uid || caller.role === 'admin';

  const area: Area = (conn, caller, onClose) => {
    const mine = new Set<number>();
    let closed = false;
    let opening = 0;

    conn.onRequest(ListPorts, async (params) => {
      const p = parsePortsList(params);
      let only: number | undefined;
      if (p.target) {
        const t = await openNetTarget(p.target, scanner, pins);
        closeQuietly(t.opened.fd);
        only = t.opened.inode;
      }
      const model = await scanner.model(only === undefined ? 2000 : 0);
      const result = await listPorts(model, only, p.udp !== false);
      await readHeldOnly(model, result, p.udp !== false, (ns, files) => runInside(model, ns, files, true));
      return result;
    });

    conn.onRequest(ForwardPort, async (params) => {
      let target = 'invalid';
      let counted = false;
      try {
        const p = parseForward(params);
        const ofConnection = [...mine].filter((id) => forwards.get(id)).length + opening;
        const ofUser = forwards.list().filter((f) => f.uid === caller.uid).length + (openingOf.get(caller.uid) ?? 0);
        refuseOverLimits(caller, p, ofConnection, ofUser);
        opening++;
        openingOf.set(caller.uid, (openingOf.get(caller.uid) ?? 0) + 1);
        counted = true;
        const t = await openNetTarget(p.target, scanner, pins);
        target = `${t.label}:${p.port}`;
        let f: Forward;
        try {
          f = await forwards.start({
            netnsFd: t.opened.fd,
            netns: t.opened.inode,
            target: t.label,
            address: p.address ?? '127.0.0.1',
            port: p.port,
            hostPort: p.hostPort ?? 0,
            keep: p.keep === true,
            anyUser: p.anyUser === true,
            owner: { uid: caller.uid, user: caller.user },
          });
        } finally {
          closeQuietly(t.opened.fd);
        }
        // The connection went while the helper started: nothing of it may stay.
        if (closed && !f.keep) {
          forwards.stop(f.id, 'its client went away');
          throw new ResponseError(ErrorCodes.Failed, 'the connection closed');
        }
        openers.set(f.id, conn);
        if (!f.keep) mine.add(f.id);
        audit(ForwardPort.method, {
          forward: f.id,
          uid: caller.uid,
          user: caller.user,
          target: describeForward(f),
          netns: f.netns,
          keep: f.keep,
          anyUser: f.anyUser,
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
        if (counted) {
          opening--;
          openingOf.set(caller.uid, openingOf.get(caller.uid)! - 1);
        }
      }
    });

    conn.onRequest(Unforward, (params) => {
      const { id } = parseUnforward(params);
      const f = forwards.get(id);
      if (!f || !mayManage(caller, f))
        throw new ResponseError(ErrorCodes.NotFound, `there is no forward ${id} of yours`);
      forwards.stop(id, `${caller.user} stopped it`);
      return null;
    });

    conn.onRequest(ListForwards, () => forwards.list().filter((f) => mayManage(caller, f)));

    onClose(() => {
      closed = true;
      for (const id of mine) forwards.stop(id, 'its client went away');
      for (const [id, c] of openers) if (c === conn) openers.delete(id);
    });
  };
  return { area, stopAll: (reason) => forwards.stopAll(reason) };
}

function refuseOverLimits(
  caller: Caller,
  p: ReturnType<typeof parseForward>,
  onConnection: number,
  ofUser: number,
): void {
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
