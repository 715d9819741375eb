// Starts dist/nsx-exec, the single-threaded child that does every namespace
// transition (nsxd itself never calls setns or unshare). Namespace fds nsxd
// opened and checked are passed as inherited fds, never as paths.
import { ChildProcess, spawn, StdioOptions } from 'node:child_process';
import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { NsType } from '../../common/protocol';

export const LAUNCHER = join(__dirname, 'nsx-exec');

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
  /** A pty peer fd for stdin, stdout and stderr, or pipes. */
  stdio: number | 'pipe';
  cgroupProcsFd?: number;
  /** Stop after unsharing and wait for stdin to close (namespaces/create). */
  hold?: boolean;
}

export interface Launched {
  child: ChildProcess;
  /** Resolves once nsx-exec has exec'd (or, with hold, is ready); rejects with its error sentence. */
  ready: Promise<void>;
}

/**
 * nsx-exec runs as root on nsxd's word, so no one who could not already change
 * nsxd itself may change it: same owner as nsxd's own file, writable by that
 * owner alone. (Installed by helper/daemon/systemd/install.sh, both are root's.)
 */
export function checkLauncher(): void {
  const self = statSync(__filename);
  const st = statSync(LAUNCHER);
  if (!st.isFile() || st.uid !== self.uid || (st.mode & 0o022) !== 0) {
    throw new Error(`${LAUNCHER} must be a file with the owner of ${__filename}, writable by that owner alone`);
  }
  if ((st.mode & 0o100) === 0) chmodSync(LAUNCHER, 0o755); // unpacked from a .vsix, which keeps no modes
}

export function launch(spec: LaunchSpec): Launched {
  const stdio: StdioOptions = spec.stdio === 'pipe' ? ['pipe', 'pipe', 'pipe'] : [spec.stdio, spec.stdio, spec.stdio];
  const args: string[] = ['--status-fd', '3'];
  stdio.push('pipe'); // fd 3: status
  const passFd = (fd: number) => {
    stdio.push(fd);
    return String(stdio.length - 1);
  };
  for (const { type, fd } of spec.joins) args.push('--join', `${type}:${passFd(fd)}`);
  if (spec.cgroupProcsFd !== undefined) args.push('--cgroup-procs', passFd(spec.cgroupProcsFd));
  for (const type of spec.unshare) args.push('--unshare', type);
  if (spec.unshare.includes('user')) args.push('--map-root');
  if (spec.hostname) args.push('--hostname', spec.hostname);
  if (spec.mountProc) args.push('--mount-proc');
  if (spec.hold) args.push('--hold');
  if (spec.identity) {
    args.push('--uid', String(spec.identity.uid), '--gid', String(spec.identity.gid), '--groups', spec.identity.groups.join(','));
  }
  if (spec.stdio !== 'pipe') args.push('--pty');
  if (spec.home) args.push('--home', spec.home);
  for (const shell of spec.shells ?? []) args.push('--shell', shell);
  if (spec.cat) args.push('--cat');
  if (spec.command?.length) args.push('--', ...spec.command);

  const child = spawn(LAUNCHER, args, { stdio, env: spec.env, detached: false });
  const status = child.stdio[3] as Readable;
  const ready = new Promise<void>((resolve, reject) => {
    let text = '';
    child.once('error', (err) => reject(new Error(`cannot start ${LAUNCHER}: ${err.message}`)));
    status.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (spec.hold && text === 'R') resolve();
    });
    status.on('error', () => undefined);
    status.on('end', () => {
      if (text.startsWith('E')) reject(new Error(text.slice(1)));
      else resolve();
    });
  });
  return { child, ready };
}
