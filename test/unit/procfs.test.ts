// Parsing what /proc writes: stat lines, nsfs mounts in mountinfo and their escaped paths.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { compressIpv6, parseNsfsMounts, parseStat, unescapeMountPath } from '../../helper/daemon/discovery/procfs';

it('reads comm, state, ppid, flags, start time and where the arguments start from a stat line, whatever comm holds', () => {
  // kthreadd's line: flags 0x208040 has PF_KTHREAD (0x200000).
  const kthreadd = '2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 1 0 0 20 0 1 0 5 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0';
  assert.deepEqual(parseStat(kthreadd), { comm: 'kthreadd', state: 'S', ppid: 0, flags: 0x208040, starttime: '5', argStart: '0' });
  const odd = '4242 (a) b (c) S 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 98765 0 0';
  assert.deepEqual(parseStat(odd), { comm: 'a) b (c', state: 'S', ppid: 1, flags: 4194560, starttime: '98765', argStart: undefined });
});

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
