// A session: a shell (or command) that nsx-exec starts in namespaces nsxd
// opened and checked, as the identity the caller is allowed, on a pty (or
// pipes) that its supervisor (nsx-session) holds, in a cgroup of its own; its
// output relayed as base64 notifications with a credit window. Killing a
// session kills its whole tree. A session outlives nsxd and its connection
// with it: the next nsxd attaches its owner to it again.
import { constants as osConstants } from 'node:os';
import { NotificationType, ResponseError } from 'vscode-jsonrpc/node';
import {
  ErrorCodes,
  NsKey,
  nsId,
  nsLinkOfNew,
  NsType,
  OUTPUT_WINDOW,
  TerminalAttachParams,
  TerminalExit,
  TerminalOpenParams,
  TerminalOpenResult,
  TerminalOutput,
} from '../../common/protocol';
import type { Caller } from '../access/access';
import { readNsLink } from '../discovery/procfs';
import type { Scanner } from '../discovery/scanner';
import type { Watcher } from '../discovery/watch';
import { closeAll } from '../fds';
import type { SessionCgroups } from './cgroup';
import { environment, runAs, RunAs } from './environment';
import { supervise, Supervised } from './launcher';
import type { Pins } from './pins';
import { check, place, Placement } from './placement';
import { accountLives, ownerOf, SessionRegistry } from './sessionRegistry';
import { Hello, SessionInfo, SupervisorLink } from './supervisorLink';

export interface Session {
  id: number;
  link: SupervisorLink;
  info: SessionInfo;
  unacked: number;
  closed: boolean;
}

/**
 * Where a session's output and exit go: its connection's outbox, as a
 * session sees it (rpc/outbox.ts satisfies it; the kernel knows no socket).
 */
export interface Outbox {
  /** Sends a notification of about BYTES; false once the connection is gone. */
  send<P>(type: NotificationType<P>, params: P, bytes: number): boolean;
  /** More output should wait until onDrain calls back. */
  readonly congested: boolean;
  /** Calls back when the connection can take more; returns how to stop. */
  onDrain(fn: () => void): () => void;
}

export interface SessionDeps {
  scanner: Scanner;
  pins: Pins;
  cgroups: SessionCgroups;
  registry: SessionRegistry;
  watcher: Watcher;
  userName(uid: number): string;
}

/**
 * Opens a session: where, as whom, the checks, then nsx-exec under its
 * supervisor in a fresh cgroup. Every fd taken on the way is closed once the
 * supervisor has its copies, or on any failure; the session is kept only
 * once it started and its connection is still alive.
 */
export async function openSession(
  req: TerminalOpenParams,
  caller: Caller,
  deps: SessionDeps,
  outbox: Outbox,
  sessions: Map<number, Session>,
  alive: () => boolean,
): Promise<TerminalOpenResult> {
  const who = runAs(req, caller);
  const where = await place(req, caller, who, deps);
  // The namespace the title names comes first: it is the one "Reveal" shows.
  const joined: NsKey[] = where.joins
    .map(({ type, inode }) => ({ type, inode }))
    .sort((a, b) => Number(where.title.startsWith(nsId(b))) - Number(where.title.startsWith(nsId(a))));
  const id = deps.registry.newId();
  try {
    await check(req, caller, deps, who, where);
    const cgroup = deps.cgroups.create(id);
    const launched = launch(id, req, caller, who, where, cgroup, deps);
    void launched.pid.then((pid) => deps.cgroups.adopt(pid));
    // The supervisor has its copies now; nsxd keeps none of these.
    closeAll(where.joins);
    where.joins = [];
    const { link, hello } = await started(launched, alive);
    deps.cgroups.adopt(await launched.pid); // and what it started meanwhile
    const result: TerminalOpenResult = {
      session: id,
      pid: hello.pid,
      title: where.title,
      namespaces: req.target ? joined : created(hello.pid, where.unshare),
      user: who.user,
      uid: who.identity.uid,
    };
    const info: SessionInfo = {
      owner: caller.uid,
      account: caller.user,
      root: who.asRoot,
      pty: req.pty !== undefined,
      ...(req.persistent ? { persistent: true } : {}),
      ...result,
      ...(cgroup ? { cgroup } : {}),
    };
    link.store(info);
    deps.registry.owners.set(id, ownerOf(info)!);
    take({ id, link, info, unacked: 0, closed: false }, outbox, deps, sessions);
    return result;
  } catch (err) {
    closeAll(where.joins);
    throw err;
  }
}

