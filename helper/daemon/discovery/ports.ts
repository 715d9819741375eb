// What listens where: for each net namespace of the model (or the one asked
// for), its listening sockets read through one of its processes, and which
// of its processes hold each (their fds), within one budget of fds a request.
import type { ListeningSocket, NetPorts, PortsListResult } from '../../common/ports';
import { Namespace, nsId } from '../../common/protocol';
import { containerName, netnsNames } from '../../common/words';
import type { Model } from './snapshot';
import { FdBudget, listeningSockets, socketHolders } from './sockets';

/** fds one ports/list reads, across every namespace, looking for who holds which socket. */
const FDS_PER_LIST = 65536;
/** Members tried, in turn, to read a namespace's tables through: each may have exited. */
const READERS = 4;

/** A net namespace in the words people use for it: a container, a pin, an ip netns name, the host. */
export function netLabel(ns: Namespace): string {
  if (ns.container) return containerName(ns.container);
  const names = [...ns.pins.map((p) => p.name), ...netnsNames(ns)];
  if (names.length) return names.join(', ');
  return ns.initial ? 'host' : nsId(ns);
}

export async function listPorts(model: Model, only: number | undefined, udp: boolean): Promise<PortsListResult> {
  const budget: FdBudget = { left: FDS_PER_LIST, unread: 0 };
  const comms = new Map(model.snapshot.processes.map((p) => [p.pid, p.comm]));
  const namespaces: NetPorts[] = [];
  const nets = model.snapshot.namespaces.filter((ns) => ns.type === 'net' && (only === undefined || ns.inode === only));
  for (const ns of nets.sort((a, b) => Number(b.initial) - Number(a.initial) || a.inode - b.inode)) {
    const entry: NetPorts = {
      inode: ns.inode,
      label: netLabel(ns),
      initial: ns.initial,
      sockets: [],
      ...(ns.container ? { container: ns.container } : {}),
    };
    namespaces.push(entry);
    let sockets: ListeningSocket[] | undefined;
    for (const pid of ns.pids.slice(0, READERS)) if ((sockets = listeningSockets(pid, ns.inode, udp))) break;
    if (!sockets) {
      entry.unread = ns.pids.length
        ? 'its processes exited while they were read'
        : 'no process is in it to read its sockets through (it is held by a pin, an fd or a mount)';
      continue;
    }
    entry.sockets = sockets;
    const holders = await socketHolders(ns.pids, new Set(sockets.map((s) => s.inode)), budget);
    for (const s of sockets)
      s.processes = (holders.get(s.inode) ?? []).map(({ pid, fd }) => ({ pid, fd, comm: comms.get(pid) ?? '' }));
  }
  return { namespaces, ...(budget.unread ? { processesCut: budget.unread } : {}) };
}
