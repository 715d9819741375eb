// Parsing what /proc writes: stat lines, nsfs mounts in mountinfo and their
// escaped paths; and how many of a process's fds a scan reads (this one's own).
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { it } from 'node:test';
import { compressIpv6 } from '../../helper/daemon/discovery/addresses';
import { parseNsfsMounts, unescapeMountPath } from '../../helper/daemon/discovery/mountinfo';
import { FDS_PER_PROCESS, scanProcesses } from '../../helper/daemon/discovery/processes';
import { parseStat } from '../../helper/daemon/discovery/procfs';
import { ScanCache } from '../../helper/daemon/discovery/scanCache';

it('reads comm, state, ppid, flags, start time and where the arguments start from a stat line, whatever comm holds', () => {
  // kthreadd's line: flags 0x208040 has PF_KTHREAD (0x200000).
  const kthreadd =
    '2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 1 0 0 20 0 1 0 5 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0';
  assert.deepEqual(parseStat(kthreadd), {
    comm: 'kthreadd',
    state: 'S',
    ppid: 0,
    flags: 0x208040,
    starttime: '5',
    argStart: 0,
  });
  const odd = '4242 (a) b (c) S 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 98765 0 0';
  assert.deepEqual(parseStat(odd), {
    comm: 'a) b (c',
    state: 'S',
    ppid: 1,
    flags: 4194560,
    starttime: '98765',
    argStart: undefined,
  });
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

it("reads a process's lowest FDS_PER_PROCESS fds, one entry per namespace, and counts the rest as unread", (t) => {
  const limit = Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 0);
  if (limit < FDS_PER_PROCESS + 1000) return t.skip(`this process may open ${limit} fds`);
  const held: number[] = [];
  try {
    for (let i = 0; i < FDS_PER_PROCESS + 500; i++) held.push(openSync('/proc/self/ns/uts', 'r'));
    const total = statSync('/proc/self/fd').size; // opens no fd, as a listing would
    const [me] = scanProcesses([process.pid], new ScanCache()).processes;
    const uts = me.nsfds.filter(([, type]) => type === 'uts');
    assert.equal(uts.length, 1, 'many fds to one namespace are one entry');
    const read = held.filter((fd) => fd < FDS_PER_PROCESS).length;
    assert.equal(uts[0][3], read, 'its count is of the fds read, the lowest');
    // Since Linux 6.2 the kernel says how many fds a process holds; before, nsxd knows only that there are more.
    // Reading itself, the scan counts its own two fds too (of /proc/PID and of its fd folder), open as it counts.
    if (total > 0) assert.equal(me.fdsUnread, total + 2 - FDS_PER_PROCESS);
    else assert.equal(me.fdsUnread, 1);
  } finally {
    for (const fd of held) closeSync(fd);
  }
  const [again] = scanProcesses([process.pid], new ScanCache()).processes;
  assert.equal(again.fdsUnread, undefined, 'all read: nothing said');
});
