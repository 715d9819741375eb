// The words and icons of tree items, as pure functions of protocol values
// (no vscode here, so they are tested without a workbench).
import type { Container, Namespace, NsType, Process } from '../../helper/common/protocol';
import { describeHolder, netnsNames } from '../../helper/common/words';

export const TYPE_ICONS: Record<NsType, string> = {
  cgroup: 'dashboard',
  ipc: 'comment-discussion',
  mnt: 'file-submodule',
  net: 'globe',
  pid: 'list-tree',
  time: 'clock',
  user: 'person',
  uts: 'symbol-string',
};

export const TYPE_TITLES: Record<NsType, string> = {
  cgroup: 'cgroup — cgroup root directory',
  ipc: 'ipc — System V IPC, POSIX message queues',
  mnt: 'mnt — mount points',
  net: 'net — network devices, stacks, ports',
  pid: 'pid — process IDs',
  time: 'time — boot and monotonic clocks',
  user: 'user — user and group IDs, capabilities',
  uts: 'uts — hostname and NIS domain name',
};

export function namespaceDescription(ns: Namespace): string {
  const parts = [`${ns.pids.length} proc${ns.pids.length === 1 ? '' : 's'}`];
  if (ns.initial) parts.push('initial');
  if (ns.container) parts.push(`${ns.container.name ?? ns.container.id} (${ns.container.runtime})`);
  if (ns.hostname) parts.push(`hostname ${ns.hostname}`);
  if (ns.addresses?.length) parts.push(ns.addresses.join(' '));
  // Who made a pin matters: a net pin is what `ip netns exec NAME` enters.
  if (ns.pins.length) parts.push(`pinned as ${ns.pins.map((p) => `${p.name} by ${p.by?.user ?? 'an unrecorded user'}`).join(', ')}`);
  const netns = netnsNames(ns);
  if (netns.length) parts.push(`ip netns ${netns.join(', ')}`);
  if (!ns.pins.length && !netns.length && ns.pids.length === 0 && ns.holders.length) parts.push(`held by ${describeHolder(ns.holders[0])}`);
  return parts.join(' · ');
}

/** The types of namespace in which a process is not where PID 1 is. */
export function differingTypes(p: Process, initialInode: (type: NsType) => number | undefined): NsType[] {
  return (Object.keys(p.ns) as NsType[]).filter((t) => {
    const initial = initialInode(t);
    return initial !== undefined && p.ns[t] !== initial;
  });
}

/** A process row: its user, and where it is not in the initial namespaces. */
export function processDescription(p: Process, differs: NsType[]): string {
  return [p.user, differs.length ? `≠ initial: ${differs.join(' ')}` : ''].filter(Boolean).join(' · ');
}

/** A container row: its image and state, and the pod or compose service it is part of. */
export function containerDescription(c: Container): string {
  return [c.image, c.state, c.service ? `service ${c.service}` : ''].filter(Boolean).join(' · ');
}

/** kthreadd (pid 2) and the threads it starts: no command line, never in a container. */
export function isKernelThread(p: Process): boolean {
  return (p.pid === 2 || p.ppid === 2) && p.cmdline.length === 0;
}
