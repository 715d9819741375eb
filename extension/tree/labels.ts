// The words and icons of tree items, as pure functions of protocol values
// (no vscode here, so they are tested without a workbench).
import { Container, Namespace, nsId, NsType, Process } from '../../helper/common/protocol';
import { containerName, describeHolder, netnsNames } from '../../helper/common/words';

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

/**
 * What a user calls a namespace: the host's, a container's (or pod's), a
 * pin's, an `ip netns` name, else its first process. Undefined when it has
 * none of these (held only by an fd or a mount): its id is all it has.
 */
export function namespaceName(ns: Namespace, firstProcess?: Process): string | undefined {
  if (ns.initial) return 'host';
  if (ns.container) return containerName(ns.container);
  if (ns.pins.length) return `pin ${ns.pins[0].name}`;
  const netns = netnsNames(ns);
  if (netns.length) return `ip netns ${netns[0]}`;
  if (firstProcess) return `${firstProcess.comm} (${firstProcess.pid})`;
  return undefined;
}

/** A namespace row: its name first (`web · net`, `pin blue · net`, `host · net`), so a narrow side bar still shows it. */
export function namespaceLabel(ns: Namespace, firstProcess?: Process): string {
  const name = namespaceName(ns, firstProcess);
  return name ? `${name} · ${ns.type}` : nsId(ns);
}

/** After the label: the id, then what else there is to say (its engine, hostname, addresses, who made its names). */
export function namespaceDescription(ns: Namespace): string {
  const parts = [nsId(ns), `${ns.pids.length} proc${ns.pids.length === 1 ? '' : 's'}`];
  if (ns.initial) parts.push('initial');
  if (ns.container) parts.push(ns.container.runtime);
  if (ns.hostname) parts.push(`hostname ${ns.hostname}`);
  if (ns.addresses?.length) parts.push(ns.addresses.join(' '));
  // Who made a pin matters: a net pin is what `ip netns exec NAME` enters.
  if (ns.pins.length)
    parts.push(`pinned as ${ns.pins.map((p) => `${p.name} by ${p.by?.user ?? 'an unrecorded user'}`).join(', ')}`);
  const netns = netnsNames(ns);
  if (netns.length) parts.push(`ip netns ${netns.join(', ')}`);
  if (!ns.pins.length && !netns.length && ns.pids.length === 0 && ns.holders.length)
    parts.push(`held by ${describeHolder(ns.holders[0])}`);
  return parts.join(' · ');
}

/** The types of namespace in which a process is not where PID 1 is. */
export function differingTypes(p: Process, initialInode: (type: NsType) => number | undefined): NsType[] {
  return (Object.keys(p.ns) as NsType[]).filter((t) => {
    const initial = initialInode(t);
    return initial !== undefined && p.ns[t] !== initial;
  });
}

/** A process row: its container, its user, and where it is not in the initial namespaces. */
export function processDescription(p: Process, differs: NsType[], container?: string): string {
  return [container ? `in ${container}` : '', p.user, differs.length ? `≠ initial: ${differs.join(' ')}` : '']
    .filter(Boolean)
    .join(' · ');
}

/** A process as people name it: with its container's name when it is in one. */
export function processName(p: Process, container?: string): string {
  return `${container ? `${container}: ` : ''}${p.comm} (${p.pid})`;
}

/** A container row: its image and state, and the pod or compose service it is part of. */
export function containerDescription(c: Container): string {
  return [c.image, c.state, c.service ? `service ${c.service}` : ''].filter(Boolean).join(' · ');
}

/**
 * nsx-exec waiting on a session's shell (it stays as the parent where a pid
 * namespace is joined): plumbing, not one of the container's processes. Known
 * by its parent, a root process called nsx-session, which only root can make:
 * a user who names their process nsx-exec does not hide it.
 */
export function isLauncher(p: Process, parent: Process | undefined): boolean {
  return p.comm === 'nsx-exec' && parent?.comm === 'nsx-session' && parent.uid === 0;
}

/** kthreadd (pid 2) and the threads it starts: no command line, never in a container. */
export function isKernelThread(p: Process): boolean {
  return (p.pid === 2 || p.ppid === 2) && p.cmdline.length === 0;
}
