// A session: a shell (or command) that nsx-exec starts in namespaces nsxd
// opened and checked, as the identity the caller is allowed, on a pty (or
// pipes) that its supervisor (nsx-session) holds, in a cgroup of its own; its
// output relayed as base64 notifications with a credit window. Killing a
// session kills its whole tree. A session outlives nsxd and its connection
// with it: the next nsxd attaches its owner to it again.
import { fstatSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { NotificationType, ResponseError } from 'vscode-jsonrpc/node';
import * as libc from '../../../native/libc';
import type { Caller } from '../access/access';
import { KERNEL_NSTYPES, readNsLink } from '../discovery/procfs';
import type { Scanner } from '../discovery/scanner';
import type { Watcher } from '../discovery/watch';
import { closeAll, closeQuietly } from '../fds';
import { SessionCgroups } from './cgroup';
import { mapIntoUserns, MappedIds } from './idmap';
import { environment, runAs, RunAs } from './environment';
import { supervise } from './launcher';
import { Hello, SessionInfo, SupervisorLink } from './supervisorLink';
import { accountLives, ownerOf, SessionRegistry } from './sessionRegistry';
import { resolveContainer } from '../discovery/containers';
import type { ContainerProcess } from '../discovery/engines';
import type { Pins } from './pins';
import { openDiscovered, openProcessNamespaces, OpenedNs } from './targets';
import * as parse from '../../common/parse';
import {
  ErrorCodes,
  isolateDefault,
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

/** Where the shell goes: the namespaces to join (opened, checked fds) or to create, and a title that says so. */
interface Placement {
  joins: OpenedNs[];
  unshare: NsType[];
  title: string;
  /** In a container: its environment and working directory, as `docker exec` gives them. */
  inside?: ContainerProcess;
}

async function place(req: TerminalOpenParams, caller: Caller, who: RunAs, deps: SessionDeps): Promise<Placement> {
  const t = req.target;
  if (!t) {
    const unshare = req.types ?? isolateDefault(KERNEL_NSTYPES);
    for (const type of unshare)
      if (!KERNEL_NSTYPES.includes(type)) throw parse.invalid(`this kernel has no ${type} namespaces`);
    return { joins: [], unshare, title: `isolated ${unshare.join(',')}${req.hostname ? ` (${req.hostname})` : ''}` };
  }
  if ('pid' in t) {
    const { opened, comm } = openProcessNamespaces(t.pid, req.types ?? KERNEL_NSTYPES, t.inodes);
    const shown = opened.find((ns) => ns.type === 'net') ?? opened[0];
    return { joins: opened, unshare: [], title: `${nsId(shown)} ${comm} (${t.pid})` };
  }
  if ('pin' in t) {
    const opened = deps.pins.open(t.pin.type, t.pin.name);
    if (!opened) throw new ResponseError(ErrorCodes.NotFound, `there is no pin ${t.pin.type}/${t.pin.name}`);
    return { joins: [opened], unshare: [], title: `${nsId(opened)} pin ${t.pin.name}` };
  }
  if ('namespace' in t)
    return { joins: [await openDiscovered(deps.scanner, t.namespace)], unshare: [], title: nsId(t.namespace) };
  const c = resolveContainer((await deps.scanner.model(2000)).containers, t.container);
  // The namespaces the engine's process was in at the scan: a pid reused since cannot redirect the shell.
  const inodes = Object.fromEntries(c.namespaces.map((k) => [k.type, k.inode]));
  const types = (req.types ?? c.namespaces.map((k) => k.type)).filter((type) => inodes[type] !== undefined);
  const { opened } = openProcessNamespaces(c.pid!, types, inodes);
  // Its environment and working directory are its engine's words about its files. They reach a shell only in the
  // container's own mount namespace (with the host's, LD_PRELOAD=/home/them/x.so would name a host file), and only
  // from an engine the shell's user already trusts: root's, or the user's own rootless engine for a shell that runs
  // as that user. A rootless engine never speaks into root's shell or another user's.
  const trusted = c.engineUid === 0 || (!who.asRoot && c.engineUid === caller.uid);
  const inside = types.includes('mnt') && trusted ? await c.exec?.().catch(() => undefined) : undefined;
  return { joins: opened, unshare: [], title: `${c.name} (${c.engine})`, ...(inside ? { inside } : {}) };
}

/** Refusals that need the opened namespaces; each leaves nothing behind (the caller closes the fds). */
async function check(
  req: TerminalOpenParams,
  caller: Caller,
  deps: SessionDeps,
  who: RunAs,
  where: Placement,
): Promise<void> {
  const userns = where.joins.find((ns) => ns.type === 'user');
  if (userns && !who.asRoot) {
    // Inside a joined user namespace the shell's ids are that namespace's: translate the caller's.
    const t = req.target;
    const mapped = await idsInside(userns, t && 'pid' in t ? t.pid : undefined, caller, deps.scanner);
    if (typeof mapped === 'string') {
      throw new ResponseError(
        ErrorCodes.Failed,
        `cannot enter ${nsId(userns)} as ${caller.user}: ${mapped}; leave the user namespace out (-t without user) or ask for a root shell`,
      );
    }
    who.identity.uid = mapped.uid;
    who.identity.gid = mapped.gid;
  }
  if (who.asRoot) refuseForeignMounts(where.joins, deps.userName);
  if (req.freshProc && !where.joins.some((ns) => ns.type === 'pid'))
    throw parse.invalid('freshProc needs the pid namespace to be joined');
  if (req.hostname && !where.unshare.includes('uts')) throw parse.invalid('a hostname needs a new uts namespace');
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
  let cgroup: ReturnType<SessionCgroups['create']>;
  try {
    await check(req, caller, deps, who, where);
    cgroup = deps.cgroups.create(id);
    const { unshare } = where;
    const { child, ready } = supervise(
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
        cgroupProcsFd: cgroup?.procsFd,
      },
      {
        socket: deps.registry.socketOf(id),
        orphanTimeout: deps.registry.orphanTimeout,
        pty: req.pty,
        cgroup: cgroup?.path,
      },
    );
    // The supervisor has its copies now; nsxd keeps none of these.
    closeAll(where.joins);
    where.joins = [];
    closeQuietly(cgroup?.procsFd);

    let link: SupervisorLink | undefined;
    let hello: Hello | undefined;
    const failure = await ready
      .then(
        async () => {
          ({ link, hello } = await SupervisorLink.connect(deps.registry.socketOf(id)));
          return alive() ? undefined : 'the connection closed while the session started';
        },
        (err: Error) => `the session could not start: ${err.message}`,
      )
      .catch((err: Error) => `the session's supervisor did not answer: ${err.message}`);
    if (failure || !link || !hello) {
      // Its supervisor ends it, kills what started and removes its socket and cgroup.
      child.kill('SIGTERM');
      link?.detach();
      throw new ResponseError(ErrorCodes.Failed, failure ?? 'the session could not start');
    }
    const result: TerminalOpenResult = {
      session: id,
      pid: hello.pid,
      title: where.title,
      namespaces: req.target ? joined : created(hello.pid, unshare),
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
      ...(cgroup ? { cgroup: cgroup.path } : {}),
    };
    link.store(info);
    deps.registry.owners.set(id, ownerOf(info)!);
    take({ id, link, info, unacked: 0, closed: false }, outbox, deps, sessions);
    return result;
  } catch (err) {
    closeAll(where.joins);
    closeQuietly(cgroup?.procsFd);
    throw err;
  }
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

/**
 * A root shell never runs in a mount namespace that a user other than root
 * made (through a user namespace of theirs): every binary and library there is
 * theirs to replace, and root would run them with root's powers over the host.
 * Joining that user namespace too is fine: root is then no more than its
 * owner already is there.
 */
function refuseForeignMounts(joins: OpenedNs[], userName: (uid: number) => string): void {
  const mnt = joins.find((ns) => ns.type === 'mnt');
  if (!mnt) return;
  const ownerFd = libc.nsGetUserns(mnt.fd);
  let owner: NsKey;
  let ownerUid: number;
  try {
    owner = { type: 'user', inode: fstatSync(ownerFd).ino };
    ownerUid = libc.nsGetOwnerUid(ownerFd);
  } finally {
    closeQuietly(ownerFd);
  }
  if (ownerUid === 0 || joins.some((ns) => ns.type === 'user' && ns.inode === owner.inode)) return;
  throw new ResponseError(
    ErrorCodes.AccessDenied,
    `no root shell in ${nsId(mnt)}: it belongs to ${nsId(owner)}, which ${userName(ownerUid)} (uid ${ownerUid}) made, so its files are theirs to change and a root shell would run them as root. ` +
      'Open the shell as yourself, join that user namespace too, or leave mnt out (-t without mnt)',
  );
}

/** The caller's ids in a user namespace, from the maps of a process that is in it (checked by inode after reading). */
async function idsInside(
  userns: NsKey,
  pid: number | undefined,
  caller: Caller,
  scanner: Scanner,
): Promise<MappedIds | string> {
  const candidates = pid !== undefined ? [pid] : ((await scanner.find(userns, (ns) => ns.pids, 5000)) ?? []);
  for (const p of candidates.slice(0, 5)) {
    try {
      const mapped = mapIntoUserns(p, caller.uid, caller.gid);
      if (readNsLink(`/proc/${p}/ns/user`)?.[1] === userns.inode) return mapped;
    } catch {
      // exited meanwhile: try the next
    }
  }
  return 'no process is in it to read its uid and gid maps from';
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
    deps.watcher.poke();
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
