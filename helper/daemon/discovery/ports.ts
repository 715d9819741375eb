// What listens where: for each net namespace of the model (or the one asked
// for), its listening sockets read through one of its processes, and which
// of its processes hold each (their fds), within one budget of fds a request.
import type { ListeningSocket, NetPorts, PortsListResult } from '../../common/ports';
import { Namespace, nsId } from '../../common/protocol';
import { containerName, netnsNames } from '../../common/words';
import type { Model } from './snapshot';
import { FdBudget, listeningSockets, parseListening, socketHolders, sorted } from './sockets';
import { holders as heldBy, socketAddress } from '../../common/portsFormat';

/** fds one ports/list reads, across every namespace, looking for who holds which socket. */
const FDS_PER_LIST = 65536;
/** Members tried, in turn, to read a namespace's tables through: each may have exited. */
const READERS = 4;
/** Namespaces no process is in whose tables one list reads from inside (a helper each). */
const HELD_ONLY_PER_LIST = 16;

/** Files of /proc/self read from inside a namespace, joined (nsx-exec --cat, for Details too). */
export type CatInside = (ns: Namespace, files: string[]) => Promise<string>;

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

/** A namespace's tables from inside, for one no process is in; undefined, with why, when they could not be read. */
async function readInside(ns: Namespace, udp: boolean, cat: CatInside): Promise<ListeningSocket[] | string> {
  const found: ListeningSocket[] = [];
  for (const protocol of udp ? (['tcp', 'udp'] as const) : (['tcp'] as const)) {
    const text = await cat(ns, [`/proc/self/net/${protocol}`, `/proc/self/net/${protocol}6`]);
    if (!text.includes('local_address')) return text;
    found.push(...parseListening(text, protocol));
  }
  return sorted(found);
}

/**
 * Fills in the namespaces of a listing that no process is in (held by a
 * pin, an ip netns name, an fd), reading their tables from inside: the
 * first HELD_ONLY_PER_LIST of them, or the one asked for.
 */
export async function readHeldOnly(model: Model, result: PortsListResult, udp: boolean, cat: CatInside): Promise<void> {
  const todo: [NetPorts, Namespace][] = [];
  for (const entry of result.namespaces) {
    const ns = model.byInode.get(entry.inode);
    if (!entry.unread || !ns || ns.pids.length > 0) continue;
    if (todo.length < HELD_ONLY_PER_LIST) todo.push([entry, ns]);
    else
      entry.unread = `no process is in it, and one list reads only ${HELD_ONLY_PER_LIST} such namespaces: name it (nsx ports ${entry.label})`;
  }
  // A few helpers at a time: each is a process start, most of it waiting.
  const next = async (): Promise<void> => {
    for (let job; (job = todo.shift());) {
      const [entry, ns] = job;
      const sockets = await readInside(ns, udp, cat);
      if (typeof sockets === 'string') entry.unread = sockets.slice(0, 200);
      else {
        entry.sockets = sockets;
        delete entry.unread;
      }
    }
  };
  await Promise.all([next(), next(), next(), next()]);
}

/** Details' section of a net namespace: what listens in it, as nsx ports shows it. */
export async function portsSection(
  ns: Namespace,
  model: Model,
  cat: CatInside,
): Promise<{ title: string; text: string }> {
  const result = await listPorts(model, ns.inode, true);
  await readHeldOnly(model, result, true, cat);
  const entry = result.namespaces[0];
  const rows = (entry?.sockets ?? []).map((s) => `${s.protocol.padEnd(4)} ${socketAddress(s).padEnd(24)} ${heldBy(s)}`);
  const text = entry?.unread ? `not read: ${entry.unread}` : rows.length ? rows.join('\n') : 'nothing listens here';
  return { title: 'listening sockets (nsx ports)', text };
}
