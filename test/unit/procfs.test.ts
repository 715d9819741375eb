// Parsing what /proc writes: nsfs mounts in mountinfo and their escaped paths.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { compressIpv6, parseNsfsMounts, unescapeMountPath } from '../../helper/daemon/discovery/procfs';

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

it('writes IPv6 addresses as RFC 5952 does', () => {
  assert.equal(compressIpv6('20010db8000000000000000000000001'), '2001:db8::1');
  assert.equal(compressIpv6('fd000000000000010000000000000000'), 'fd00:0:0:1::');
  assert.equal(compressIpv6('20010db8000100020003000400050006'), '2001:db8:1:2:3:4:5:6');
  assert.equal(compressIpv6('20010db8000000010000000000000001'), '2001:db8:0:1::1');
});
