// Each session runs in a cgroup (v2) of its own, so that closing it kills
// every process it started, even one that daemonized or moved to another
// process group: cgroup.kill reaches them all. Where no writable cgroup2
// hierarchy exists, sessions fall back to signalling their process group.
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, writeFileSync, constants } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { unescapeMountPath } from '../discovery/procfs';

export class SessionCgroups {
  private constructor(private readonly base: string | undefined) {}

  /**
   * Finds cgroup2 and clears the sessions a previous nsxd on the same socket
   * left behind; nsxds on other sockets keep theirs (each has its own folder).
   */
  static open(socketPath: string): SessionCgroups {
    const mount = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
      .map((l) => l.split(' '))
      .find((f) => f[f.indexOf('-') + 1] === 'cgroup2');
    if (!mount) return new SessionCgroups(undefined);
    const instance = createHash('sha256').update(socketPath).digest('hex').slice(0, 16);
    // Below nsxd's own cgroup: under systemd that is nsxd.service's (Delegate=yes),
    // so that `systemctl stop nsxd` and KillMode=control-group reach every session.
    const own = /^0::(\/.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? '/';
    const base = join(unescapeMountPath(mount[4]), own, 'nsx.sessions', instance);
    try {
      mkdirSync(base, { recursive: true, mode: 0o755 });
      if (!existsSync(join(base, 'cgroup.kill'))) return new SessionCgroups(undefined);
      for (const name of readdirSync(base)) if (name.startsWith('session-')) killAndRemove(join(base, name));
      return new SessionCgroups(base);
    } catch {
      return new SessionCgroups(undefined);
    }
  }

  get available(): boolean {
    return this.base !== undefined;
  }

  /** A new cgroup and an open fd of its cgroup.procs for nsx-exec to join it by. */
  create(session: number): { path: string; procsFd: number } | undefined {
    if (!this.base) return undefined;
    const path = join(this.base, `session-${session}`);
    try {
      mkdirSync(path, { mode: 0o755 });
      return { path, procsFd: openSync(join(path, 'cgroup.procs'), constants.O_WRONLY) };
    } catch {
      return undefined;
    }
  }

  kill(path: string): void {
    killAndRemove(path);
  }

  /**
   * nsxd is stopping: every session's cgroup is killed and, once its processes
   * are reaped (they are killed, so that takes milliseconds), removed with the
   * instance folder, and the shared folder above it if no other nsxd uses it.
   */
  close(): void {
    if (!this.base) return;
    const deadline = Date.now() + 2000;
    for (;;) {
      for (const name of readdirSync(this.base)) if (name.startsWith('session-')) killAndRemove(join(this.base, name), false);
      for (const dir of [this.base, dirname(this.base)]) {
        try {
          rmdirSync(dir);
        } catch {
          // sessions still being reaped, or another nsxd's folder beside ours
        }
      }
      if (!existsSync(this.base) || Date.now() > deadline) return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

function killAndRemove(path: string, retry = true): void {
  try {
    writeFileSync(join(path, 'cgroup.kill'), '1');
  } catch {
    // already gone
  }
  let tries = 0;
  const remove = () => {
    try {
      rmdirSync(path);
    } catch (err) {
      // EBUSY until the killed processes are reaped
      if (retry && (err as NodeJS.ErrnoException).code === 'EBUSY' && ++tries < 50) setTimeout(remove, 20).unref();
    }
  };
  remove();
}

export function closeQuietly(fd: number | undefined): void {
  if (fd === undefined) return;
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
