// A real systemd as PID 1, in a podman container, for what only systemd
// shows: socket activation, a restart under KillMode=process, cgroups
// delegated to a service. Its root is Debian's own, made by debootstrap and
// imported (never pulled from a registry); the image is tagged by its recipe,
// so later runs reuse it and a changed recipe makes a new one.
import { ChildProcess, spawn, spawnSync, SpawnSyncOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, realpathSync } from 'node:fs';
import { removeDir, waitFor } from './support';

/** The host's Debian release, so that the host's node (bind-mounted in) finds the libraries it was built against. */
const SUITE = /^VERSION_CODENAME=(\w+)$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'bookworm';
const MIRROR = 'http://deb.debian.org/debian';
const OPTIONS = ['--variant=minbase', '--include=systemd,systemd-sysv,dbus'];
export const IMAGE_NAME = 'localhost/nsx-test-systemd';
export const IMAGE = `${IMAGE_NAME}:${SUITE}-${createHash('sha256')
  .update([...OPTIONS, SUITE, MIRROR].join(' '))
  .digest('hex')
  .slice(0, 12)}`;
/** podman refuses to start without these limits on this kind of machine, and crun cannot run here. */
const PODMAN = ['--runtime', 'runc'];
const LIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096'];

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export interface SystemdContainer {
  name: string;
  /** A command in the container, as root unless user is given (runuser, with that user's groups). */
  exec(argv: string[], opts?: { user?: string; input?: string; timeout?: number }): Run;
  /** The same, left running, its stdin a pipe: a person at a terminal, with script(1) giving it a pty. */
  spawn(argv: string[], opts?: { user?: string }): ChildProcess;
  copyIn(hostPath: string, containerPath: string): void;
  /** Whether the container has a cgroup2 hierarchy where nsxd can make session cgroups, and if not, why. */
  cgroup2: true | string;
  remove(): void;
}

function run(argv: string[], opts: SpawnSyncOptions = {}): Run {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  return {
    code: r.status ?? 128,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? '') + (r.error ? `[${r.error.message}]` : ''),
  };
}

function lastLine(s: string): string {
  return s.trim().split('\n').pop() ?? '';
}

/** Builds the image unless it is there already; returns why it cannot be, if it cannot. */
export function buildImage(log: (line: string) => void = () => undefined): string | undefined {
  if (run(['podman', '--version']).code !== 0) return 'podman is not installed (scripts/setup.sh --test installs it)';
  if (!existsSync('/usr/bin/runc') && !existsSync('/usr/sbin/runc'))
    return 'runc is not installed (scripts/setup.sh --test installs it)';
  if (run(['podman', 'image', 'exists', IMAGE]).code === 0) return undefined;
  const debootstrap = ['/usr/sbin/debootstrap', '/usr/bin/debootstrap'].find((p) => existsSync(p));
  if (!debootstrap) return 'debootstrap is not installed (scripts/setup.sh --test installs it)';
  const root = mkdtempSync('/var/tmp/nsx-systemd-root-');
  try {
    log(`building ${IMAGE}: debootstrap ${OPTIONS.join(' ')} ${SUITE} ${root} ${MIRROR} (about two minutes)`);
    const made = run([debootstrap, ...OPTIONS, SUITE, root, MIRROR], { timeout: 15 * 60_000 });
    if (made.code !== 0)
      return `debootstrap could not make a ${SUITE} root from ${MIRROR}: ${lastLine(made.stdout + made.stderr)}`;
    const imported = run(
      ['bash', '-o', 'pipefail', '-c', 'tar -C "$1" -c . | podman import - "$2"', 'import', root, IMAGE],
      { timeout: 5 * 60_000 },
    );
    if (imported.code !== 0) return `podman could not import the root: ${lastLine(imported.stderr)}`;
    // Only the newest recipe's image is kept.
    for (const old of run(['podman', 'image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', IMAGE_NAME])
      .stdout.split('\n')
      .filter(Boolean)) {
      if (old !== IMAGE) run(['podman', 'rmi', old]);
    }
    return undefined;
  } finally {
    // debootstrap mounts /proc and /sys inside the root while it works, and may leave them after a failure.
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((p) => p?.startsWith(`${root}/`));
    for (const m of mounts.reverse()) run(['umount', '--lazy', m]);
    removeDir(root);
  }
}

