// Starts dist/nsx-exec, the single-threaded child that does every namespace
// transition (nsxd itself never calls setns or unshare), directly or under
// dist/nsx-session, a session's supervisor (started through the spawner,
// spawner.ts). Namespace fds nsxd opened and checked are passed as inherited
// fds, never as paths.
import { ChildProcess, spawn } from 'node:child_process';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { NsType } from '../../common/protocol';
import { CAPTURER, checkProgram, CONNECTOR, FILES_HELPER, LAUNCHER, SUPERVISOR } from './programs';
import { NET_HELPER } from '../discovery/netHelper';
import { SCAN_LIBRARY } from '../discovery/sliceReader';
import { closeFd, streamPair } from '../../../native/fdpass';
import { spawner } from './spawner';

export interface LaunchIdentity {
  uid: number;
  gid: number;
  groups: number[];
}

export interface LaunchSpec {
  joins: { type: NsType; fd: number }[];
  unshare: NsType[];
  hostname?: string;
  mountProc?: boolean;
  /** Who the shell runs as; without it, root with nsxd's credentials. */
  identity?: LaunchIdentity;
  home?: string;
  /** Tried in order inside the target's mount namespace. */
  shells?: string[];
  command?: string[];
  /** Print the files named by command from inside, with nsx-exec's own cat (no binary needed there). */
  cat?: boolean;
  env: Record<string, string>;
  /** Stop after unsharing and wait for stdin to close (namespaces/create). */
  hold?: boolean;
}

export interface Launched {
  child: ChildProcess;
  /** Resolves once nsx-exec has exec'd (or, with hold, is ready); rejects with its error sentence. */
  ready: Promise<void>;
}

/** Every program nsxd runs as root, and the library it loads, keeps the rule (programs.ts): checked once, as nsxd starts. */
export function checkLauncher(): void {
  for (const program of [LAUNCHER, SUPERVISOR, NET_HELPER, CAPTURER, CONNECTOR, FILES_HELPER, SCAN_LIBRARY])
    checkProgram(program);
}

/** nsx-exec's arguments, and the fds they name (handed on as 3, 4, …; 3 is its status fd). */
function launcherArgs(spec: LaunchSpec, pty: boolean): { args: string[]; fds: number[] } {
  const fds: number[] = [];
  const args: string[] = ['--status-fd', '3'];
  const passFd = (fd: number) => String(fds.push(fd) + 3);
  for (const { type, fd } of spec.joins) args.push('--join', `${type}:${passFd(fd)}`);
  for (const type of spec.unshare) args.push('--unshare', type);
  if (spec.unshare.includes('user')) args.push('--map-root');
  if (spec.hostname) args.push('--hostname', spec.hostname);
  if (spec.mountProc) args.push('--mount-proc');
  if (spec.hold) args.push('--hold');
  if (spec.identity) {
    args.push(
      '--uid',
      String(spec.identity.uid),
      '--gid',
      String(spec.identity.gid),
      '--groups',
      spec.identity.groups.join(','),
    );
  }
  if (pty) args.push('--pty');
  if (spec.home) args.push('--home', spec.home);
  for (const shell of spec.shells ?? []) args.push('--shell', shell);
  if (spec.cat) args.push('--cat');
  if (spec.command?.length) args.push('--', ...spec.command);
  return { args, fds };
}

/** nsx-exec as nsxd's child on pipes: for what lasts no longer than a request (namespaces/create, --cat). */
export function launch(spec: LaunchSpec): Launched {
  const { args, fds } = launcherArgs(spec, false);
  return started(
    spawn(LAUNCHER, args, { stdio: ['pipe', 'pipe', 'pipe', 'pipe', ...fds], env: spec.env }),
    spec.hold === true,
  );
}

export interface SupervisorSpec {
  /** Where it answers nsxd, in a folder only root may enter. */
  socket: string;
  orphanTimeout: number;
  /** A pty of this size, or pipes. */
  pty?: { rows: number; cols: number };
  /** The session's cgroup folder: nsx-exec starts in it; killed and removed when the session ends. */
  cgroup?: string;
}

export interface Supervised {
  /** The supervisor's pid, once the spawner started it; 0 if it could not. */
  pid: Promise<number>;
  /** Resolves once nsx-exec has exec'd; rejects with its error sentence. */
  ready: Promise<void>;
  /** nsxd's connection to the supervisor, which has the session from the start (nsx-session --connected). */
  connection: Socket;
}

/**
 * nsx-exec under a session supervisor (nsx-session), which holds the pty and
 * outlives nsxd: in a session of its own (detached), so that neither a ^C
 * to nsxd's terminal nor nsxd's death reaches it. Its first connection is
 * handed to it as it starts (a socketpair, the fd after nsx-exec's), so
 * that its hello and first output need no connect and no round trip.
 */
export function supervise(spec: LaunchSpec, sup: SupervisorSpec): Supervised {
  const { args, fds } = launcherArgs(spec, sup.pty !== undefined);
  const own = [
    '--socket',
    sup.socket,
    '--orphan-timeout',
    String(sup.orphanTimeout),
    '--pass-fds',
    String(fds.length + 1),
    '--connected',
  ];
  if (sup.pty) own.push('--pty', `${sup.pty.rows}:${sup.pty.cols}`);
  if (sup.cgroup) own.push('--cgroup', sup.cgroup);
  const [status, statusTheirs] = streamPair();
  const [connection, connectionTheirs] = streamPair();
  let pid: Promise<number>;
  try {
    pid = spawner.spawn([SUPERVISOR, ...own, '--', LAUNCHER, ...args], spec.env, [
      statusTheirs,
      ...fds,
      connectionTheirs,
    ]);
  } catch (err) {
    closeFd(status);
    closeFd(connection);
    throw err;
  } finally {
    closeFd(statusTheirs);
    closeFd(connectionTheirs);
  }
  const statusSocket = new Socket({ fd: status });
  const started = pid.then((p) => {
    if (!p) throw new Error(`cannot start ${SUPERVISOR}`);
  });
  const ready = Promise.all([started, statusOf(statusSocket, false)]).then(() => undefined);
  return { pid, ready, connection: new Socket({ fd: connection }) };
}

/** Ready once nsx-exec has exec'd (or, with hold, says so); its "E…" sentence otherwise. */
function started(child: ChildProcess, hold: boolean): Launched {
  const ready = new Promise<void>((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`cannot start ${child.spawnfile}: ${err.message}`)));
    statusOf(child.stdio[3] as Readable, hold).then(resolve, reject);
  });
  return { child, ready };
}

/** What the status fd says: nothing as it closes (exec'd), "R" (held), or "E" and why not. */
function statusOf(status: Readable, hold: boolean): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let text = '';
    status.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (hold && text === 'R') resolve();
    });
    status.on('error', () => undefined);
    status.on('end', () => {
      status.destroy();
      if (text.startsWith('E')) reject(new Error(text.slice(1)));
      else resolve();
    });
  });
}
