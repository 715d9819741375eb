// Each session runs in a cgroup (v2) of its own, so that closing it kills
// every process it started, even one that daemonized or moved to another
// process group: cgroup.kill reaches them all. nsxd makes it; the session's
// supervisor kills and removes it when the session ends. Where no writable cgroup2
// hierarchy exists, sessions fall back to signalling their process group.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { parseMountinfo } from '../discovery/mountinfo';
import { adoptSupervisor, hostCgroup2 } from './hostCgroups';

export class SessionCgroups {
  private constructor(
    private readonly base: string | undefined,
    private readonly hostDir?: string,
  ) {}

  /** Finds cgroup2 and the folder of the sessions of the nsxd on this socket (each socket has its own). */
  static open(socketPath: string, hostDir?: string): SessionCgroups {
    const [mount] = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'), 'cgroup2');
    const host = hostDir !== undefined ? hostCgroup2(hostDir) : undefined;
    if (!mount && !host) return new SessionCgroups(undefined);
    const instance = createHash('sha256').update(socketPath).digest('hex').slice(0, 16);
    // Below nsxd's own cgroup: under systemd that is nsxd.service's (Delegate=yes); in a pod, the host's top.
    const own = host ? '/' : (/^0::(\/.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? '/');
    const base = join(host ?? mount!.mountPoint, own, 'nsx.sessions', instance);
    try {
      mkdirSync(base, { recursive: true, mode: 0o755 });
      if (!existsSync(join(base, 'cgroup.kill'))) return new SessionCgroups(undefined);
      return new SessionCgroups(base, hostDir);
    } catch {
      return new SessionCgroups(undefined);
    }
  }

  /** Kills and removes the cgroups of sessions whose supervisor is gone (killed, so it could not). */
  sweep(live: Set<number>): void {
    if (!this.base) return;
    for (const name of readdirSync(this.base)) {
      const id = /^session-(\d+)$/.exec(name)?.[1];
      if (id && !live.has(Number(id))) killAndRemove(join(this.base, name));
    }
  }

  get available(): boolean {
    return this.base !== undefined;
  }

  /** A new cgroup, which the session's supervisor starts nsx-exec in; its folder. */
  create(session: number): string | undefined {
    if (!this.base) return undefined;
    const path = join(this.base, `session-${session}`);
    try {
      mkdirSync(path, { mode: 0o755 });
      return path;
    } catch {
      return undefined;
    }
  }

  /** With the host's cgroups (nsxd --host-cgroups): the supervisor leaves nsxd's own, so that it outlives the pod. */
  adopt(pid: number | undefined): void {
    if (this.hostDir !== undefined && this.base && pid) adoptSupervisor(this.hostDir, this.base, pid);
  }

  kill(path: string): void {
    killAndRemove(path);
  }

  /**
   * nsxd is stopping: the sessions stay with their supervisors (each removes
   * its cgroup when it ends); the folders go once no session is in them.
   */
  close(): void {
    if (!this.base) return;
    for (const dir of [this.base, dirname(this.base)]) {
      try {
        rmdirSync(dir);
      } catch {
        // sessions still in it, or another nsxd's folder beside ours
      }
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
