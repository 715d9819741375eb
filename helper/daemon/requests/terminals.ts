// The terminal area: terminal/open, terminal/attach and the messages about
// an open session. Each is parsed (protocol.ts), authorised and audited here,
// and done by kernel/sessions.ts. A session dies with its connection, but
// not with nsxd: a stopping nsxd leaves it to the next.
import { ResponseError } from 'vscode-jsonrpc/node';
import { audit } from '../access/audit';
import { KERNEL_NSTYPES } from '../discovery/procfs';
import { attachSession, kill, openSession, release, resumeIfRoom, Session, SessionDeps } from '../kernel/sessions';
import type { Area } from '../rpc/server';
import {
  ErrorCodes,
  isolateDefault,
  nsId,
  parseSessionParams,
  parseTerminalAck,
  parseTerminalAttach,
  parseTerminalInput,
  parseTerminalOpen,
  parseTerminalResize,
  TerminalAck,
  TerminalAttach,
  TerminalClose,
  TerminalEndInput,
  TerminalInput,
  TerminalOpen,
  TerminalOpenParams,
  TerminalOpenResult,
  TerminalResize,
} from '../../common/protocol';

const MAX_SESSIONS_PER_CONNECTION = 64;

/** Input written to a session but not yet read by it, past which more is refused. */
const MAX_INPUT_BACKLOG = 4 * 1024 * 1024;

/** Notifications get no answer: one that does not parse is dropped, and the session goes on. */
function parsed<T>(parse: (value: unknown) => T, value: unknown): T | undefined {
  try {
    return parse(value);
  } catch {
    return undefined;
  }
}

/**
 * sessionsPerUser: how many sessions one user may have at once, those
 * waiting to be attached again included: each holds a supervisor and its
 * scrollback in root's memory, and a member who orphans sessions through
 * restarts must not hold them without bound. Root's own are not counted.
 */
