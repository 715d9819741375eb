// nsxd: the root helper of Namespace Explorer. Runs in the foreground,
// serves the nsxd protocol on a Unix socket that only root and the members
// of one group can reach, and does every privileged act on their behalf.
//
// One rule for its folders: discovery reads, kernel acts, requests decide,
// rpc carries. discovery/ imports none of the others; kernel/ imports
// discovery/ (and who a caller is, as a type); requests/ import kernel/,
// discovery/, access/ and rpc/'s types; rpc/ imports access/ alone. The
// modules at the top (this file, fds.ts) wire and serve them all.
// scripts/check-layers.mjs checks the imports in npm test.
//   nsxd [--socket PATH] [--group NAME] [--config FILE] [--orphan-timeout SECONDS] [--sessions-per-user N]
import { chmodSync, chownSync, lstatSync, mkdirSync, rmSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, Server as NetServer } from 'node:net';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import * as libc from '../../native/libc';
import './memory';
import { DEFAULT_GROUP, DEFAULT_SOCKET } from '../common/deployment';
import { loadPolicy, Policy } from './access/access';
import { audit } from './access/audit';
import { Engines } from './discovery/engines';
import { KERNEL_NSTYPES } from './discovery/procfs';
import { FullScanWhy, Scanner } from './discovery/scanner';
import { scanLibrary } from './discovery/sliceReader';
import { Watcher } from './discovery/watch';
import { SessionCgroups } from './kernel/cgroup';
import { checkLauncher } from './kernel/launcher';
import { spawner } from './kernel/spawner';
import { Pins } from './kernel/pins';
import { SessionRegistry } from './kernel/sessionRegistry';
import { NetWatch } from './discovery/netWatch';
import { captureArea } from './requests/capture';
import { filesArea } from './requests/files';
import { namespacesArea } from './requests/namespaces';
import { netArea } from './requests/net';
import { pinsArea } from './requests/pins';
import { portsArea } from './requests/ports';
import { terminalArea } from './requests/terminals';
import { DEFAULT_LIMITS, Server } from './rpc/server';

declare const NSX_VERSION: string | undefined;
const VERSION = typeof NSX_VERSION === 'string' ? NSX_VERSION : '0.0.0-dev';

function fail(message: string): never {
  process.stderr.write(`nsxd: ${message}\n`);
  process.exit(1);
}

/** The socket's directory must be root's and writable by root alone, or anyone could swap the socket. */
function prepareDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) {
    fail(`${dir} must be a directory owned by root and not writable by group or others`);
  }
}

/** Refuses a live daemon's socket; removes a stale one (nothing answers on it). */
async function clearStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) fail(`${path} exists and is not a socket; remove it or choose another --socket`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live)
    fail(
      `another nsxd is already serving ${path}; stop it first (sudo systemctl stop nsxd) or choose another --socket`,
    );
  unlinkSync(path);
}

async function listen(socketPath: string, gid: number): Promise<{ server: NetServer; owned: boolean }> {
  const server = createServer();
  // systemd socket activation: fd 3 is our listening socket, already root:GROUP 0660.
  if (process.env.LISTEN_FDS === '1' && Number(process.env.LISTEN_PID) === process.pid) {
    delete process.env.LISTEN_FDS;
    delete process.env.LISTEN_PID;
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen({ fd: 3 }, resolve));
    return { server, owned: false };
  }
  prepareDirectory(dirname(socketPath));
  await clearStaleSocket(socketPath);
  // Created 0600 under this umask, then opened to the group: never world-accessible, not even for an instant.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socketPath, resolve));
  } finally {
    process.umask(umask);
  }
  chownSync(socketPath, 0, gid);
  chmodSync(socketPath, 0o660);
  return { server, owned: true };
}

