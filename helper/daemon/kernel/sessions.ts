// A session: a shell (or command) that nsx-exec starts in namespaces nsxd
// opened and checked, as the identity the caller is allowed, on a pty nsxd
// holds (or on pipes), in a cgroup of its own; its output relayed as base64
// notifications with a credit window. Killing a session kills its whole tree.
import { ChildProcess } from 'node:child_process';
import { constants, fstatSync, openSync, write } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { Readable, Writable } from 'node:stream';
import * as tty from 'node:tty';
import { ResponseError } from 'vscode-jsonrpc/node';
import * as libc from '../../../native/libc';
import type { Caller } from '../access/access';
import { KERNEL_NSTYPES, readNsLink } from '../discovery/procfs';
import type { Scanner } from '../discovery/scanner';
import type { Watcher } from '../discovery/watch';
import type { Outbox } from '../rpc/outbox';
import { closeQuietly, SessionCgroups } from './cgroup';
import { mapIntoUserns, MappedIds } from './idmap';
import { launch, LaunchIdentity } from './launcher';
import type { ContainerProcess, Found } from '../discovery/engines';
import type { Pins } from './pins';
import { closeAll, openDiscovered, openProcessNamespaces, OpenedNs } from './targets';
import * as parse from '../../common/parse';
import {
  ErrorCodes, isolateDefault, NsKey, nsId, NsType, OUTPUT_WINDOW, TerminalExit, TerminalOpenParams, TerminalOpenResult, TerminalOutput,
} from '../../common/protocol';

const USER_PATH = '/usr/local/bin:/usr/bin:/bin';
const ROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

let nextSession = 1;

export interface Session {
  id: number;
  child: ChildProcess;
  input: Writable;
  /** The pty master, for resize; absent with pipes. */
  master?: number;
  outputs: Readable[];
  unacked: number;
  cgroup?: string;
  closed: boolean;
}

export interface SessionDeps {
  scanner: Scanner;
  pins: Pins;
  cgroups: SessionCgroups;
  watcher: Watcher;
  userName(uid: number): string;
}

/** Who the shell runs as: root (asked for and granted, or the caller is root), else the caller. */
interface RunAs {
  asRoot: boolean;
  identity: LaunchIdentity;
  home: string;
  user: string;
}

function runAs(req: TerminalOpenParams, caller: Caller): RunAs {
  const asRoot = req.root === true || caller.uid === 0;
  if (asRoot) return { asRoot, identity: { uid: 0, gid: 0, groups: [0] }, home: '/root', user: 'root' };
  // Group 0 is root's even as a supplementary group (it may write files that root's programs trust).
  return { asRoot, identity: { uid: caller.uid, gid: caller.gid, groups: caller.groups.filter((g) => g !== 0) }, home: caller.home, user: caller.user };
}

/** Where the shell goes: the namespaces to join (opened, checked fds) or to create, and a title that says so. */
interface Placement {
  joins: OpenedNs[];
  unshare: NsType[];
  title: string;
  /** In a container: its environment and working directory, as `docker exec` gives them. */
  inside?: ContainerProcess;
}

/**
 * The running container a name or id prefix means. A name two engines use
 * (root's and a user's rootless one, say) is refused rather than guessed.
 */
export function resolveContainer(containers: Found[], ref: string): Found {
  const running = containers.filter((c) => c.pid !== undefined);
  const byName = running.filter((c) => c.name === ref);
  const matches = byName.length ? byName : ref.length >= 4 ? running.filter((c) => c.id.startsWith(ref)) : [];
  if (matches.length === 1) return matches[0];
  if (matches.length === 0) {
    const other = containers.find((c) => c.name === ref || (ref.length >= 4 && c.id.startsWith(ref)));
    const engine = other && `${other.engine}${other.engineUid ? `, uid ${other.engineUid}` : ''}`;
    throw new ResponseError(ErrorCodes.NotFound, !other
      ? `no running container is called ${ref}${running.length ? ` (running: ${running.map((c) => c.name).slice(0, 10).join(', ')})` : ''}`
      : other.state === 'running'
        // A rootless engine speaks only for its own user's processes.
        ? `container ${ref} (${engine}) says it is running, but its process is not one its engine's user owns`
        : `container ${ref} (${engine}) is ${other.state}, not running`);
  }
  throw new ResponseError(ErrorCodes.Conflict, `${ref} could be any of ${matches.map((c) => `${c.name} ${c.id.slice(0, 12)} (${c.engine}${c.engineUid ? `, uid ${c.engineUid}` : ''})`).join(', ')}: name it by id`);
}

