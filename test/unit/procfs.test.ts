// Parsing what /proc writes: nsfs mounts in mountinfo and their escaped paths.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseNsfsMounts, unescapeMountPath } from '../../helper/daemon/discovery/procfs';

it('finds nsfs bind mounts and the namespace each names', () => {
  const info = [
    '22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw',
    '612 25 0:4 net:[4026532281] /run/netns/blue rw shared:5 - nsfs nsfs rw',
    '613 25 0:4 uts:[4026532290] /run/nsx/pins/uts/my\\040pin rw - nsfs nsfs rw',
    '614 25 0:4 bogus:[1] /x rw - nsfs nsfs rw',
  ].join('\n');
  assert.deepEqual(parseNsfsMounts(info), [
    { type: 'net', inode: 4026532281, path: '/run/netns/blue' },
    { type: 'uts', inode: 4026532290, path: '/run/nsx/pins/uts/my pin' },
  ]);
});

it('unescapes the octal escapes of mountinfo', () => {
  assert.equal(unescapeMountPath('/a\\040b\\011c\\012d\\134e'), '/a b\tc\nd\\e');
});
