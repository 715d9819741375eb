// What `nsx ports` prints: `ss -ltnup` across every net namespace, each
// socket with the namespace it is in, in people's words, and the processes
// that hold it. Every name is made printable as the rest of nsx's output.
import type { Forward, ListeningSocket, NetPorts, PortsListResult } from './ports';
import { describeForward } from './ports';
import { field } from './format';

/** `127.0.0.1:8080`, `[::1]:8080`, `*:8080` for any address, as ss writes them. */
export function socketAddress(s: Pick<ListeningSocket, 'address' | 'port'>): string {
  if (s.address === '0.0.0.0' || s.address === '::') return `*:${s.port}`;
  return s.address.includes(':') ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`;
}

/** `nc (1234), nc (1240)`: each process once. */
export function holders(s: ListeningSocket): string {
  const seen = new Set<number>();
  return s.processes
    .filter((p) => !seen.has(p.pid) && seen.add(p.pid))
    .map((p) => `${p.comm} (${p.pid})`)
    .join(', ');
}

function padded(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export function portsTable(result: PortsListResult): string {
  const rows = [['NETNS', 'WHERE', 'PROTO', 'LOCAL', 'UID', 'PROCESS']];
  for (const ns of result.namespaces) {
    for (const s of ns.sockets)
      rows.push([String(ns.inode), ns.label, s.protocol, socketAddress(s), String(s.uid), holders(s)].map(field));
  }
  return padded(rows);
}

/** What `nsx ports` says on stderr of namespaces it could not read, and of fds it did not. */
export function portsNotices(result: PortsListResult): string {
  const unread = result.namespaces.filter((ns: NetPorts) => ns.unread);
  const lines = unread
    .slice(0, 3)
    .map((ns) => `nsx: ${field(ns.label)} (net:[${ns.inode}]): not read: ${field(ns.unread!)}\n`);
  if (unread.length > 3) lines.push(`nsx: and ${unread.length - 3} more net namespaces not read (--json says which)\n`);
  if (result.processesCut)
    lines.push(`nsx: ${result.processesCut} processes hold more fds than were read: a socket may lack its process\n`);
  return lines.join('');
}

export function forwardsTable(forwards: Forward[]): string {
  const rows = [['ID', 'USER', 'KEEP', 'CONNECTIONS', 'FORWARD']];
  for (const f of forwards)
    rows.push(
      [String(f.id), f.user, f.keep ? 'yes' : 'no', `${f.connections} (${f.total})`, describeForward(f)].map(field),
    );
  return padded(rows);
}