/** nsx-exec under the session's supervisor (nsx-session), in its namespaces, as whom it runs, in its cgroup. */
function launch(
  id: number,
  req: TerminalOpenParams,
  caller: Caller,
  who: RunAs,
  where: Placement,
  cgroup: string | undefined,
  deps: SessionDeps,
): Supervised {
  const { unshare } = where;
  return supervise(
    {
      joins: where.joins.map(({ type, fd }) => ({ type, fd })),
      unshare: req.freshProc ? ['mnt'] : unshare,
      hostname: unshare.includes('uts') ? (req.hostname ?? 'isolated') : undefined,
      mountProc: req.freshProc || (unshare.includes('pid') && unshare.includes('mnt')),
      identity: who.identity,
      home: where.inside?.cwd ?? who.home,
      shells: [...new Set([who.asRoot ? '/bin/bash' : caller.shell, '/bin/bash', '/bin/sh'])],
      command: req.command,
      env: environment(req, who, where.inside),
    },
    {
      socket: deps.registry.socketOf(id),
      orphanTimeout: deps.registry.orphanTimeout,
      pty: req.pty,
      cgroup,
    },
  );
}

/**
 * The link to the supervisor once the session started and its connection is
 * still alive; else the supervisor is told to end it, and the open fails.
 * The supervisor says hello as it starts, before nsx-exec is through.
 */
async function started(
  { ready, connection }: Supervised,
  alive: () => boolean,
): Promise<{ link: SupervisorLink; hello: Hello }> {
  const handed = SupervisorLink.handed(connection);
  // A supervisor that fails closes it too: its status says why.
  handed.hello.catch(() => undefined);
  let hello: Hello | undefined;
  const failure = await ready
    .then(
      async () => {
        hello = await withTimeout(handed.hello, 2000);
        return alive() ? undefined : 'the connection closed while the session started';
      },
      (err: Error) => `the session could not start: ${err.message}`,
    )
    .catch((err: Error) => `the session's supervisor did not answer: ${err.message}`);
  if (failure || !hello) {
    // Its supervisor ends it, kills what started and removes its socket and cgroup (one that failed is gone).
    void handed.link.end();
    throw new ResponseError(ErrorCodes.Failed, failure ?? 'the session could not start');
  }
  return { link: handed.link, hello };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('no hello')), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * Attaches a caller to a session that a previous nsxd (or this one, before
 * a client went without closing it) left with its supervisor. Whoever is not
 * its owner is told there is no such session, so ids say nothing to others,
 * and nsxd never connects to its supervisor for them: the owner cannot be
 * kept out by anyone knocking. A session whose account is gone (or whose uid
 * another account has now) ends.
 */
export async function attachSession(
  req: TerminalAttachParams,
  caller: Caller,
  deps: SessionDeps,
  outbox: Outbox,
  sessions: Map<number, Session>,
): Promise<TerminalOpenResult> {
  const { registry } = deps;
  const none = () =>
    new ResponseError(ErrorCodes.NotFound, `no session ${req.session} of ${caller.user}'s is waiting to be attached`);
  const owner = registry.owners.get(req.session);
  if (!owner || owner.uid !== caller.uid) throw none();
  if (!accountLives(owner) || (owner.account !== undefined && owner.account !== caller.user)) {
    registry.owners.delete(req.session);
    const found = await SupervisorLink.connect(registry.socketOf(req.session)).catch(() => undefined);
    await found?.link.end();
    throw none();
  }
  if (registry.attached.has(req.session))
    throw new ResponseError(ErrorCodes.Conflict, `session ${req.session} is attached to another connection`);
  // Two attaches of one session at once (two windows, a retry): one connects, the other is told to try again.
  if (registry.connecting.has(req.session)) throw busy(req.session);
  registry.connecting.add(req.session);
  let found: Awaited<ReturnType<typeof SupervisorLink.connect>>;
  try {
    found = await SupervisorLink.connect(registry.socketOf(req.session)).catch((err: NodeJS.ErrnoException) => {
      // Its socket is gone: the session ended. Else the supervisor answers someone else now.
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
        registry.owners.delete(req.session);
        throw none();
      }
      throw busy(req.session);
    });
  } finally {
    registry.connecting.delete(req.session);
  }
  const { link, hello } = found;
  const info = hello.info;
  if (
    !info ||
    info.owner !== caller.uid ||
    (req.pid !== undefined && req.pid !== hello.pid) ||
    registry.attached.has(req.session)
  ) {
    link.detach();
    throw none();
  }
  // A root shell a member opened is theirs only while the policy still grants root shells.
  if (info.root && caller.uid !== 0 && !caller.rootShells) {
    link.detach();
    throw new ResponseError(
      ErrorCodes.AccessDenied,
      `session ${req.session} is a root shell and ${caller.user} may no longer open root shells`,
    );
  }
  take({ id: req.session, link, info, unacked: 0, closed: false }, outbox, deps, sessions);
  const { title, namespaces, user, uid } = info;
  return { session: req.session, pid: hello.pid, title, namespaces: namespaces as NsKey[], user, uid };
}

