// "Hosts" on this machine for the --host tests: each its own net, uts, mount
// and pid namespaces with its own /proc, joined to this one by a veth, with
// Debian's sshd on the veth's address and its own nsxd on /run/nsx/nsxd.sock
// of its own mount namespace (a tmpfs there), and `nsx` on its PATH.
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { descendants, DIST, NSXD, removeDir, rootDir, waitFor } from './support';

export interface FakeHost {
  name: string;
  ip: string;
  /** The host-side end of its veth. */
  link: string;
  /** The pid (here) of its pid namespace's init. */
  init: number;
  dir: string;
  /** Its sshd's public host key, as a known_hosts line's key part. */
  hostKey: string;
  /** The pid there of a process of this host's own. */
  innerPid(outer: number): number;
  /** The pid here of its process running exactly this command line. */
  find(cmdline: string): number | undefined;
  log(): string;
  destroy(): void;
  /** What destroySaved needs to end it from another process (the reload suite's next run). */
  saved: SavedHost;
}

export interface SavedHost {
  /** The unshare that made it, its init, its veth here, its directory. */
  parent: number;
  init: number;
  link: string;
  dir: string;
}

/** Ends a host made by an earlier process: its pid namespace goes with its init, then its veth and directory. */
export function destroySaved(h: SavedHost): void {
  for (const pid of [h.init, h.parent])
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  spawnSync('ip', ['link', 'del', h.link], { stdio: 'ignore' });
  removeDir(h.dir);
}

function sshdConfig(dir: string, ip: string): string {
  return [
    `ListenAddress ${ip}`,
    `HostKey ${dir}/hostkey`,
    'PidFile none',
    'UsePAM no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    // The old link's bridge is let go soon after the link comes back: the test's client attaches again.
    'ClientAliveInterval 2',
    'ClientAliveCountMax 2',
    'LogLevel INFO',
    '',
  ].join('\n');
}

/** The script init runs there: what makes it a host, then its services and a process of its own (MARKER). */
function initScript(name: string, dir: string, ip: string, marker: string): string {
  return `set -e
hostname ${name}
mount -t tmpfs -o mode=0755 tmpfs /run/nsx
mount -t tmpfs -o mode=0755 tmpfs /usr/local/bin
ln -s ${DIST}/nsx /usr/local/bin/nsx
mkdir -p /run/sshd
ip link set lo up
while ! ip link show eth0 >/dev/null 2>&1; do sleep 0.05; done
ip addr add ${ip}/24 dev eth0
ip link set eth0 up
unshare --uts -- ${marker} &
${process.execPath} ${NSXD} --socket /run/nsx/nsxd.sock --group nsx --config ${dir}/nsxd.json --orphan-timeout 120 >${dir}/nsxd.log 2>&1 &
/usr/sbin/sshd -D -e -f ${dir}/sshd_config >${dir}/sshd.log 2>&1 &
wait
`;
}

/** DETACHED: in a session of its own, so that it outlives this process (a window reloaded under it). */
export async function makeHost(name: string, index: number, marker: string, detached = false): Promise<FakeHost> {
  const dir = rootDir(`${name}-`);
  const ip = `10.24.${index}.2`;
  const link = `${name}h`;
  mkdirSync('/run/nsx', { recursive: true, mode: 0o755 });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', join(dir, 'hostkey')]);
  writeFileSync(join(dir, 'sshd_config'), sshdConfig(dir, ip));
  writeFileSync(join(dir, 'nsxd.json'), JSON.stringify({ admins: [], rootShells: [] }), { mode: 0o644 });
  writeFileSync(join(dir, 'init.sh'), initScript(name, dir, ip, marker));
  const proc: ChildProcess = spawn(
    'unshare',
    ['--net', '--uts', '--mount', '--pid', '--fork', '--mount-proc', '--', 'sh', join(dir, 'init.sh')],
    { stdio: 'ignore', detached },
  );
  if (detached) proc.unref();
  const destroy = () => {
    const all = [...descendants(proc.pid!), proc.pid!];
    for (const p of all)
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    spawnSync('ip', ['link', 'del', link], { stdio: 'ignore' });
    removeDir(dir);
  };
  try {
    const init = await waitFor(() => descendants(proc.pid!)[0], 5000, `${name}'s init`);
    execFileSync('ip', ['link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', String(init)]);
    execFileSync('ip', ['addr', 'add', `10.24.${index}.1/24`, 'dev', link]);
    execFileSync('ip', ['link', 'set', link, 'up']);
    const log = () => ['nsxd.log', 'sshd.log'].map((f) => safeRead(join(dir, f))).join('');
    await waitFor(() => /listening on/.test(safeRead(join(dir, 'nsxd.log'))), 15_000, `${name}'s nsxd:\n${log()}`);
    await waitFor(() => /Server listening/.test(safeRead(join(dir, 'sshd.log'))), 15_000, `${name}'s sshd:\n${log()}`);
    const hostKey = readFileSync(join(dir, 'hostkey.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    return {
      name,
      ip,
      link,
      init,
      dir,
      hostKey,
      innerPid: (outer) => Number(/^NSpid:.*\s(\d+)$/m.exec(readFileSync(`/proc/${outer}/status`, 'utf8'))![1]),
      find: (cmdline) => [init, ...descendants(init)].find((p) => cmdlineOf(p) === cmdline),
      log,
      destroy,
      saved: { parent: proc.pid!, init, link, dir },
    };
  } catch (err) {
    destroy();
    throw err;
  }
}

function cmdlineOf(pid: number): string {
  return safeRead(`/proc/${pid}/cmdline`).split('\0').filter(Boolean).join(' ');
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** A user's own ssh key, authorized for themselves (every host shares /etc/passwd and /home), and a usable login. */
export function sshUser(name: string): { home: string; pub: string } {
  const home = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).split(':')[5];
  // A '!' password (useradd's) is a locked account to sshd without PAM: '*' is none, and not locked.
  execFileSync('usermod', ['-p', '*', name]);
  const ssh = join(home, '.ssh');
  mkdirSync(ssh, { recursive: true, mode: 0o700 });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(ssh, 'id_ed25519')]);
  const pub = readFileSync(join(ssh, 'id_ed25519.pub'), 'utf8');
  writeFileSync(join(ssh, 'authorized_keys'), pub, { mode: 0o600 });
  chownTree(home, name);
  return { home, pub };
}

/** Writes FILE under the user's home as theirs. */
export function userFile(user: string, home: string, file: string, text: string): void {
  const path = join(home, file);
  mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
  writeFileSync(path, text, { mode: 0o600 });
  chownTree(home, user);
}

function chownTree(home: string, user: string): void {
  execFileSync('chown', ['-R', `${user}:`, home]);
  chmodSync(home, 0o755);
}