async function place(req: TerminalOpenParams, deps: SessionDeps): Promise<Placement> {
  const t = req.target;
  if (!t) {
    const unshare = req.types ?? isolateDefault(KERNEL_NSTYPES);
    for (const type of unshare) if (!KERNEL_NSTYPES.includes(type)) throw parse.invalid(`this kernel has no ${type} namespaces`);
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
  if ('namespace' in t) return { joins: [await openDiscovered(deps.scanner, t.namespace)], unshare: [], title: nsId(t.namespace) };
  const c = resolveContainer((await deps.scanner.model(2000)).containers, t.container);
  // The namespaces the engine's process was in at the scan: a pid reused since cannot redirect the shell.
  const inodes = Object.fromEntries(c.namespaces.map((k) => [k.type, k.inode]));
  const types = (req.types ?? c.namespaces.map((k) => k.type)).filter((type) => inodes[type] !== undefined);
  const { opened } = openProcessNamespaces(c.pid!, types, inodes);
  // Its environment and working directory describe its files: with the host's (no mnt joined) they would be
  // another's words about host paths (LD_PRELOAD=/home/them/x.so, from a user's rootless engine) in a shell that may be root's.
  const inside = types.includes('mnt') ? await c.exec?.().catch(() => undefined) : undefined;
  return { joins: opened, unshare: [], title: `${c.name} (${c.engine})`, ...(inside ? { inside } : {}) };
}

/** Refusals that need the opened namespaces; each leaves nothing behind (the caller closes the fds). */
async function check(req: TerminalOpenParams, caller: Caller, deps: SessionDeps, who: RunAs, where: Placement): Promise<void> {
  const userns = where.joins.find((ns) => ns.type === 'user');
  if (userns && !who.asRoot) {
    // Inside a joined user namespace the shell's ids are that namespace's: translate the caller's.
    const t = req.target;
    const mapped = await idsInside(userns, t && 'pid' in t ? t.pid : undefined, caller, deps.scanner);
    if (typeof mapped === 'string') {
      throw new ResponseError(ErrorCodes.Failed, `cannot enter ${nsId(userns)} as ${caller.user}: ${mapped}; leave the user namespace out (-t without user) or ask for a root shell`);
    }
    who.identity.uid = mapped.uid;
    who.identity.gid = mapped.gid;
  }
  if (who.asRoot) refuseForeignMounts(where.joins, deps.userName);
  if (req.freshProc && !where.joins.some((ns) => ns.type === 'pid')) throw parse.invalid('freshProc needs the pid namespace to be joined');
  if (req.hostname && !where.unshare.includes('uts')) throw parse.invalid('a hostname needs a new uts namespace');
}

/**
 * A shell's environment: the client's TERM and locale, the user's HOME and
 * USER, a PATH; in a container, the container's own environment first, as
 * `docker exec` starts from it, and its HOSTNAME.
 */
function environment(req: TerminalOpenParams, who: RunAs, inside: ContainerProcess | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of inside?.env ?? []) {
    const eq = entry.indexOf('=');
    if (eq > 0 && !entry.includes('\0')) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  if (inside?.hostname) env.HOSTNAME = inside.hostname;
  Object.assign(env, req.env, { USER: who.user, LOGNAME: who.user });
  env.HOME = inside ? (env.HOME ?? (who.asRoot ? '/root' : '/')) : who.home;
  env.PATH = inside?.env.some((e) => e.startsWith('PATH=')) ? env.PATH : who.asRoot ? ROOT_PATH : USER_PATH;
  env.TERM ??= req.pty ? 'xterm-256color' : 'dumb';
  return env;
}

/**
 * Opens a session: where, as whom, the checks, then nsx-exec on a fresh pty
 * in a fresh cgroup. Every fd taken on the way is closed once the launcher has
 * its copies, or on any failure; the session is kept only once it started
 * and its connection is still alive.
 */
export async function openSession(
  req: TerminalOpenParams, caller: Caller, deps: SessionDeps, outbox: Outbox, sessions: Map<number, Session>, alive: () => boolean,
): Promise<TerminalOpenResult> {
  const who = runAs(req, caller);
  const where = await place(req, deps);
  // The namespace the title names comes first: it is the one "Reveal" shows.
  const joined: NsKey[] = where.joins.map(({ type, inode }) => ({ type, inode }))
    .sort((a, b) => Number(where.title.startsWith(nsId(b))) - Number(where.title.startsWith(nsId(a))));
  const id = nextSession++;
  let cgroup: ReturnType<SessionCgroups['create']>;
  let master: number | undefined;
  let peer: number | undefined;
  try {
    await check(req, caller, deps, who, where);
    cgroup = deps.cgroups.create(id);
    if (req.pty) {
      master = openSync('/dev/ptmx', constants.O_RDWR | libc.O_NOCTTY);
      peer = libc.openPtyPeer(master);
      libc.setWindowSize(master, req.pty.rows, req.pty.cols);
    }
    const env = environment(req, who, where.inside);
    const { unshare } = where;
    const { child, ready } = launch({
      joins: where.joins.map(({ type, fd }) => ({ type, fd })),
      unshare: req.freshProc ? ['mnt'] : unshare,
      hostname: unshare.includes('uts') ? req.hostname ?? 'isolated' : undefined,
      mountProc: req.freshProc || (unshare.includes('pid') && unshare.includes('mnt')),
      identity: who.identity,
      home: where.inside?.cwd ?? who.home,
      shells: [...new Set([who.asRoot ? '/bin/bash' : caller.shell, '/bin/bash', '/bin/sh'])],
      command: req.command,
      env,
      stdio: peer ?? 'pipe',
      cgroupProcsFd: cgroup?.procsFd,
    });
    // The child has its copies now; nsxd keeps none of these.
    closeAll(where.joins);
    where.joins = [];
    closeQuietly(peer);
    peer = undefined;
    closeQuietly(cgroup?.procsFd);

    const s = newSession(id, child, master, cgroup?.path);
    master = undefined;
    const failure = await ready.then(
      () => (alive() ? undefined : 'the connection closed while the session started'),
      (err: Error) => `the session could not start: ${err.message}`,
    );
    if (failure) {
      kill(s, deps.cgroups);
      cleanup(s, deps.cgroups);
      throw new ResponseError(ErrorCodes.Failed, failure);
    }
    sessions.set(id, s);
    relay(s, outbox, deps, sessions);
    return {
      session: id,
      pid: child.pid!,
      title: where.title,
      namespaces: req.target ? joined : created(child.pid!, unshare),
      user: who.user,
      uid: who.identity.uid,
    };
  } catch (err) {
    closeAll(where.joins);
    closeQuietly(peer);
    closeQuietly(master);
    if (cgroup) deps.cgroups.kill(cgroup.path);
    throw err;
  }
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
  throw new ResponseError(ErrorCodes.AccessDenied,
    `no root shell in ${nsId(mnt)}: it belongs to ${nsId(owner)}, which ${userName(ownerUid)} (uid ${ownerUid}) made, so its files are theirs to change and a root shell would run them as root. ` +
    'Open the shell as yourself, join that user namespace too, or leave mnt out (-t without mnt)');
}

/** The caller's ids in a user namespace, from the maps of a process that is in it (checked by inode after reading). */
async function idsInside(userns: NsKey, pid: number | undefined, caller: Caller, scanner: Scanner): Promise<MappedIds | string> {
  const candidates = pid !== undefined ? [pid] : (await scanner.find(userns, (ns) => ns.pids, 5000)) ?? [];
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
    const link = type === 'pid' || type === 'time' ? `${type}_for_children` : type;
    const inode = readNsLink(`/proc/${pid}/ns/${link}`)?.[1];
    if (inode !== undefined) keys.push({ type, inode });
  }
  return keys;
}

