// What namespaces/subscribe pushes: the difference between two scans.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { applyNamespaceChange, Namespace, Process, Snapshot } from '../../helper/common/protocol';
import { diff } from '../../helper/daemon/discovery/diff';

const ns = (inode: number, pids: number[]): Namespace => ({
  type: 'uts',
  inode,
  pids,
  holders: [],
  initial: false,
  pins: [],
});
const proc = (pid: number, comm = 'sh'): Process => ({
  pid,
  ppid: 1,
  comm,
  cmdline: [comm],
  uid: 0,
  user: 'root',
  ns: { uts: 1 },
});
const snap = (namespaces: Namespace[], processes: Process[]): Snapshot => ({
  namespaces,
  processes,
  containers: [],
  scanMs: 1,
});

it('reports added, changed and removed namespaces and processes', () => {
  const before = snap([ns(1, [10]), ns(2, [11])], [proc(10), proc(11)]);
  const after = snap([ns(1, [10, 12]), ns(3, [])], [proc(10, 'bash'), proc(12)]);
  const d = diff(before, after)!;
  assert.deepEqual(
    d.added.map((n) => n.inode),
    [3],
  );
  assert.deepEqual(
    d.changed.map((n) => n.inode),
    [1],
  );
  assert.deepEqual(d.changed[0].pidsAdded, [12]);
  assert.deepEqual(d.changed[0].pidsRemoved, []);
  assert.equal('pids' in d.changed[0], false, 'a changed namespace comes as what joined and left, not all its pids');
  assert.deepEqual(d.removed, [{ type: 'uts', inode: 2 }]);
  assert.deepEqual(
    d.processesAdded.map((p) => p.pid),
    [12],
  );
  assert.deepEqual(
    d.processesChanged.map((p) => p.pid),
    [10],
  );
  assert.deepEqual(d.processesRemoved, [11]);
});

it('reports nothing when nothing changed', () => {
  const s = snap([ns(1, [10])], [proc(10)]);
  assert.equal(diff(s, structuredClone(s)), undefined);
});

it('sends a fork in a big namespace as one pid, and the client adds it up to the same namespace', () => {
  const pids = Array.from({ length: 5000 }, (_, i) => i + 100);
  const before = snap([ns(1, pids)], []);
  const after = snap([ns(1, [...pids.filter((p) => p !== 150), 9999])], []);
  const d = diff(before, after)!;
  assert.deepEqual(
    d.changed.map((c) => [c.pidsAdded, c.pidsRemoved]),
    [[[9999], [150]]],
  );
  assert.ok(JSON.stringify(d).length < 300, `${JSON.stringify(d).length} bytes`);
  const applied = applyNamespaceChange(before.namespaces[0], d.changed[0]);
  assert.deepEqual(
    [...applied.pids].sort((a, b) => a - b),
    [...after.namespaces[0].pids].sort((a, b) => a - b),
  );
  assert.deepEqual({ ...applied, pids: [] }, { ...after.namespaces[0], pids: [] });
});

it('reports a namespace whose pins or holders changed, with no pids moved', () => {
  const before = snap([ns(1, [10])], []);
  const after = snap([{ ...ns(1, [10]), pins: [{ name: 'blue', paths: ['/run/nsx/pins/uts/blue'] }] }], []);
  const d = diff(before, after)!;
  assert.deepEqual(
    d.changed.map((c) => [c.pins.map((p) => p.name), c.pidsAdded, c.pidsRemoved]),
    [[['blue'], [], []]],
  );
});

it('carries what the model left unread with every change, and a change of that alone is a change', () => {
  const cut = { processes: 2, fds: 30_000, pids: [40, 41] };
  const before = snap([ns(1, [10])], [proc(10)]);
  const after = { ...structuredClone(before), cut };
  assert.deepEqual(diff(before, after)?.cut, cut);
  assert.equal(diff(after, structuredClone(before))?.cut, undefined, 'the cut gone: a change without one');
  const more = snap([ns(1, [10, 11])], [proc(10), proc(11)]);
  assert.deepEqual(diff(after, { ...more, cut })?.cut, cut);
  assert.equal(diff(after, structuredClone(after)), undefined);
});

it('takes the processes an update read again from its patch, and says what a whole diff says', () => {
  const [p10, p11, p13] = [proc(10), proc(11), proc(13)];
  const before = snap([ns(1, [10, 11, 13])], [p10, p11, p13]);
  const [p11b, p11c, p12] = [proc(11, 'bash'), proc(11), proc(12)];
  const after = snap([ns(1, [10, 11, 12])], [p10, p11b, p12]);
  const patch = {
    from: before,
    reread: new Map<number, [Process | undefined, Process | undefined]>([
      [10, [p10, p10]],
      [11, [p11, p11b]],
      [12, [undefined, p12]],
      [13, [p13, undefined]],
      [14, [undefined, undefined]],
    ]),
  };
  const byPid = (d: ReturnType<typeof diff>) => ({
    added: d!.processesAdded.map((p) => p.pid).sort(),
    changed: d!.processesChanged.map((p) => p.pid).sort(),
    removed: [...d!.processesRemoved].sort(),
    namespaces: d!.changed,
  });
  const whole = byPid(diff(before, after));
  assert.deepEqual(whole, { added: [12], changed: [11], removed: [13], namespaces: whole.namespaces });
  assert.deepEqual(byPid(diff(before, after, patch)), whole);
  // Read again and the same: no change.
  const same = snap([ns(1, [10, 11, 13])], [p10, p11c, p13]);
  assert.equal(diff(before, same, { from: before, reread: new Map([[11, [p11, p11c]]]) }), undefined);
  // A patch from another snapshot than BEFORE is no guide: the whole diff is made.
  const stale = { from: after, reread: new Map() };
  assert.deepEqual(byPid(diff(before, after, stale)), whole);
});
