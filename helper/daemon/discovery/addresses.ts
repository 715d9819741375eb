// What a net namespace's addresses are, as /proc/PID/net shows them: the label
// a net namespace gets in the views.
import { readFileCapped } from './procfs';

/** At most this many addresses a namespace: they are a label, not an inventory. */
const MAX_ADDRESSES = 8;

/**
 * The addresses of a process's net namespace, from /proc/PID/net (which is
 * that namespace's view, no setns needed): IPv4 from fib_trie's local routes,
 * IPv6 from if_inet6; loopback and link-local left out.
 */
export function netAddresses(pid: number): string[] {
  const found = new Set<string>();
  const trie = readFileCapped(`/proc/${pid}/net/fib_trie`, 'utf8', 256 * 1024) ?? '';
  const lines = trie.split('\n');
  for (let i = 1; i < lines.length && found.size < MAX_ADDRESSES; i++) {
    if (!lines[i].includes('/32 host LOCAL')) continue;
    const addr = /([0-9.]+)\s*$/.exec(lines[i - 1])?.[1];
    if (addr && !addr.startsWith('127.')) found.add(addr);
  }
  for (const line of (readFileCapped(`/proc/${pid}/net/if_inet6`, 'utf8', 64 * 1024) ?? '').split('\n')) {
    const [hex, , , scope] = line.trim().split(/\s+/);
    // scope 00 is global; 10 host (::1), 20 link
    if (found.size >= MAX_ADDRESSES || !hex || hex.length !== 32 || scope !== '00') continue;
    found.add(compressIpv6(hex));
  }
  return [...found];
}

/** if_inet6's 32 hex digits as RFC 5952 writes them: no leading zeros, the longest run of zero groups as "::". */
export function compressIpv6(hex: string): string {
  const groups = Array.from({ length: 8 }, (_, i) => parseInt(hex.slice(i * 4, i * 4 + 4), 16));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const text = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  return best < 0 ? text(groups) : `${text(groups.slice(0, best))}::${text(groups.slice(best + bestLen))}`;
}