function newSession(id: number, child: ChildProcess, master: number | undefined, cgroup: string | undefined): Session {
  if (master === undefined) {
    return { id, child, input: child.stdin!, outputs: [child.stdout!, child.stderr!], unacked: 0, cgroup, closed: false };
  }
  // libuv makes the master non-blocking; reads go through a tty stream, writes through fs.write.
  const reader = new tty.ReadStream(master);
  return { id, child, input: new PtyWriter(master), master, outputs: [reader], unacked: 0, cgroup, closed: false };
}

/**
 * Writes to a non-blocking pty master, waiting out EAGAIN while the shell is
 * not reading. It owns a dup of the master, closed only after its last write,
 * so a write can never land on a reused fd number.
 */
class PtyWriter extends Writable {
  private readonly fd: number;
  private writing = false;
  private closeWhenIdle = false;

  constructor(master: number) {
    super({ highWaterMark: 64 * 1024 });
    this.fd = libc.dupCloexec(master);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    if (this.writing) this.closeWhenIdle = true;
    else closeQuietly(this.fd);
    done(err);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.writing = true;
    const finish = (err?: Error | null) => {
      this.writing = false;
      if (this.closeWhenIdle) closeQuietly(this.fd);
      done(err);
    };
    const attempt = (offset: number, delay: number) => {
      if (this.closeWhenIdle) return finish();
      write(this.fd, chunk, offset, chunk.length - offset, null, (err, n) => {
        if (err?.code === 'EAGAIN') return void setTimeout(() => attempt(offset, Math.min(delay * 2, 50)), delay);
        if (err) return finish(err);
        if (offset + n < chunk.length) return attempt(offset + n, 1);
        finish();
      });
    };
    attempt(0, 1);
  }
}

