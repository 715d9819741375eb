// The terminal area: a session is a shell (or command) started by nsx-exec
// in namespaces nsxd opened and checked, on a pty nsxd holds (or on pipes),
// relayed as base64 notifications with a credit window both ways. A session
// dies with its connection: closing kills its whole process tree.
import { ChildProcess } from 'node:child_process';
import { constants, fstatSync, openSync, write } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { Readable, Writable } from 'node:stream';
import * as tty from 'node:tty';
import { ResponseError } from 'vscode-jsonrpc/node';
import * as libc from '../native/libc';
import type { Caller } from './access';
import { audit } from './audit';
import { closeQuietly, SessionCgroups } from './cgroup';
import { KERNEL_NSTYPES, readNsLink } from './discovery/procfs';
import type { Scanner } from './discovery/scanner';
import { mapIntoUserns, MappedIds } from './idmap';
import { launch, LaunchIdentity } from './launcher';
import type { Outbox } from './outbox';
import type { Pins } from './pins';
import {
  ErrorCodes, NsKey, nsId, NsType, OUTPUT_WINDOW, TerminalAck, TerminalClose, TerminalEndInput, TerminalExit,
  TerminalInput, TerminalOpen, TerminalOpenParams, TerminalOpenResult, TerminalOutput, TerminalResize,
} from './protocol';
import type { Area } from './server';
import { closeAll, openDiscovered, openProcessNamespaces, OpenedNs } from './targets';
import * as v from './validate';
import type { Watcher } from './watch';

const MAX_SESSIONS_PER_CONNECTION = 64;
const ISOLATE_DEFAULT = KERNEL_NSTYPES.filter((t) => t !== 'time');
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const ENV_NAME = /^(TERM|COLORTERM|LANG|LC_[A-Z_]{1,32})$/;
const USER_PATH = '/usr/local/bin:/usr/bin:/bin';
const ROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Input written to a session but not yet read by it, past which more is refused. */
const MAX_INPUT_BACKLOG = 4 * 1024 * 1024;

let nextSession = 1;

