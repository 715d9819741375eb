// listmount(2) and statmount(2) (Linux 6.8; of another mount namespace,
// 6.11): the mounts of a mount namespace by their ids, which count up and are
// never reused, and of one mount its filesystem and where it is, without
// reading a whole mountinfo. Neither has a libc wrapper: through syscall(2),
// whose numbers are the same on every architecture (new system calls share
// one table). This module imports nothing of ours but libc.ts's errors.
import koffi from 'koffi';
import { check, ErrnoError } from './libc';

const libc = koffi.load('libc.so.6');
const listmountRaw = libc.func(
  'intptr_t syscall(intptr_t nr, const uint8_t *req, _Out_ uint64_t *ids, size_t count, unsigned int flags)',
);
const statmountRaw = libc.func(
  'intptr_t syscall(intptr_t nr, const uint8_t *req, _Out_ uint8_t *buf, size_t size, unsigned int flags)',
);
const SYS_statmount = 457;
const SYS_listmount = 458;
/** <linux/mount.h>: list from the namespace's root mount. */
const LSMT_ROOT = 0xffffffffffffffffn;
const STATMOUNT_SB_BASIC = 0x1;
const STATMOUNT_MNT_BASIC = 0x2;
const STATMOUNT_MNT_POINT = 0x10;
/** The magic of nsfs, the filesystem of namespace files (<linux/magic.h>). */
export const NSFS_MAGIC = 0x6e736673;

/** struct mnt_id_req, MNT_ID_REQ_SIZE_VER1 (the one that names a namespace). */
function request(id: bigint, param: number, nsId: bigint): Buffer {
  const req = Buffer.alloc(32);
  req.writeUInt32LE(32, 0);
  req.writeBigUInt64LE(id, 8);
  req.writeBigUInt64LE(BigInt(param), 16);
  req.writeBigUInt64LE(nsId, 24);
  return req;
}

/**
 * The ids of the mounts of the mount namespace with id NSID, at most
 * IDS.length of them, into IDS; how many.
 */
export function listmount(nsId: bigint, ids: BigUint64Array): number {
  return check('listmount', Number(listmountRaw(SYS_listmount, request(LSMT_ROOT, 0, nsId), ids, ids.length, 0)));
}

/** A mount as statmount tells it: its id as mountinfo writes it (reused), its filesystem's magic, where it is. */
export interface MountStat {
  oldId: number;
  magic: number;
  point: string;
}

/** struct statmount: 512 bytes of fields, then the strings they point into (a path is at most PATH_MAX). */
const answer = Buffer.alloc(512 + 4096 + 256);
const STRINGS = 512;

/** Mount ID of the mount namespace with id NSID (its mount point as seen from that namespace's root). */
export function statmount(nsId: bigint, id: bigint): MountStat {
  const want = STATMOUNT_SB_BASIC | STATMOUNT_MNT_BASIC | STATMOUNT_MNT_POINT;
  check('statmount', Number(statmountRaw(SYS_statmount, request(id, want, nsId), answer, answer.length, 0)));
  // A kernel that left out a field says so in the mask: what it did not fill is not read.
  if ((Number(answer.readBigUInt64LE(8)) & want) !== want) throw new ErrnoError('statmount', 22, 'EINVAL');
  const point = STRINGS + answer.readUInt32LE(108);
  const end = answer.indexOf(0, point);
  return {
    oldId: answer.readUInt32LE(56),
    magic: Number(answer.readBigUInt64LE(24)),
    point: answer.toString('utf8', point, end < 0 ? answer.length : end),
  };
}
