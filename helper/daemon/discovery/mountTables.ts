// A mount namespace's nsfs mounts (pins, ip netns names, other tools' bind
// mounts of a namespace), its mountinfo read again only when its mounts
// changed. On a busy host each container's table is a copy of the host's:
// 25 KB of text for the kernel to write and for nsxd to decode and split,
// for every mount namespace at every full scan (a third of a scan's reads at
// 20,000 processes), where listmount says in a tenth of the time which mounts
// it has. Mount ids count up and are never reused: the same ids are the same
// mounts, and the same mounts have the same filesystems. One thing changes
// and keeps its id: where a mount is (mount --move), so of the nsfs mounts,
// the few whose place nsxd shows, statmount is asked where they are.
import { createHash } from 'node:crypto';
import { closeSync } from 'node:fs';
import * as libc from '../../../native/libc';
import * as mounts from '../../../native/mounts';
import { parseNsfsMounts, RawMount, unescapeMountPath } from './mountinfo';
import { openChecked } from './openNamespace';
import { readFileCapped } from './procfs';

/** A mount namespace's table as last read: the namespace's id, a digest of its mounts' ids, its nsfs mounts. */
export interface MountTable {
  id: bigint;
  ids: string;
  mounts: RawMount[];
  /** The ids of its nsfs mounts, and where statmount said each was when the table was read. */
  nsfs: [id: bigint, point: string][];
}

/** A table with more mounts than this is read whole every time (anyone may make 100,000 in their own namespace). */
const MAX_IDS = 4096;
const ids = new BigUint64Array(MAX_IDS + 1);
/** False once the kernel said it has no listmount of another namespace (before Linux 6.11). */
let supported = true;

/**
 * The nsfs mounts of mount namespace MNTNS, read through PID, its member:
 * from KEPT if its mounts are the ones they were read from, each where it
 * was, else from its mountinfo (and kept). Undefined if PID is gone.
 */
export function nsfsMounts(pid: number, mntns: number, kept: Map<number, MountTable>): RawMount[] | undefined {
  const known = kept.get(mntns);
  // Listed before the mountinfo is read: a mount made in between is seen as a change next time.
  const now = supported ? listed(pid, mntns, known) : undefined;
  if (known && now?.ids === known.ids && known.nsfs.every(([id, point]) => stat(known.id, id)?.point === point))
    return known.mounts;
  const info = readFileCapped(`/proc/${pid}/mountinfo`);
  if (info === undefined) return undefined;
  const found = parseNsfsMounts(info);
  const nsfs = now && (found.length === 0 ? [] : placed(now.id, now.count, info));
  if (now && nsfs) kept.set(mntns, { id: now.id, ids: now.ids, mounts: found, nsfs });
  else kept.delete(mntns);
  return found;
}

/**
 * The ids and places of the nsfs mounts of INFO, the mountinfo of namespace
 * NSID read right after listmount put the ids of its COUNT mounts in ids:
 * both list a namespace's mounts in the order of their ids, so line i is
 * mount ids[i]. Undefined unless statmount says so of each, and puts it where
 * INFO does (a mount moved meanwhile; a root the two see differently).
 */
function placed(nsId: bigint, count: number, info: string): MountTable['nsfs'] | undefined {
  const lines = info.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length !== count) return undefined;
  const out: MountTable['nsfs'] = [];
  for (let i = 0; i < count; i++) {
    if (!lines[i].includes(' - nsfs ')) continue;
    const fields = lines[i].split(' ');
    const st = stat(nsId, ids[i]);
    if (st?.oldId !== Number(fields[0]) || st.magic !== mounts.NSFS_MAGIC) return undefined;
    if (st.point !== unescapeMountPath(fields[4])) return undefined;
    out.push([ids[i], st.point]);
  }
  return out;
}

/** Mount ID of namespace NSID as statmount tells it now; undefined if it is gone. */
function stat(nsId: bigint, id: bigint): mounts.MountStat | undefined {
  try {
    return mounts.statmount(nsId, id);
  } catch {
    return undefined; // gone, or a place longer than a path
  }
}

/** The namespace's id, a digest of its mounts' ids and how many, now; undefined where they cannot be told. */
function listed(
  pid: number,
  mntns: number,
  known: MountTable | undefined,
): { id: bigint; ids: string; count: number } | undefined {
  // The kept id is the namespace's while it lives (and so keeps its inode); where a new namespace has the
  // inode of one gone, listmount says ENOENT of the old id, and the new one's is asked.
  const kept = known && digest(known.id);
  if (kept !== undefined) return { id: known!.id, ...kept };
  const id = idOf(pid, mntns);
  const now = id === undefined ? undefined : digest(id);
  return now === undefined ? undefined : { id: id!, ...now };
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

/** A digest of the ids of the mounts of namespace ID (the same mounts, the same digest), and how many. */
function digest(id: bigint): { ids: string; count: number } | undefined {
  let count: number;
  try {
    count = mounts.listmount(id, ids);
  } catch (err) {
    unsupported(err);
    return undefined; // ENOENT: the namespace is gone
  }
  if (count > MAX_IDS) return undefined;
  const hash = createHash('sha256').update(new Uint8Array(ids.buffer, 0, count * 8));
  return { ids: hash.digest('base64'), count };
}

function unsupported(err: unknown): void {
  const code = err instanceof libc.ErrnoError ? err.code : undefined;
  if (code === 'ENOSYS' || code === 'ENOTTY' || code === 'EINVAL' || code === 'E2BIG') supported = false;
}
