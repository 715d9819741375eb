// Real container engines for the tests: podman (with runc: crun cannot set
// rlimits on machines whose bounding set lacks CAP_SYS_RESOURCE) and Docker,
// each with an image made here from busybox-static, so no registry is needed.
// An engine that cannot run on a machine says why, and its tests skip.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeDir, waitFor } from './support';

/** Tagged by what is in it: a new applet list wants a new tag, so no machine keeps a stale image. */
export const IMAGE = 'localhost/nsx-test-busybox:2';
/** podman and docker refuse to start without these limits on this kind of machine. */
const LIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096'];
const PODMAN_API = '/run/podman/podman.sock';

export interface Engine {
  name: 'podman' | 'docker';
  /** Starts a container; returns its full id. */
  run(name: string, args: string[], command?: string[]): string;
  pid(name: string): number;
  remove(name: string): void;
  /** Stops what the tests started (the engine's daemon, its API service). */
  stop(): void;
}

/** A root filesystem of busybox and its applets, as a tar stream on stdin of the import. */
function importImage(cli: string): void {
  if (spawnSync(cli, ['image', 'inspect', IMAGE], { stdio: 'ignore' }).status === 0) return;
  const root = mkdtempSync(join(tmpdir(), 'nsx-rootfs-'));
  try {
    mkdirSync(join(root, 'bin'));
    mkdirSync(join(root, 'srv'));
    copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
    for (const applet of ['sh', 'true', 'hostname', 'sleep', 'cat', 'ls', 'ip', 'ps', 'env', 'pwd', 'id', 'readlink'])
      symlinkSync('busybox', join(root, 'bin', applet));
    const tar = spawnSync('tar', ['-C', root, '-c', '.'], { maxBuffer: 64 * 1024 * 1024 });
    execFileSync(cli, ['import', '-', IMAGE], { input: tar.stdout, stdio: ['pipe', 'ignore', 'inherit'] });
  } finally {
    removeDir(root);
  }
}

function engine(name: Engine['name'], cli: string[], stops: (() => void)[]): Engine {
  const [bin, ...base] = cli;
  const run = (...args: string[]) => execFileSync(bin, [...base, ...args], { encoding: 'utf8' }).trim();
  return {
    name,
    run: (container, args, command = ['sleep', '3600']) => {
      spawnSync(bin, [...base, 'rm', '-f', container], { stdio: 'ignore' });
      return run('run', '-d', '--name', container, ...LIMITS, ...args, IMAGE, ...command);
    },
    pid: (container) => Number(run('inspect', '--format', '{{.State.Pid}}', container)),
    remove: (container) => {
      spawnSync(bin, [...base, 'rm', '-f', ...(name === 'podman' ? ['-t', '0'] : []), container], { stdio: 'ignore' });
    },
    stop: () => {
      for (const stop of stops.splice(0)) stop();
    },
  };
}

/**
 * An engine, once `prepare` has started what it needs (its daemon, its API
 * service: stopped again by stop()) and one throwaway container has run;
 * else why it cannot run here.
 */
async function ready(
  name: Engine['name'],
  cli: string[],
  prepare: (stops: (() => void)[]) => Promise<void>,
): Promise<Engine | string> {
  const stops: (() => void)[] = [];
  try {
    await prepare(stops);
    importImage(cli[0]);
    const e = engine(name, cli, stops);
    try {
      e.run('nsx-probe', [], ['true']);
    } finally {
      e.remove('nsx-probe');
    }
    return e;
  } catch (err) {
    for (const stop of stops) stop();
    return `${name} cannot run containers here: ${(err as Error).message.split('\n')[0]}`;
  }
}

/** podman with runc, its image, and its API socket (podman serves it only when asked, as systemd's podman.socket would). */
export async function podman(): Promise<Engine | string> {
  if (spawnSync('podman', ['--version']).status !== 0) return 'podman is not installed';
  if (!existsSync('/usr/bin/runc') && !existsSync('/usr/sbin/runc')) return 'runc is not installed';
  return ready('podman', ['podman', '--runtime', 'runc'], async (stops) => {
    if (existsSync(PODMAN_API)) return;
    mkdirSync('/run/podman', { recursive: true });
    const api = spawn('podman', ['system', 'service', '--time=0', `unix://${PODMAN_API}`], { stdio: 'ignore' });
    stops.push(() => {
      api.kill();
    });
    await waitFor(() => existsSync(PODMAN_API), 15_000, 'the podman API socket');
  });
}

/** dockerd (started here when it is not running: no systemd) and its image. */
export async function docker(): Promise<Engine | string> {
  if (spawnSync('dockerd', ['--version']).status !== 0) return 'dockerd is not installed';
  return ready('docker', ['docker'], async (stops) => {
    if (spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0) return;
    // No iptables rules of its own: the tests need no published ports, and the host's firewall stays as it was.
    const d = spawn('dockerd', ['--iptables=false', '--ip-masq=false'], { stdio: 'ignore' });
    stops.push(() => {
      d.kill();
    });
    await waitFor(() => spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0, 30_000, 'dockerd');
  });
}
