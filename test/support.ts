// What the integration tests share: a real nsxd on a socket of its own, the
// nsx CLI run as any user, real users made for the test, and processes held
// in real namespaces. Everything made here is undone by the returned cleanups.
import { createHash } from 'node:crypto';
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect, Client } from '../helper/common/client';

export const ROOT = resolve(__dirname, '../../..');
export const DIST = join(ROOT, 'dist');
/** The nsx users run: the C front, which answers `list` itself and hands the rest to nsx.js. */
export const NSX = join(DIST, 'nsx');
export const NSX_JS = join(DIST, 'nsx.js');
export const NSXD = join(DIST, 'nsxd.js');

export interface Daemon {
  socket: string;
  dir: string;
  proc: ChildProcess;
  log(): string;
  client(): Promise<Client>;
  stop(): Promise<void>;
  /** Stops it and removes its directory, pins and all. */
  destroy(): Promise<void>;
  /** The same without waiting for it to exit: for a process about to end (see onStopped). */
  abandon(): void;
}

/**
 * CLEANUP, then the end of this process, when it is stopped midway by
 * SIGINT or SIGTERM (Ctrl-C, a kill): a bench leaves no nsxd, mount, user,
 * container or namespace name behind (a mount namespace made later would
 * copy them). Returns what takes the handlers off again.
 */
export function onStopped(cleanup: () => void): () => void {
  const stopped = () => {
    try {
      cleanup();
    } finally {
      process.exit(1);
    }
  };
  process.once('SIGINT', stopped).once('SIGTERM', stopped);
  return () => process.off('SIGINT', stopped).off('SIGTERM', stopped);
}

export interface DaemonOptions {
  group?: string;
  policy?: { admins?: string[]; rootShells?: string[] };
  /** Reuse this directory (to restart a daemon over its pins). */
  dir?: string;
  /** Fds nsxd inherits as 3, 4, … (as a careless parent would leave them). */
  stdio?: number[];
  /** A command that execs nsxd's argv after it (`unshare -m …`), so that nsxd keeps its pid. */
  wrap?: string[];
  /** Seconds a session waits for its client after nsxd went (30 here, so that no test's sessions linger). */
  orphanTimeout?: number;
  sessionsPerUser?: number;
}

/** A directory root owns and others may traverse, as nsxd demands of its socket's. */
export function rootDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

