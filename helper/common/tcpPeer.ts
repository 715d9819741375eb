// Whose is a connection to a port of ours on 127.0.0.1: every local user can
// reach it, so a forward lets through only its opener's connections. The
// kernel says who made a socket: the uid on its line of /proc/net/tcp (or
// tcp6, for a v6 socket that dialled a v4 address as ::ffff:127.0.0.1).
import { readFileSync } from 'node:fs';

/** An IPv4 endpoint as /proc/net/tcp writes it: the address's four bytes in host (little-endian) order, the port in hex. */
function hex4(address: string, port: number): string {
  const bytes = address.split('.').map(Number);
  const word = bytes
    .reverse()
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('');
  return `${word}:${port.toString(16).padStart(4, '0')}`.toUpperCase();
}

/** The same endpoint as tcp6 writes a v4-mapped address: ::ffff:a.b.c.d, in 32-bit words of host order. */
function hex6(address: string, port: number): string {
  return `0000000000000000FFFF0000${hex4(address, port)}`;
}

/**
 * The uid whose socket at PEER is connected to OURS (both IPv4, as a listener
 * on 127.0.0.1 sees them); undefined when no such socket is listed (it closed
 * already, or the peer is not on this machine).
 */
export function tcpPeerUid(
  peer: { address: string; port: number },
  ours: { address: string; port: number },
): number | undefined {
  const v4 = /^\d{1,3}(\.\d{1,3}){3}$/;
  if (!v4.test(peer.address) || !v4.test(ours.address)) return undefined;
  const tables: [string, string, string][] = [
    ['/proc/self/net/tcp', hex4(peer.address, peer.port), hex4(ours.address, ours.port)],
    ['/proc/self/net/tcp6', hex6(peer.address, peer.port), hex6(ours.address, ours.port)],
  ];
  for (const [file, local, remote] of tables) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid …
      const f = line.trim().split(/\s+/);
      if (f[1] === local && f[2] === remote) {
        const uid = Number(f[7]);
        return Number.isSafeInteger(uid) ? uid : undefined;
      }
    }
  }
  return undefined;
}
