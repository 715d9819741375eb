// Each interface's byte and packet counters, read now: /proc/PID/net/dev is
// the view of PID's network namespace, so no helper and no setns is needed.
// The wiring nsx-net keeps says what changed; counters change all the time
// and are read only when asked (the Network view's rates, every few seconds).
import type { NetCounters } from '../../common/net';
import type { Namespace } from '../../common/protocol';
import { readFileCapped, readNsLink } from './procfs';

/** Past this much of one /proc/PID/net/dev (a line is ~110 bytes: some 9,000 interfaces), the rest is not read. */
const MAX_DEV = 1024 * 1024;

/** The counters of each net namespace asked for that a process is in (one held only by a mount has none to read through). */
export function readCounters(namespaces: Namespace[], inodes?: number[]): NetCounters[] {
  const wanted = inodes && new Set(inodes);
  const out: NetCounters[] = [];
  for (const ns of namespaces) {
    if (ns.type !== 'net' || (wanted && !wanted.has(ns.inode))) continue;
    for (const pid of ns.pids.slice(0, 3)) {
      const links = countersThrough(pid, ns.inode);
      if (links) {
        out.push({ inode: ns.inode, links });
        break;
      }
    }
  }
  return out;
}

/** Through one process, if it is in that namespace before and after the read (pids and inodes are reused). */
function countersThrough(pid: number, inode: number): NetCounters['links'] | undefined {
  const inNs = () => readNsLink(`/proc/${pid}/ns/net`)?.[1] === inode;
  if (!inNs()) return undefined;
  const text = readFileCapped(`/proc/${pid}/net/dev`, 'utf8', MAX_DEV);
  if (text === undefined || !inNs()) return undefined;
  return parseNetDev(text);
}

/** `  eth0: RXBYTES RXPACKETS errs drop fifo frame compressed multicast TXBYTES TXPACKETS ...` after two heading lines. */
export function parseNetDev(text: string): NetCounters['links'] {
  const links: NetCounters['links'] = [];
  for (const line of text.split('\n').slice(2)) {
    const colon = line.lastIndexOf(':');
    if (colon < 0) continue;
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    if (f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    links.push({ name: line.slice(0, colon).trim(), rxBytes: f[0], rxPackets: f[1], txBytes: f[8], txPackets: f[9] });
  }
  return links;
}