function relay(s: Session, outbox: Outbox, deps: SessionDeps, sessions: Map<number, Session>): void {
  const forward = (stream?: 'stderr') => (chunk: Buffer) => {
    s.unacked += chunk.length;
    const data = chunk.toString('base64');
    outbox.send(TerminalOutput, { session: s.id, data, ...(stream ? { stream } : {}) }, data.length);
    if (s.unacked >= OUTPUT_WINDOW || outbox.congested) for (const o of s.outputs) o.pause();
  };
  s.outputs[0].on('data', forward());
  s.outputs[1]?.on('data', forward('stderr'));
  const stopWaiting = outbox.onDrain(() => resumeIfRoom(s, outbox));
  s.input.on('error', () => undefined);

  // The exit is reported after the last output: wait for the streams to end too.
  let pending = s.outputs.length + 1;
  let code = 0;
  let signal: string | undefined;
  const finish = () => {
    if (--pending > 0) return;
    sessions.delete(s.id);
    stopWaiting();
    cleanup(s, deps.cgroups);
    outbox.send(TerminalExit, { session: s.id, code, ...(signal ? { signal } : {}) }, 64);
    deps.watcher.poke();
  };
  for (const o of s.outputs) {
    let ended = false;
    const end = () => { if (!ended) { ended = true; finish(); } };
    o.on('end', end);
    o.on('close', end);
    // A pty master reads EIO once the last peer fd closes: that is its end of file.
    o.on('error', end);
  }
  s.child.once('exit', (c, sig) => {
    code = c ?? 128 + (sig ? osConstants.signals[sig] : 0);
    signal = sig ?? undefined;
    finish();
  });
}

export function resumeIfRoom(s: Session, outbox: Outbox): void {
  if (s.closed || s.unacked >= OUTPUT_WINDOW / 2 || outbox.congested) return;
  for (const o of s.outputs) o.resume();
}

/** Kills the session's whole tree: its cgroup, and the launcher's process group (it kills its child's). */
export function kill(s: Session, cgroups: SessionCgroups): void {
  if (s.cgroup) cgroups.kill(s.cgroup);
  try {
    s.child.kill('SIGTERM');
  } catch {
    // already gone
  }
  const pid = s.child.pid;
  setTimeout(() => {
    if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    if (pid) try { process.kill(-pid, 'SIGKILL'); } catch { /* no such group */ }
  }, 300).unref();
}

function cleanup(s: Session, cgroups: SessionCgroups): void {
  if (s.closed) return;
  s.closed = true;
  for (const o of s.outputs) o.destroy();
  s.input.destroy();
  if (s.cgroup) cgroups.kill(s.cgroup);
  for (const st of s.child.stdio) (st as Readable | null)?.destroy();
}