/**
 * A container booted with systemd as its PID 1, once `systemctl
 * is-system-running` says it is up; else why it cannot run here.
 */
export async function startSystemd(name: string): Promise<SystemdContainer | string> {
  const why = buildImage((line) => process.stderr.write(`${line}\n`));
  if (why) return why;
  run(['podman', ...PODMAN, 'rm', '-f', '-t', '0', name]);
  const started = run([
    'podman',
    ...PODMAN,
    'run',
    '-d',
    '--name',
    name,
    ...LIMITS,
    // nsxd needs what it has on a real host: every capability (mount for its pins, setns into any
    // namespace). So does systemd, for the cgroups it keeps services in: on a hybrid host podman
    // mounts only the cgroup v1 hierarchies into the container (it counts hybrid as v1), and only a
    // privileged systemd can mount cgroup2 at /sys/fs/cgroup/unified itself, as it does on a hybrid
    // host; unprivileged it boots in legacy mode ("System is tainted: cgroupsv1"), no service has a
    // cgroup2 path, and nsxd, finding no cgroup2, keeps sessions in process groups.
    '--privileged',
    '--systemd=always',
    // The host's node: the image stays what debootstrap made (Debian's own nodejs is older than the 20 nsxd needs).
    '-v',
    `${realpathSync(process.execPath)}:/usr/bin/node:ro`,
    IMAGE,
    '/sbin/init',
  ]);
  if (started.code !== 0) return `podman could not start a systemd container: ${lastLine(started.stderr)}`;
  const exec = (argv: string[], opts: { user?: string; input?: string; timeout?: number } = {}): Run => {
    const inner = opts.user ? ['runuser', '-u', opts.user, '--', ...argv] : argv;
    return run(['podman', 'exec', ...(opts.input !== undefined ? ['-i'] : []), name, ...inner], {
      input: opts.input,
      timeout: opts.timeout ?? 60_000,
    });
  };
  const remove = () => {
    run(['podman', ...PODMAN, 'rm', '-f', '-t', '0', name]);
  };
  try {
    const state = await waitFor(
      () => {
        const s = exec(['systemctl', 'is-system-running']).stdout.trim();
        return ['running', 'degraded'].includes(s) && s;
      },
      60_000,
      'systemd in the container to finish booting',
    );
    if (state !== 'running') {
      const failed = exec(['systemctl', '--failed', '--no-legend', '--plain']).stdout.trim();
      process.stderr.write(`systemd in the container is ${state}: ${failed}\n`);
    }
  } catch (err) {
    const log = exec(['journalctl', '-b', '--no-pager', '-n', '5']).stdout;
    remove();
    return `systemd did not boot in the container: ${(err as Error).message}; ${log}`;
  }
  const cgroup2 =
    exec(['grep', '-c', ' - cgroup2 ', '/proc/self/mountinfo']).stdout.trim() !== '0'
      ? (true as const)
      : 'systemd in the container mounted no cgroup2 hierarchy (a host of cgroup v1 alone, without cgroup2 at all), so nsxd keeps each session in a process group, not a cgroup';
  return {
    name,
    exec,
    spawn: (argv, opts = {}) =>
      spawn('podman', ['exec', '-i', name, ...(opts.user ? ['runuser', '-u', opts.user, '--'] : []), ...argv], {
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    copyIn: (hostPath, containerPath) => {
      const r = run(['podman', 'cp', hostPath, `${name}:${containerPath}`]);
      if (r.code !== 0) throw new Error(`podman cp ${hostPath}: ${r.stderr}`);
    },
    cgroup2,
    remove,
  };
}
