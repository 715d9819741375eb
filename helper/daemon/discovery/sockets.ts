// Sockets as /proc shows them: a net namespace's listening TCP and bound UDP
// sockets (/proc/PID/net/{tcp,tcp6,udp,udp6} is the view of PID's net
// namespace, no setns needed), the processes that hold them (their fds,
// `socket:[INODE]`), and the uid of the peer of a loopback TCP connection
// to nsxd. Read only when asked, never in the scan: a host with many
// sockets and fds makes this the dearest read nsxd does, so it is bounded.
import { opendirSync, readlinkSync } from 'node:fs';
import type { ListeningSocket } from '../../common/ports';
import { compressIpv6 } from './addresses';
import { readFileCapped, readNsLink } from './procfs';

/** Past this much of one /proc/net file, the rest is not read (a line is 150 bytes: some 100,000 sockets). */
const MAX_TABLE = 16 * 1024 * 1024;
const TCP_LISTEN = '0A';
const UDP_UNCONNECTED = '07';

/** The kernel's hex address: IPv4 as one host-order word, IPv6 as four. */
export function hexAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => [w.slice(6, 8), w.slice(4, 6), w.slice(2, 4), w.slice(0, 2)]);
  if (bytes.length === 4) return bytes.map((b) => parseInt(b, 16)).join('.');
  const net = bytes.join('').toLowerCase();
  // ::ffff:a.b.c.d as people write it
  if (net.startsWith('00000000000000000000ffff'))
    return `::ffff:${[24, 26, 28, 30].map((i) => parseInt(net.slice(i, i + 2), 16)).join('.')}`;
  return compressIpv6(net);
}

interface Entry {
  local: string;
  localPort: number;
  remote: string;
  remotePort: number;
  state: string;
  uid: number;
  inode: number;
}

function* entries(table: string): Generator<Entry> {
  let start = table.indexOf('\n') + 1;
  while (start > 0 && start < table.length) {
    let end = table.indexOf('\n', start);
    if (end < 0) end = table.length;
    const f = table.slice(start, end).trim().split(/\s+/);
    start = end + 1;
    if (f.length < 10) continue;
    const [local, localPort] = f[1].split(':');
    const [remote, remotePort] = f[2].split(':');
    yield {
      local,
      localPort: parseInt(localPort, 16),
      remote,
      remotePort: parseInt(remotePort, 16),
      state: f[3],
      uid: Number(f[7]),
      inode: Number(f[9]),
    };
  }
}

/**
 * The listening sockets of the net namespace `inode`, read through process
 * `pid`; undefined unless pid was in that namespace before and after the
 * read (it may have exited and its pid been reused).
 */
export function listeningSockets(pid: number, inode: number, udp: boolean): ListeningSocket[] | undefined {
  const inNs = () => readNsLink(`/proc/${pid}/ns/net`)?.[1] === inode;
  if (!inNs()) return undefined;
  const found: ListeningSocket[] = [];
  for (const file of udp ? ['tcp', 'tcp6', 'udp', 'udp6'] : ['tcp', 'tcp6']) {
    const table = readFileCapped(`/proc/${pid}/net/${file}`, 'latin1', MAX_TABLE);
    if (table !== undefined) found.push(...parseListening(table, file.startsWith('tcp') ? 'tcp' : 'udp'));
  }
  if (!inNs()) return undefined;
  return sorted(found);
}

export function sorted(sockets: ListeningSocket[]): ListeningSocket[] {
  return sockets.sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
}

/**
 * The listening (TCP) or bound, unconnected (UDP) sockets of /proc/net
 * tables of one protocol, v4 and v6 alike (the width of the address says
 * which); any other line (a header, a second table's) is passed over.
 */
export function parseListening(table: string, protocol: 'tcp' | 'udp'): ListeningSocket[] {
  const found: ListeningSocket[] = [];
  for (const e of entries(table)) {
    if (e.state !== (protocol === 'tcp' ? TCP_LISTEN : UDP_UNCONNECTED) || !(e.localPort > 0)) continue;
    if (!/^([0-9A-F]{8}|[0-9A-F]{32})$/.test(e.local)) continue;
    found.push({
      protocol,
      address: hexAddress(e.local),
      port: e.localPort,
      inode: e.inode,
      uid: e.uid,
      processes: [],
    });
  }
  return found;
}

