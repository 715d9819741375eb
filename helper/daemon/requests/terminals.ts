// The terminal area: terminal/open, terminal/attach and the messages about
// an open session. Each is parsed (protocol.ts), authorised and audited here,
// and done by kernel/sessions.ts. A session dies with its connection, but
// not with nsxd: a stopping nsxd leaves it to the next.
import { MessageConnection, ResponseError } from 'vscode-jsonrpc/node';
import type { Caller } from '../access/access';
import { audit } from '../access/audit';
import { KERNEL_NSTYPES } from '../discovery/procfs';
import {
  attachSession,
  kill,
  openSession,
  Outbox,
  release,
  resumeIfRoom,
  Session,
  SessionDeps,
} from '../kernel/sessions';
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
 * How many sessions one user may have at once (sessionsPerUser), those
 * waiting to be attached again included: each holds a supervisor and its
 * scrollback in root's memory, and a member who orphans sessions through
 * restarts must not hold them without bound. Root's own are not counted.
 */
class SessionCap {
  /** Opens under way, by uid, across connections: each counts against its user's sessions until it lands. */
  private readonly openingOf = new Map<number, number>();

  constructor(
    private readonly registry: SessionDeps['registry'],
    private readonly perUser: number,
  ) {}

  /** Counts an open of the caller's as under way, unless its user has all the sessions it may. */
  begin(caller: Caller): void {
    const held = this.registry.countOf(caller.uid) + (this.openingOf.get(caller.uid) ?? 0);
    if (caller.uid !== 0 && held >= this.perUser) {
      throw new ResponseError(
        ErrorCodes.LimitExceeded,
        `${caller.user} has ${held} sessions, those waiting to be attached again included (at most ${this.perUser}): close some, or take them up again with nsx attach`,
      );
    }
    this.openingOf.set(caller.uid, (this.openingOf.get(caller.uid) ?? 0) + 1);
  }

  /** The open began landed or failed. */
  end(caller: Caller): void {
    this.openingOf.set(caller.uid, this.openingOf.get(caller.uid)! - 1);
  }
}

/** One connection's sessions, for the handlers of its messages. */
interface ConnectionSessions {
  caller: Caller;
  outbox: Outbox;
  sessions: Map<number, Session>;
  /**
   * Opens and attaches still waiting count against the limit, and a
   * connection that closes meanwhile gets none of them: they are killed as
   * they start.
   */
  opening: number;
  closed: boolean;
}

export function terminalArea(deps: SessionDeps, sessionsPerUser: number): Area {
  const cap = new SessionCap(deps.registry, sessionsPerUser);
  return (conn, caller, onClose, outbox) => {
    const c: ConnectionSessions = { caller, outbox, sessions: new Map(), opening: 0, closed: false };
    conn.onRequest(TerminalOpen, (params) => open(params, c, deps, cap));
    conn.onRequest(TerminalAttach, (params) => attach(params, c, deps));
    conn.onRequest(TerminalInput, (params) => input(params, c));
    onSessionNotifications(conn, c);
    onClose(() => {
      c.closed = true;
      for (const s of c.sessions.values()) release(s, deps);
    });
  };
}

function refuseOverConnectionCap(c: ConnectionSessions): void {
  if (c.sessions.size + c.opening >= MAX_SESSIONS_PER_CONNECTION) {
    throw new ResponseError(ErrorCodes.LimitExceeded, `at most ${MAX_SESSIONS_PER_CONNECTION} sessions per connection`);
  }
}

async function open(
  params: unknown,
  c: ConnectionSessions,
  deps: SessionDeps,
  cap: SessionCap,
): Promise<TerminalOpenResult> {
  const { caller } = c;
  refuseOverConnectionCap(c);
  let target = 'invalid';
  let root = false;
  c.opening++;
  let counted = false;
  try {
    cap.begin(caller);
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
    const result = await openSession(req, caller, deps, c.outbox, c.sessions, () => !c.closed);
    audit(TerminalOpen.method, {
      uid: caller.uid,
      user: caller.user,
      target,
      as: result.user,
      session: result.session,
      pid: result.pid,
      result: 'ok',
    });
    deps.watcher.reread([result.pid]);
    return result;
  } catch (err) {
    const reason = (err as Error).message;
    audit(TerminalOpen.method, { uid: caller.uid, user: caller.user, target, root, result: 'refused', reason });
    throw err;
  } finally {
    c.opening--;
    if (counted) cap.end(caller);
  }
}

async function attach(params: unknown, c: ConnectionSessions, deps: SessionDeps): Promise<TerminalOpenResult> {
  const { caller } = c;
  refuseOverConnectionCap(c);
  let session: number | undefined;
  c.opening++;
  try {
    const req = parseTerminalAttach(params);
    session = req.session;
    const result = await attachSession(req, caller, deps, c.outbox, c.sessions);
    if (c.closed) release(c.sessions.get(session)!, deps);
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
    const reason = (err as Error).message;
    audit(TerminalAttach.method, { uid: caller.uid, user: caller.user, session, result: 'refused', reason });
    throw err;
  } finally {
    c.opening--;
  }
}

function input(params: unknown, c: ConnectionSessions): null | Promise<null> {
  const p = parseTerminalInput(params);
  const s = c.sessions.get(p.session);
  if (!s) throw new ResponseError(ErrorCodes.NotFound, `no session ${p.session} on this connection`);
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
}

/** The notifications about an open session: end of input, resize, ack, close. */
function onSessionNotifications(conn: MessageConnection, c: ConnectionSessions): void {
  const live = (value: unknown): Session | undefined => {
    const p = parsed(parseSessionParams, value);
    return p && c.sessions.get(p.session);
  };
  conn.onNotification(TerminalEndInput, (params) => {
    const s = live(params);
    if (s && !s.info.pty && !s.closed) s.link.endInput();
  });
  conn.onNotification(TerminalResize, (params) => {
    const p = parsed(parseTerminalResize, params);
    const s = p && c.sessions.get(p.session);
    if (p && s?.info.pty && !s.closed) s.link.resize(p.rows, p.cols);
  });
  conn.onNotification(TerminalAck, (params) => {
    const p = parsed(parseTerminalAck, params);
    const s = p && c.sessions.get(p.session);
    if (!p || !s) return;
    // An ack for more than was sent only opens the window: memory is bounded by the outbox.
    s.unacked = Math.max(0, s.unacked - p.bytes);
    resumeIfRoom(s, c.outbox);
  });
  conn.onNotification(TerminalClose, (params) => {
    const s = live(params);
    if (s) kill(s);
  });
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
