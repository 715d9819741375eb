// The words and icons of tree items, as pure functions of protocol values
// (no vscode here, so they are tested without a workbench).
import type { Namespace, NsType, Process } from '../../helper/common/protocol';
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
  if (ns.container) parts.push(`${ns.container.runtime} ${ns.container.name ?? ns.container.id}`);
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
