// A mount namespace's nsfs mounts (pins, ip netns names, other tools' bind
// mounts of a namespace), its mountinfo read again only when its mounts
// changed. On a busy host each container's table is a copy of the host's:
// 25 KB of text for the kernel to write and for nsxd to decode and split,
// for every mount namespace at every full scan (a third of a scan's reads at
// 20,000 processes), where listmount says in a tenth of the time which mounts
// it has. Mount ids count up and are never reused: the same ids are the same
// mounts, and the same mounts have the same filesystems.
import { createHash } from 'node:crypto';
import { closeSync } from 'node:fs';
import * as libc from '../../../native/libc';
import { parseNsfsMounts, RawMount } from './mountinfo';
import { openChecked } from './openNamespace';
import { readFileCapped } from './procfs';

/** A mount namespace's table as last read: the namespace's id, a digest of its mounts' ids, its nsfs mounts. */
export interface MountTable {
  id: bigint;
  ids: string;
  mounts: RawMount[];
}

/** A table with more mounts than this is read whole every time (anyone may make 100,000 in their own namespace). */
const MAX_IDS = 4096;
const ids = new BigUint64Array(MAX_IDS + 1);
/** False once the kernel said it has no listmount of another namespace (before Linux 6.11). */
let supported = true;

/**
 * The nsfs mounts of mount namespace MNTNS, read through PID, its member:
 * from KEPT if its mounts are the ones they were read from, else from its
 * mountinfo (and kept). Undefined if PID is gone.
 */
export function nsfsMounts(pid: number, mntns: number, kept: Map<number, MountTable>): RawMount[] | undefined {
  const known = kept.get(mntns);
  // Listed before the mountinfo is read: a mount made in between is seen as a change next time.
  const now = supported ? listed(pid, mntns, known) : undefined;
  // One with nsfs mounts is read every time: mount --move keeps a mount's id and changes its path.
  if (known && now?.ids === known.ids && known.mounts.length === 0) return known.mounts;
  const info = readFileCapped(`/proc/${pid}/mountinfo`);
  if (info === undefined) return undefined;
  const mounts = parseNsfsMounts(info);
  if (now) kept.set(mntns, { ...now, mounts });
  else kept.delete(mntns);
  return mounts;
}

/** The namespace's id and a digest of its mounts' ids, now; undefined where they cannot be told. */
function listed(pid: number, mntns: number, known: MountTable | undefined): Omit<MountTable, 'mounts'> | undefined {
  // The kept id is the namespace's while it lives (and so keeps its inode); where a new namespace has the
  // inode of one gone, listmount says ENOENT of the old id, and the new one's is asked.
  const kept = known && digest(known.id);
  if (kept !== undefined) return { id: known!.id, ids: kept };
  const id = idOf(pid, mntns);
  const now = id === undefined ? undefined : digest(id);
  return now === undefined ? undefined : { id: id!, ids: now };
}

/** The id of PID's mount namespace if it is MNTNS still (openChecked checks the opened file, not the path). */
function idOf(pid: number, mntns: number): bigint | undefined {
  const fd = openChecked([`/proc/${pid}/ns/mnt`], { type: 'mnt', inode: mntns });
  if (fd === undefined) return undefined; // gone, or in another mount namespace now
  try {
    return libc.nsGetMntnsId(fd);
  } catch (err) {
    unsupported(err);
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** A digest of the ids of the mounts of namespace ID: the same mounts, the same digest. */
function digest(id: bigint): string | undefined {
  let n: number;
  try {
    n = libc.listmount(id, ids);
  } catch (err) {
    unsupported(err);
    return undefined; // ENOENT: the namespace is gone
  }
  if (n > MAX_IDS) return undefined;
  return createHash('sha256')
    .update(new Uint8Array(ids.buffer, 0, n * 8))
    .digest('base64');
}

function unsupported(err: unknown): void {
  const code = err instanceof libc.ErrnoError ? err.code : undefined;
  if (code === 'ENOSYS' || code === 'ENOTTY' || code === 'EINVAL' || code === 'E2BIG') supported = false;
}
