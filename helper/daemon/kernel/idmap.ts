// uid and gid maps of user namespaces. A shell that joins a user namespace
// takes ids of that namespace: the caller's host ids must be translated
// through its maps, or the kernel would read them as ids inside (host uid
// 1001 could be uid 1001 there, which may be anyone on the host).
import { readFileSync } from 'node:fs';

interface Extent {
  inside: number;
  outside: number;
  count: number;
}

/** /proc/PID/uid_map or gid_map as nsxd (in the initial user namespace) reads it: outside ids are host ids. */
function readMap(pid: number, which: 'uid_map' | 'gid_map'): Extent[] {
  return readFileSync(`/proc/${pid}/${which}`, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [inside, outside, count] = line.trim().split(/\s+/).map(Number);
      return { inside, outside, count };
    });
}

function translate(map: Extent[], hostId: number): number | undefined {
  const e = map.find((x) => hostId >= x.outside && hostId < x.outside + x.count);
  return e ? e.inside + (hostId - e.outside) : undefined;
}

export interface MappedIds {
  uid: number;
  gid: number;
}

/**
 * The caller's uid and gid as the user namespace of pid sees them, or a
 * sentence saying which is not mapped there. (Supplementary groups are set
 * before joining, as host gids.)
 */
export function mapIntoUserns(pid: number, uid: number, gid: number): MappedIds | string {
  const u = translate(readMap(pid, 'uid_map'), uid);
  const g = translate(readMap(pid, 'gid_map'), gid);
  if (u === undefined) return `your uid ${uid} has no mapping in that user namespace`;
  if (g === undefined) return `your gid ${gid} has no mapping in that user namespace`;
  return { uid: u, gid: g };
}