export function terminalArea(deps: SessionDeps, sessionsPerUser: number): Area {
  /** Opens under way, by uid, across connections: each counts against its user's sessions until it lands. */
  const openingOf = new Map<number, number>();
  const refuseOverCap = (uid: number, user: string) => {
    const held = deps.registry.countOf(uid) + (openingOf.get(uid) ?? 0);
    if (uid !== 0 && held >= sessionsPerUser) {
      throw new ResponseError(
        ErrorCodes.LimitExceeded,
        `${user} has ${held} sessions, those waiting to be attached again included (at most ${sessionsPerUser}): close some, or take them up again with nsx attach`,
      );
    }
  };
  return (conn, caller, onClose, outbox) => {
    const sessions = new Map<number, Session>();
    // Opens still waiting count against the limit, and a connection that closes
    // meanwhile gets none of them: they are killed as they start.
    let opening = 0;
    let closed = false;
    const session = (id: number): Session => {
      const s = sessions.get(id);
      if (!s) throw new ResponseError(ErrorCodes.NotFound, `no session ${id} on this connection`);
      return s;
    };
    const live = (value: unknown): Session | undefined => {
      const p = parsed(parseSessionParams, value);
      return p && sessions.get(p.session);
    };

    conn.onRequest(TerminalOpen, async (params): Promise<TerminalOpenResult> => {
      if (sessions.size + opening >= MAX_SESSIONS_PER_CONNECTION) {
        throw new ResponseError(
          ErrorCodes.LimitExceeded,
          `at most ${MAX_SESSIONS_PER_CONNECTION} sessions per connection`,
        );
      }
      let target = 'invalid';
      let root = false;
      opening++;
      let counted = false;
      try {
        refuseOverCap(caller.uid, caller.user);
        openingOf.set(caller.uid, (openingOf.get(caller.uid) ?? 0) + 1);
        counted = true;
        const req = parseTerminalOpen(params);
        target = describeTarget(req);
        root = req.root === true;
        if (req.root && !caller.rootShells) {
          throw new ResponseError(
            ErrorCodes.AccessDenied,
            `${caller.user} may not open root shells: an admin grants it in /etc/nsx/nsxd.json ("rootShells")`,
          );
        }
        const result = await openSession(req, caller, deps, outbox, sessions, () => !closed);
        audit(TerminalOpen.method, {
          uid: caller.uid,
          user: caller.user,
          target,
          as: result.user,
          session: result.session,
          pid: result.pid,
          result: 'ok',
        });
        deps.watcher.poke();
        return result;
      } catch (err) {
        audit(TerminalOpen.method, {
          uid: caller.uid,
          user: caller.user,
          target,
          root,
          result: 'refused',
          reason: (err as Error).message,
        });
        throw err;
      } finally {
        opening--;
        if (counted) openingOf.set(caller.uid, openingOf.get(caller.uid)! - 1);
      }
    });

    conn.onRequest(TerminalAttach, async (params): Promise<TerminalOpenResult> => {
      if (sessions.size + opening >= MAX_SESSIONS_PER_CONNECTION) {
        throw new ResponseError(
          ErrorCodes.LimitExceeded,
          `at most ${MAX_SESSIONS_PER_CONNECTION} sessions per connection`,
        );
      }
      let session: number | undefined;
      opening++;
      try {
        const req = parseTerminalAttach(params);
        session = req.session;
        const result = await attachSession(req, caller, deps, outbox, sessions);
        if (closed) release(sessions.get(session)!, deps);
        audit(TerminalAttach.method, {
          uid: caller.uid,
          user: caller.user,
          session,
          as: result.user,
          pid: result.pid,
          result: 'ok',
        });
        return result;
      } catch (err) {
        audit(TerminalAttach.method, {
          uid: caller.uid,
          user: caller.user,
          session,
          result: 'refused',
          reason: (err as Error).message,
        });
        throw err;
      } finally {
        opening--;
      }
    });

    conn.onRequest(TerminalInput, (params) => {
      const p = parseTerminalInput(params);
      const s = session(p.session);
      const data = Buffer.from(p.data, 'base64');
      if (s.closed) return null;
      // A client that does not wait for answers is refused rather than buffered for.
      if (s.link.writableLength > MAX_INPUT_BACKLOG)
        throw new ResponseError(
          ErrorCodes.LimitExceeded,
          'input is arriving faster than the session reads it; wait for each terminal/input answer',
        );
      // Answered when written: a client sends its next chunk only then.
      return new Promise<null>((resolve) => s.link.input(data, () => resolve(null)));
    });
    conn.onNotification(TerminalEndInput, (params) => {
      const s = live(params);
      if (s && !s.info.pty && !s.closed) s.link.endInput();
    });
    conn.onNotification(TerminalResize, (params) => {
      const p = parsed(parseTerminalResize, params);
      const s = p && sessions.get(p.session);
      if (p && s?.info.pty && !s.closed) s.link.resize(p.rows, p.cols);
    });
    conn.onNotification(TerminalAck, (params) => {
      const p = parsed(parseTerminalAck, params);
      const s = p && sessions.get(p.session);
      if (!p || !s) return;
      // An ack for more than was sent only opens the window: memory is bounded by the outbox.
      s.unacked = Math.max(0, s.unacked - p.bytes);
      resumeIfRoom(s, outbox);
    });
    conn.onNotification(TerminalClose, (params) => {
      const s = live(params);
      if (s) kill(s);
    });
    onClose(() => {
      closed = true;
      for (const s of sessions.values()) release(s, deps);
    });
  };
}

/** What a request opens, for the audit log. */
function describeTarget(req: TerminalOpenParams): string {
  const t = req.target;
  if (!t) return `isolate:${(req.types ?? isolateDefault(KERNEL_NSTYPES)).join(',')}`;
  if ('pid' in t) return `pid:${t.pid}`;
  if ('pin' in t) return `pin:${t.pin.type}/${t.pin.name}`;
  if ('container' in t) return `container:${t.container}`;
  return nsId(t.namespace);
}