interface Session {
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

export interface TerminalDeps {
  scanner: Scanner;
  pins: Pins;
  cgroups: SessionCgroups;
  watcher: Watcher;
  userName(uid: number): string;
}

export function terminalArea(deps: TerminalDeps): Area {
  return (conn, caller, onClose, outbox) => {
    const sessions = new Map<number, Session>();
    // Opens still waiting count against the limit, and a connection that closes
    // meanwhile gets none of them: they are killed as they start.
    let opening = 0;
    let closed = false;
    const session = (id: unknown): Session => {
      const s = sessions.get(v.int(id, 'session', 1, Number.MAX_SAFE_INTEGER));
      if (!s) throw new ResponseError(ErrorCodes.NotFound, `no session ${String(id)} on this connection`);
      return s;
    };

    conn.onRequest(TerminalOpen, async (params): Promise<TerminalOpenResult> => {
      if (sessions.size + opening >= MAX_SESSIONS_PER_CONNECTION) {
        throw new ResponseError(ErrorCodes.LimitExceeded, `at most ${MAX_SESSIONS_PER_CONNECTION} sessions per connection`);
      }
      let target = 'invalid';
      let root = false;
      opening++;
      try {
        const req = parseOpen(params);
        target = describeTarget(req);
        root = req.root === true;
        const result = await open(req, caller, deps, outbox, sessions, () => !closed);
        audit('terminal/open', { uid: caller.uid, user: caller.user, target, as: result.user, session: result.session, pid: result.pid, result: 'ok' });
        deps.watcher.poke();
        return result;
      } catch (err) {
        audit('terminal/open', { uid: caller.uid, user: caller.user, target, root, result: 'refused', reason: (err as Error).message });
        throw err;
      } finally {
        opening--;
      }
    });

    conn.onRequest(TerminalInput, (params) => {
      const p = v.object(params);
      const s = session(p.session);
      const data = Buffer.from(v.text(p.data, 'data', 1024 * 1024), 'base64');
      if (s.closed) return null;
      // A client that does not wait for answers is refused rather than buffered for.
      if (s.input.writableLength > MAX_INPUT_BACKLOG) throw new ResponseError(ErrorCodes.LimitExceeded, 'input is arriving faster than the session reads it; wait for each terminal/input answer');
      // Answered when written: a client sends its next chunk only then.
      return new Promise<null>((resolve) => s.input.write(data, () => resolve(null)));
    });
    conn.onNotification(TerminalEndInput, (p) => {
      const s = sessions.get(p?.session);
      if (s && s.master === undefined) s.input.end();
    });
    conn.onNotification(TerminalResize, (p) => {
      const s = sessions.get(p?.session);
      if (!s || s.master === undefined || s.closed) return;
      try {
        libc.setWindowSize(s.master, v.int(p.rows, 'rows', 1, 1000), v.int(p.cols, 'cols', 1, 1000));
      } catch {
        // a bad size is dropped; the session goes on
      }
    });
    conn.onNotification(TerminalAck, (p) => {
      const s = sessions.get(p?.session);
      if (!s || !Number.isSafeInteger(p.bytes) || p.bytes < 0) return;
      // An ack for more than was sent only opens the window: memory is bounded by the outbox.
      s.unacked = Math.max(0, s.unacked - p.bytes);
      resumeIfRoom(s, outbox);
    });
    conn.onNotification(TerminalClose, (p) => {
      const s = sessions.get(p?.session);
      if (s) kill(s, deps.cgroups);
    });
    onClose(() => {
      closed = true;
      for (const s of sessions.values()) kill(s, deps.cgroups);
    });
  };
}

function parseOpen(params: unknown): TerminalOpenParams {
  const p = v.object(params);
  const req: TerminalOpenParams = { root: v.bool(p.root, 'root'), freshProc: v.bool(p.freshProc, 'freshProc') };
  if (p.target !== undefined) {
    const t = v.object(p.target, 'target');
    if (t.pid !== undefined) {
      const inodes: Partial<Record<NsType, number>> = {};
      if (t.inodes !== undefined) for (const [k, i] of Object.entries(v.object(t.inodes, 'inodes'))) inodes[v.nstype(k)] = v.inode(i);
      req.target = { pid: v.pid(t.pid), inodes };
    } else if (t.pin !== undefined) {
      const pin = v.object(t.pin, 'pin');
      req.target = { pin: { type: v.nstype(pin.type), name: v.pinName(pin.name) } };
    } else if (t.namespace !== undefined) {
      const ns = v.object(t.namespace, 'namespace');
      req.target = { namespace: { type: v.nstype(ns.type), inode: v.inode(ns.inode) } };
    } else {
      throw v.invalid('target must name a pid, a pin or a namespace');
    }
  }
  if (p.types !== undefined) req.types = v.nstypes(p.types);
  if (p.hostname !== undefined) {
    const h = v.text(p.hostname, 'hostname', 253);
    if (!HOSTNAME.test(h)) throw v.invalid(`not a hostname: ${JSON.stringify(h)}`);
    req.hostname = h;
  }
  if (p.command !== undefined) {
    if (!Array.isArray(p.command) || p.command.length === 0 || p.command.length > 256) throw v.invalid('command must be a non-empty array of at most 256 strings');
    req.command = p.command.map((a, i) => v.text(a, `command[${i}]`, 65536));
  }
  if (p.pty !== undefined) {
    const pty = v.object(p.pty, 'pty');
    req.pty = { cols: v.int(pty.cols, 'cols', 1, 1000), rows: v.int(pty.rows, 'rows', 1, 1000) };
  }
  if (p.env !== undefined) {
    req.env = {};
    for (const [k, val] of Object.entries(v.object(p.env, 'env'))) {
      // Anything else the client sends is dropped, not refused: clients pass their whole environment.
      if (ENV_NAME.test(k)) req.env[k] = v.text(val, `env.${k}`, 256);
    }
  }
  return req;
}

function describeTarget(req: TerminalOpenParams): string {
  const t = req.target;
  if (!t) return `isolate:${(req.types ?? ISOLATE_DEFAULT).join(',')}`;
  if ('pid' in t) return `pid:${t.pid}`;
  if ('pin' in t) return `pin:${t.pin.type}/${t.pin.name}`;
  return nsId(t.namespace);
}

async function open(req: TerminalOpenParams, caller: Caller, deps: TerminalDeps, outbox: Outbox, sessions: Map<number, Session>, alive: () => boolean): Promise<TerminalOpenResult> {
  if (req.root && !caller.rootShells) {
    throw new ResponseError(ErrorCodes.AccessDenied, `${caller.user} may not open root shells: an admin grants it in /etc/nsx/nsxd.json ("rootShells")`);
  }
  const asRoot = req.root || caller.uid === 0;
  // Group 0 is root's even as a supplementary group (it may write files that root's programs trust).
  const identity: LaunchIdentity = asRoot ? { uid: 0, gid: 0, groups: [0] } : { uid: caller.uid, gid: caller.gid, groups: caller.groups.filter((g) => g !== 0) };
  const home = asRoot ? '/root' : caller.home;
  const user = asRoot ? 'root' : caller.user;

  let joins: OpenedNs[] = [];
  let unshare: NsType[] = [];
  let title: string;
  const t = req.target;
  if (!t) {
    unshare = req.types ?? ISOLATE_DEFAULT;
    for (const type of unshare) if (!KERNEL_NSTYPES.includes(type)) throw v.invalid(`this kernel has no ${type} namespaces`);
    title = `isolated ${unshare.join(',')}${req.hostname ? ` (${req.hostname})` : ''}`;
  } else if ('pid' in t) {
    const { opened, comm } = openProcessNamespaces(t.pid, req.types ?? KERNEL_NSTYPES, t.inodes);
    joins = opened;
    const shown = joins.find((ns) => ns.type === 'net') ?? joins[0];
    title = `${nsId(shown)} ${comm} (${t.pid})`;
  } else if ('pin' in t) {
    const opened = deps.pins.open(t.pin.type, t.pin.name);
    if (!opened) throw new ResponseError(ErrorCodes.NotFound, `there is no pin ${t.pin.type}/${t.pin.name}`);
    joins = [opened];
    title = `${nsId(opened)} pin ${t.pin.name}`;
  } else {
    joins = [await openDiscovered(deps.scanner, t.namespace)];
    title = nsId(t.namespace);
  }
  // The namespace the title names comes first: it is the one "Reveal" shows.
  const joined: NsKey[] = joins.map(({ type, inode }) => ({ type, inode })).sort((a, b) => Number(title.startsWith(nsId(b))) - Number(title.startsWith(nsId(a))));
  const id = nextSession++;
  let cgroup: ReturnType<SessionCgroups['create']>;
  let master: number | undefined;
  let peer: number | undefined;
  try {
    const userns = joins.find((ns) => ns.type === 'user');
    if (userns && !asRoot) {
      // Inside a joined user namespace the shell's ids are that namespace's: translate the caller's.
      const mapped = await idsInside(userns, t && 'pid' in t ? t.pid : undefined, caller, deps.scanner);
      if (typeof mapped === 'string') {
        throw new ResponseError(ErrorCodes.Failed, `cannot enter ${nsId(userns)} as ${caller.user}: ${mapped}; leave the user namespace out (-t without user) or ask for a root shell`);
      }
      identity.uid = mapped.uid;
      identity.gid = mapped.gid;
    }
    if (asRoot) refuseForeignMounts(joins, deps.userName);
    if (req.freshProc && !joined.some((ns) => ns.type === 'pid')) throw v.invalid('freshProc needs the pid namespace to be joined');
    if (req.hostname && !unshare.includes('uts')) throw v.invalid('a hostname needs a new uts namespace');
    cgroup = deps.cgroups.create(id);
    if (req.pty) {
      master = openSync('/dev/ptmx', constants.O_RDWR | libc.O_NOCTTY);
      peer = libc.openPtyPeer(master);
      libc.setWindowSize(master, req.pty.rows, req.pty.cols);
    }
    const env: Record<string, string> = { ...req.env, HOME: home, USER: user, LOGNAME: user, PATH: asRoot ? ROOT_PATH : USER_PATH };
    env.TERM ??= req.pty ? 'xterm-256color' : 'dumb';
    const { child, ready } = launch({
      joins: joins.map(({ type, fd }) => ({ type, fd })),
      unshare: req.freshProc ? ['mnt'] : unshare,
      hostname: unshare.includes('uts') ? req.hostname ?? 'isolated' : undefined,
      mountProc: req.freshProc || (unshare.includes('pid') && unshare.includes('mnt')),
      identity,
      home,
      shells: [...new Set([asRoot ? '/bin/bash' : caller.shell, '/bin/bash', '/bin/sh'])],
      command: req.command,
      env,
      stdio: peer ?? 'pipe',
      cgroupProcsFd: cgroup?.procsFd,
    });
    // The child has its copies now; nsxd keeps none of these.
    closeAll(joins);
    joins = [];
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
      title,
      namespaces: t ? joined : created(child.pid!, unshare),
      user,
      uid: identity.uid,
    };
  } catch (err) {
    closeAll(joins);
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

function relay(s: Session, outbox: Outbox, deps: TerminalDeps, sessions: Map<number, Session>): void {
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

function resumeIfRoom(s: Session, outbox: Outbox): void {
  if (s.closed || s.unacked >= OUTPUT_WINDOW / 2 || outbox.congested) return;
  for (const o of s.outputs) o.resume();
}

/** Kills the session's whole tree: its cgroup, and the launcher's process group (it kills its child's). */
function kill(s: Session, cgroups: SessionCgroups): void {
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