export async function startDaemon(opts: DaemonOptions = {}): Promise<Daemon> {
  const dir = opts.dir ?? rootDir('nsxd-test-');
  const socket = join(dir, 'nsxd.sock');
  const config = join(dir, 'nsxd.json');
  ensureGroup(opts.group);
  writeFileSync(config, JSON.stringify({ admins: [], rootShells: [], ...opts.policy }), { mode: 0o644 });
  const argv = [
    ...(opts.wrap ?? []),
    process.execPath,
    NSXD,
    '--socket',
    socket,
    '--group',
    opts.group ?? 'nsx',
    '--config',
    config,
    '--orphan-timeout',
    String(opts.orphanTimeout ?? 30),
    ...(opts.sessionsPerUser ? ['--sessions-per-user', String(opts.sessionsPerUser)] : []),
  ];
  const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe', ...(opts.stdio ?? [])] });
  let log = '';
  proc.stdout!.on('data', (d) => {
    log += d;
  });
  proc.stderr!.on('data', (d) => {
    log += d;
  });
  await new Promise<void>((ok, fail) => {
    const check = () => {
      if (log.includes('listening on')) {
        proc.stderr!.off('data', check);
        ok();
      }
    };
    proc.stderr!.on('data', check);
    proc.once('exit', (code) => fail(new Error(`nsxd exited with ${code}:\n${log}`)));
  });
  return {
    socket,
    dir,
    proc,
    log: () => log,
    client: () => connect(socket, 'test'),
    stop,
    destroy: async () => {
      await stop();
      remove();
    },
    abandon: () => {
      proc.kill('SIGTERM');
      remove();
    },
  };
  function remove() {
    // Sessions outlive nsxd: those left here end now (their supervisors kill them and remove their cgroups).
    spawnSync('pkill', ['-TERM', '-f', `^${DIST}/nsx-session --socket ${dir}/sessions/`]);
    spawnSync('umount', ['--recursive', '--lazy', join(dir, 'pins')]);
    removeDir(dir);
  }
  async function stop() {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  }
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs nsx against a daemon, as root or as another user (through runuser, with that user's own groups). */
export function nsx(
  daemon: Daemon | string,
  args: string[],
  opts: { user?: string; input?: string; env?: Record<string, string> } = {},
): Run {
  const socket = typeof daemon === 'string' ? daemon : daemon.socket;
  const argv = [NSX, '--socket', socket, ...args];
  const cmd = opts.user ? ['runuser', '-u', opts.user, '--', ...argv] : argv;
  const r = spawnSync(cmd[0], cmd.slice(1), {
    input: opts.input ?? '',
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return {
    code: r.status ?? 128,
    stdout: r.stdout,
    stderr: r.stderr + (r.signal ? `[nsx was killed by ${r.signal}]` : '') + (r.error ? `[${r.error.message}]` : ''),
  };
}

/** A user made for this test, removed by remove(); in the nsx group only when asked. */
export function createUser(opts: { inGroup?: boolean; groups?: string[] } = {}): {
  name: string;
  uid: number;
  remove(): void;
} {
  const name = `nsxt${process.pid % 10000}${Math.floor(Math.random() * 1e5)}`;
  if (opts.inGroup) ensureGroup();
  const groups = [...(opts.inGroup ? ['nsx'] : []), ...(opts.groups ?? [])];
  execFileSync('useradd', [
    '--create-home',
    '--shell',
    '/bin/bash',
    ...(groups.length ? ['--groups', groups.join(',')] : []),
    name,
  ]);
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  return {
    name,
    uid,
    remove: () => {
      spawnSync('pkill', ['-KILL', '-u', name]);
      spawnSync('userdel', ['--remove', name]);
    },
  };
}

/** nsxd's socket group: a fresh machine has none until the first daemon or member needs it. */
function ensureGroup(name = 'nsx'): void {
  if (spawnSync('getent', ['group', name]).status !== 0) execFileSync('groupadd', ['--system', name]);
}

/** The inode of a process's namespace of a type. */
export function nsInode(pid: number | 'self', type: string): number {
  return Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/${type}`))![1]);
}

/** A process living in fresh namespaces until killed: `unshare FLAGS -- sh -c SCRIPT` where SCRIPT ends by sleeping. */
export async function holdNamespaces(
  unshareArgs: string[],
  script = 'exec sleep 600',
): Promise<{ pid: number; kill(): void }> {
  const proc = spawn('unshare', [...unshareArgs, '--', 'sh', '-c', script], { stdio: 'ignore' });
  // The sleeping process is the last of the chain unshare starts (it may fork for --pid).
  const pid = await waitFor(() => {
    const kids = descendants(proc.pid!);
    const sleeper = [proc.pid!, ...kids].find((p) => comm(p) === 'sleep');
    return sleeper;
  });
  return {
    pid,
    kill: () => {
      for (const p of [...descendants(proc.pid!), proc.pid!])
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
    },
  };
}

export function comm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Every process below pid, from the kernel's children lists. */
export function descendants(pid: number): number[] {
  let children: number[];
  try {
    children = readdirSync(`/proc/${pid}/task`).flatMap((t) =>
      readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return []; // gone
  }
  return children.flatMap((c) => [c, ...descendants(c)]);
}

export async function waitFor<T>(
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Clock ticks a second, as /proc/PID/stat counts CPU time. */
let ticks: number | undefined;

/** The CPU time a process has spent so far, user and system, in milliseconds (/proc/PID/stat's utime and stime). */
export function cpuTime(pid: number): number {
  ticks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field N of proc(5) is fields[N - 3]: comm, which may hold spaces, ends at the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticks;
}

export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** The folder of a running nsxd's session cgroups (named after its socket, below its own cgroup), or undefined without cgroup2. */
export function sessionCgroupDir(daemon: Daemon): string | undefined {
  const mount = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .find((f) => f[f.indexOf('-') + 1] === 'cgroup2');
  if (!mount) return undefined;
  const own = /^0::(\/.*)$/m.exec(readFileSync(`/proc/${daemon.proc.pid}/cgroup`, 'utf8'))?.[1] ?? '/';
  return join(mount[4], own, 'nsx.sessions', createHash('sha256').update(daemon.socket).digest('hex').slice(0, 16));
}