async function main(): Promise<void> {
  // Whatever fd our parent left open (a terminal, a journal socket, a leaked
  // pty) must never reach a session: every fd nsxd makes is close-on-exec, and
  // these become so too. (Node and libuv open theirs with O_CLOEXEC.)
  libc.cloexecFrom(3);
  const options = readOptions();
  if (!options) return;
  const { gid, policy } = checkStart(options);
  const { server, owned } = await listen(options.socket, gid);
  const { rpc, registry, cgroups, ports } = await serve(options, policy, server, owned);
  const stop = (signal: string) => {
    audit('stop', { signal });
    // Each step on its own: one that throws (a client's connection half gone) must not keep nsxd from exiting.
    const steps = [
      () => server.close(),
      () => owned && rmSync(options.socket, { force: true }), // gone already is as good
      // Sessions outlive nsxd: each waits in its supervisor for the next nsxd (and ends after the orphan timeout).
      () => (registry.stopping = true),
      () => ports.stopAll('nsxd is stopping'),
      () => rpc.closeAll(),
      () => cgroups.close(),
    ];
    for (const step of steps)
      try {
        step();
      } catch (err) {
        audit('error', { result: 'internal', reason: `while stopping: ${(err as Error).message}` });
      }
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // A bug reached by one request must not take down every other client's sessions.
  process.on('uncaughtException', (err) => audit('error', { result: 'internal', reason: err.stack ?? String(err) }));
}

interface Options {
  socket: string;
  group: string;
  config: string;
  orphanTimeout: number;
  sessionsPerUser: number;
  /** The host's /sys/fs/cgroup, mounted into nsxd's container: sessions start in the host's cgroups. */
  hostCgroups?: string;
}

/** The command line, its numbers checked; undefined when it asked for the usage or the version, which are printed. */
function readOptions(): Options | undefined {
  const { values } = parseArgs({
    options: {
      socket: { type: 'string', default: process.env.NSX_SOCKET ?? DEFAULT_SOCKET },
      group: { type: 'string', default: DEFAULT_GROUP },
      config: { type: 'string', default: '/etc/nsx/nsxd.json' },
      'orphan-timeout': { type: 'string', default: '600' },
      'sessions-per-user': { type: 'string', default: '128' },
      'host-cgroups': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: nsxd [--socket PATH] [--group NAME] [--config FILE] [--orphan-timeout SECONDS] [--sessions-per-user N] [--host-cgroups DIR]\n' +
        `  --socket  where to listen (default ${DEFAULT_SOCKET}; systemd socket activation is used when present)\n` +
        `  --group   the group whose members may connect (default ${DEFAULT_GROUP})\n` +
        '  --config  policy file (default /etc/nsx/nsxd.json): {"admins": [...], "rootShells": [...]}\n' +
        '  --orphan-timeout  how long a session whose client went with an nsxd that stopped waits to be attached again (default 600 s)\n' +
        '  --sessions-per-user  sessions one user may have at once, those waiting to be attached again included (default 128; root is not counted)\n' +
        "  --host-cgroups DIR  the host's /sys/fs/cgroup mounted at DIR (nsxd in a pod): sessions start in the host's cgroups\n",
    );
    return undefined;
  }
  if (values.version) {
    process.stdout.write(`nsxd ${VERSION}\n`);
    return undefined;
  }
  const orphanTimeout = Number(values['orphan-timeout']);
  if (!Number.isInteger(orphanTimeout) || orphanTimeout < 1 || orphanTimeout > 7 * 24 * 3600)
    fail('--orphan-timeout is a whole number of seconds, from 1 to 604800');
  const sessionsPerUser = Number(values['sessions-per-user']);
  if (!Number.isInteger(sessionsPerUser) || sessionsPerUser < 1 || sessionsPerUser > 4096)
    fail('--sessions-per-user is a whole number, from 1 to 4096');
  const hostCgroups = values['host-cgroups'];
  if (hostCgroups !== undefined && !hostCgroups.startsWith('/')) fail('--host-cgroups is an absolute path');
  return {
    socket: values.socket,
    group: values.group,
    config: values.config,
    orphanTimeout,
    sessionsPerUser,
    ...(hostCgroups !== undefined && { hostCgroups }),
  };
}

/** What nsxd needs before it listens: root, its group, its policy and its launcher. */
function checkStart(options: Options): { gid: number; policy: Policy } {
  if (process.getuid?.() !== 0)
    fail('nsxd must run as root: start it with sudo nsxd, or install the systemd units (see README)');
  const group = libc.getgrnam(options.group);
  if (!group)
    fail(`the group "${options.group}" does not exist: create it with sudo groupadd --system ${options.group}`);
  try {
    const policy = loadPolicy(options.config);
    checkLauncher();
    spawner.start();
    return { gid: group.gid, policy };
  } catch (err) {
    fail((err as Error).message);
  }
}

/**
 * A full scan, logged with why it ran (a quiet spell's one may be the
 * schedule, or events lost), its cost, and whether the model was patched
 * with the processes it found changed or built whole.
 */
function logFullScan(why: FullScanWhy, ms: number, cpuMs: number, count: number, patched?: number): void {
  const how = patched === undefined ? 'built' : `patched with ${patched} processes`;
  process.stderr.write(
    `nsxd: full scan (${why}, ${count} so far): ${ms} ms, ${Math.round(cpuMs)} ms of CPU, model ${how}\n`,
  );
}

/** Wires discovery, the kernel's pins and sessions and the request areas to the server, and serves. */
async function serve(options: Options, policy: Policy, server: NetServer, owned: boolean) {
  const runDir = dirname(options.socket);
  const pins = new Pins(runDir);
  try {
    pins.init();
  } catch (err) {
    if (owned) unlinkSync(options.socket);
    fail(`cannot prepare the pin directory ${pins.dir}: ${(err as Error).message}`);
  }
  const engines = new Engines();
  const mountAt = pins.mountAt.bind(pins);
  const scanner = new Scanner({ userName, mountAt }, engines, scanLibrary());
  // A rootless engine's answer lands after the list that asked for it: the model takes it in then.
  engines.onChange = () => void scanner.refreshContainers().catch(() => undefined);
  const watcher = new Watcher(scanner);
  // Every scan and update reaches the subscribers as what changed, whoever asked for it.
  scanner.onScan = (model, patch) => watcher.scanned(model.snapshot, patch);
  scanner.onFullScan = logFullScan;
  const cgroups = SessionCgroups.open(options.socket, options.hostCgroups);
  const registry = new SessionRegistry(runDir, options.orphanTimeout);
  try {
    await registry.init(cgroups);
  } catch (err) {
    if (owned) unlinkSync(options.socket);
    fail(`cannot prepare the sessions directory ${registry.dir}: ${(err as Error).message}`);
  }
  const net = new NetWatch(scanner, watcher);
  const ports = portsArea(scanner, pins);
  const capture = captureArea({ scanner, pins });
  const rpc = new Server({
    group: options.group,
    policy,
    limits: DEFAULT_LIMITS,
    version: VERSION,
    nstypes: KERNEL_NSTYPES,
    areas: [
      namespacesArea(scanner, watcher, net),
      pinsArea(pins, scanner, watcher),
      terminalArea({ scanner, pins, cgroups, registry, watcher, userName }, options.sessionsPerUser),
      capture.area,
      netArea(net, watcher),
      ports.area,
      filesArea(scanner, pins),
    ],
    // A token is a forward's (ports/connect) or else a capture's.
    stream: (token, socket, caller) => ports.stream(token, socket, caller) || capture.stream(token, socket, caller),
  });
  rpc.attach(server);
  audit('start', {
    socket: options.socket,
    group: options.group,
    version: VERSION,
    pid: process.pid,
    cgroups: cgroups.available,
  });
  process.stderr.write(`nsxd: listening on ${options.socket} (group ${options.group})\n`);
  return { rpc, registry, cgroups, ports };
}

const users = new Map<number, string>();
function userName(uid: number): string {
  let name = users.get(uid);
  if (name === undefined) {
    try {
      name = libc.getpwuid(uid)?.name ?? String(uid);
    } catch {
      name = String(uid);
    }
    users.set(uid, name);
  }
  return name;
}

void main().catch((err) => fail((err as Error).message));