/** An IPv4 address and port as /proc/net/tcp writes them: `0100007F:1F90`. */
function hexEndpoint(address: string, port: number): string {
  const bytes = address.split('.').map((n) => Number(n).toString(16).padStart(2, '0'));
  return `${bytes.reverse().join('')}:${port.toString(16).padStart(4, '0')}`.toUpperCase();
}

/**
 * The uid that made the other end of a TCP connection nsxd accepted on its
 * IPv4 loopback: the socket in nsxd's own net namespace whose local end is
 * the peer's address and port and whose remote end is ours (in tcp, or in
 * tcp6 as ::ffff:a.b.c.d for a v6 socket that dialled a v4 address). Found
 * by its text, not by parsing every line: a connection is let through only
 * after this. undefined when there is none (it closed already): refused.
 */
export function peerUid(
  peer: { address: string; port: number },
  ours: { address: string; port: number },
): number | undefined {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(peer.address)) return undefined;
  const [p, o] = [hexEndpoint(peer.address, peer.port), hexEndpoint(ours.address, ours.port)];
  const mapped = '0000000000000000FFFF0000';
  for (const [file, needle] of [
    ['tcp', ` ${p} ${o} `],
    ['tcp6', ` ${mapped}${p} ${mapped}${o} `],
  ]) {
    const table = readFileCapped(`/proc/self/net/${file}`, 'latin1', MAX_TABLE);
    const at = table?.indexOf(needle) ?? -1;
    if (at < 0) continue;
    const end = table!.indexOf('\n', at);
    const fields = table!
      .slice(at, end < 0 ? undefined : end)
      .trim()
      .split(/\s+/);
    // local, remote, st, tx:rx, tr:when, retrnsmt, uid
    const uid = Number(fields[6]);
    return Number.isSafeInteger(uid) ? uid : undefined;
  }
  return undefined;
}

export interface FdBudget {
  left: number;
  unread: number;
}

const FDS_PER_PROCESS = 4096;
/** How many fds are read between two turns of the event loop. */
const FDS_PER_SLICE = 2048;

/**
 * Which of `pids` hold which of `wanted` (socket inodes): their lowest
 * FDS_PER_PROCESS fds each, within the budget; a slice at a time, so a
 * namespace of thousands of processes does not hold up nsxd.
 */
export async function socketHolders(
  pids: number[],
  wanted: Set<number>,
  budget: FdBudget,
): Promise<Map<number, { pid: number; fd: number }[]>> {
  const holders = new Map<number, { pid: number; fd: number }[]>();
  let slice = 0;
  for (const pid of pids) {
    const { names, more } = fdNames(pid, Math.min(FDS_PER_PROCESS, Math.max(0, budget.left)));
    const take = names.length;
    budget.unread += more;
    budget.left -= take;
    for (let i = 0; i < take; i++) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${names[i]}`);
      } catch {
        continue;
      }
      if (!link.startsWith('socket:[')) continue;
      const inode = Number(link.slice(8, -1));
      if (!wanted.has(inode)) continue;
      const list = holders.get(inode) ?? [];
      if (list.length < 16) list.push({ pid, fd: Number(names[i]) });
      holders.set(inode, list);
    }
    slice += take;
    if (slice >= FDS_PER_SLICE) {
      slice = 0;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return holders;
}

/** The names of pid's lowest `max` fds, and whether it has more (1) or not (0): never a whole listing of a million. */
function fdNames(pid: number, max: number): { names: string[]; more: number } {
  const names: string[] = [];
  try {
    const d = opendirSync(`/proc/${pid}/fd`, { bufferSize: 256 });
    try {
      for (let entry; names.length < max && (entry = d.readSync()) !== null;) names.push(entry.name);
      return { names, more: names.length === max && d.readSync() !== null ? 1 : 0 };
    } finally {
      d.closeSync();
    }
  } catch {
    return { names, more: 0 }; // gone, or a kernel thread's
  }
}
