// What a full scan read anew against the state before it: the processes to
// patch the model with, or a full build where anything else is new.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { RawMount } from '../../helper/daemon/discovery/mountinfo';
import { ProcState, RawProcess, RawScan, stateOf } from '../../helper/daemon/discovery/processes';
import { rereadSince } from '../../helper/daemon/discovery/stateDiff';

const SELF = 12;
const proc = (pid: number, comm = `p${pid}`): RawProcess => ({
  pid,
  ppid: 1,
  comm,
  cmdline: [comm],
  starttime: '1',
  uid: 0,
  ns: { mnt: SELF, net: 13 },
  nsfds: [],
});
const pin = { type: 'net' as const, inode: 300, path: '/run/nsx/pins/net/lab' };
const scan = (processes: RawProcess[], over: Partial<RawScan> = {}) =>
  stateOf({
    processes,
    mounts: [
      [SELF, 1, [pin]],
      [900, 5, []],
    ],
    addresses: [[13, ['10.0.0.1/24']]],
    hints: [['12//14/13', null]],
    ...over,
  });

it('names the processes new, changed and gone, each with the record it had', () => {
  const [a, b, c] = [proc(1), proc(2), proc(3)];
  const changed = proc(2, 'renamed');
  const reread = rereadSince(scan([a, b, c]), scan([a, changed, proc(4)]), SELF, 10);
  assert.deepEqual(
    [...reread!].sort(([x], [y]) => x - y),
    [
      [2, b],
      [3, c],
      [4, undefined],
    ],
  );
  assert.equal(rereadSince(scan([a, b]), scan([a, b]), SELF, 10)?.size, 0, 'the same records: nothing');
  assert.equal(rereadSince(scan([a]), scan([a, proc(5), proc(6)]), SELF, 1), undefined, 'more than MAX');
});

it("leaves to a full build a scan that read another mount namespace's table, addresses or a cgroup anew", () => {
  const ps = [proc(1)];
  const before = scan(ps);
  const moved = { ...pin, path: '/run/netns/lab' };
  /** The two mount tables: nsxd's own (SELF), read through READER, and namespace 900's, read through process 5. */
  const tables = (own: RawMount[], other: RawMount[] = [], reader = 1) =>
    scan(ps, {
      mounts: [
        [SELF, reader, own],
        [900, 5, other],
      ],
    });
  /** What a scan that read AFTER finds changed since BEFORE. */
  const since = (after: ProcState, from = before) => rereadSince(from, after, SELF, 10);
  assert.equal(since(tables([pin], [moved]), tables([pin])), undefined);
  assert.equal(since(tables([moved]))?.size, 0, "nsxd's own table is applyPatch's to compare, as at every update");
  assert.equal(since(scan(ps, { mounts: [[SELF, 1, [pin]]] }))?.size, 0, 'an empty table gone');
  assert.equal(since(scan(ps, { mounts: [] }), scan(ps, { mounts: [[900, 5, [pin]]] })), undefined);
  assert.equal(since(scan(ps, { mounts: [[900, 6, []]] }), scan(ps, { mounts: [[900, 5, []]] })), undefined);
  assert.equal(since(tables([pin], [], 77))?.size, 0, "nsxd's own table, read through another process");
  assert.equal(since(scan(ps, { addresses: [[13, ['10.0.0.2/24']]] })), undefined);
  const hint = { runtime: 'docker' as const, id: 'ab'.repeat(32) };
  assert.equal(since(scan(ps, { hints: [['12//14/13', hint]] })), undefined);
  const another: RawScan['addresses'] = [
    [13, ['10.0.0.1/24']],
    [400, ['10.1.0.1/16']],
  ];
  assert.equal(since(scan(ps, { addresses: another }))?.size, 0, "a new namespace's addresses are the new process's");
});