function busy(session: number): ResponseError<void> {
  return new ResponseError(ErrorCodes.Busy, `session ${session} is busy being attached: try again`);
}

/** The session is this connection's: its output flows to it, paced by the client's acks. */
function take(s: Session, outbox: Outbox, deps: SessionDeps, sessions: Map<number, Session>): void {
  sessions.set(s.id, s);
  deps.registry.attached.set(s.id, s.info.owner);
  s.link.adopt();
  // Output once the answer is out: a client knows the session's id only from it.
  setImmediate(() => relay(s, outbox, deps, sessions));
}

/** The namespaces a fresh session got, read off its launcher (pid and time are its children's). */
function created(pid: number, types: NsType[]): NsKey[] {
  const keys: NsKey[] = [];
  for (const type of types) {
    const inode = readNsLink(`/proc/${pid}/ns/${nsLinkOfNew(type)}`)?.[1];
    if (inode !== undefined) keys.push({ type, inode });
  }
  return keys;
}

function relay(s: Session, outbox: Outbox, deps: SessionDeps, sessions: Map<number, Session>): void {
  const stopWaiting = outbox.onDrain(() => resumeIfRoom(s, outbox));
  const end = (code: number, signal?: string) => {
    if (s.closed) return;
    s.closed = true;
    sessions.delete(s.id);
    deps.registry.attached.delete(s.id);
    deps.registry.owners.delete(s.id);
    stopWaiting();
    outbox.send(TerminalExit, { session: s.id, code, ...(signal ? { signal } : {}) }, 64);
    deps.watcher.reread([]); // its processes' exits are events of their own; without events, a full scan
  };
  s.link.listen({
    output: (chunk, stream) => {
      s.unacked += chunk.length;
      const data = chunk.toString('base64');
      outbox.send(TerminalOutput, { session: s.id, data, ...(stream ? { stream } : {}) }, data.length);
      if (s.unacked >= OUTPUT_WINDOW || outbox.congested) s.link.socket.pause();
    },
    // After the last output: the supervisor sends the exit once it has read all there was.
    exit: (code, signal) => end(code, signal ? signalName(signal) : undefined),
    closed: () => {
      if (s.closed) return;
      // The supervisor went without an exit (killed): what its session left is killed here.
      if (s.info.cgroup) deps.cgroups.kill(s.info.cgroup);
      end(255);
    },
  });
}

function signalName(n: number): string | undefined {
  return Object.entries(osConstants.signals).find(([, v]) => v === n)?.[0];
}

export function resumeIfRoom(s: Session, outbox: Outbox): void {
  if (s.closed || s.unacked >= OUTPUT_WINDOW / 2 || outbox.congested) return;
  s.link.socket.resume();
}

/** Kills the session's whole tree: its supervisor kills its cgroup and shell, then reports the exit. */
export function kill(s: Session): void {
  s.link.kill();
}

/**
 * The connection went: its sessions die with it, unless nsxd is stopping or
 * they were opened persistent, when they wait to be attached again (by the
 * next nsxd, or the owner's next connection) until the orphan timeout.
 */
export function release(s: Session, deps: SessionDeps): void {
  if (!deps.registry.stopping && !s.info.persistent) return kill(s);
  s.closed = true;
  deps.registry.attached.delete(s.id);
  s.link.detach();
}
