// nsxd in a container (the Kubernetes DaemonSet, test/integration/daemonset.test.ts):
// its own cgroup is the pod's, and a rollout or a restart of the container
// kills everything in it, sessions included. Given the host's cgroup tree
// (nsxd --host-cgroups DIR, the host's /sys/fs/cgroup mounted there), the
// sessions' cgroups are made in the host's cgroup2 hierarchy instead, and
// each supervisor (with what it started before it was moved) leaves the
// pod's cgroups: into a `supervisors` cgroup beside the sessions' (cgroup2),
// and into the root of each v1 hierarchy on a hybrid host. Moving a process
// across a cgroup namespace boundary is refused where cgroup2 is mounted
// with nsdelegate: the container must share the host's cgroup namespace.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The cgroup2 root within the host's tree at DIR: DIR itself (unified), or DIR/unified (hybrid). */
export function hostCgroup2(dir: string): string | undefined {
  return [dir, join(dir, 'unified')].find((d) => existsSync(join(d, 'cgroup.controllers')));
}

/** Writes PID into a cgroup.procs; false if the kernel refused (gone, or another namespace's). */
function moveInto(procs: string, pid: number): boolean {
  try {
    writeFileSync(procs, String(pid));
    return true;
  } catch {
    return false;
  }
}

function descendants(pid: number): number[] {
  try {
    const kids = readdirSync(`/proc/${pid}/task`).flatMap((t) =>
      readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
    return kids.flatMap((k) => [k, ...descendants(k)]);
  } catch {
    return [];
  }
}

/** Moves a supervisor out of nsxd's (the pod's) cgroups into the host's: see the top of this file. */
export function adoptSupervisor(dir: string, sessionsBase: string, pid: number): void {
  const supervisors = join(sessionsBase, 'supervisors');
  mkdirSync(supervisors, { recursive: true, mode: 0o755 });
  moveInto(join(supervisors, 'cgroup.procs'), pid);
  // v1 hierarchies (a hybrid host): the roots, as the host's init; its children too (the session's shell is in
  // its own cgroup2 cgroup already, which a v1 move does not touch).
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => n !== 'unified' && existsSync(join(dir, n, 'tasks')));
  } catch {
    return;
  }
  for (const name of names) for (const p of [pid, ...descendants(pid)]) moveInto(join(dir, name, 'cgroup.procs'), p);
}
