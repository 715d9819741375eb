// What namespaces/subscribe pushes: the difference between two scans.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Namespace, Process, Snapshot } from '../../helper/common/protocol';
import { diff } from '../../helper/daemon/discovery/watch';

const ns = (inode: number, pids: number[]): Namespace => ({ type: 'uts', inode, pids, holders: [], initial: false, pins: [] });
const proc = (pid: number, comm = 'sh'): Process => ({ pid, ppid: 1, comm, cmdline: [comm], uid: 0, user: 'root', ns: { uts: 1 } });
const snap = (namespaces: Namespace[], processes: Process[]): Snapshot => ({ namespaces, processes, containers: [], scanMs: 1 });

it('reports added, changed and removed namespaces and processes', () => {
  const before = snap([ns(1, [10]), ns(2, [11])], [proc(10), proc(11)]);
  const after = snap([ns(1, [10, 12]), ns(3, [])], [proc(10, 'bash'), proc(12)]);
  const d = diff(before, after)!;
  assert.deepEqual(d.added.map((n) => n.inode), [3]);
  assert.deepEqual(d.changed.map((n) => n.inode), [1]);
  assert.deepEqual(d.removed, [{ type: 'uts', inode: 2 }]);
  assert.deepEqual(d.processesAdded.map((p) => p.pid), [12]);
  assert.deepEqual(d.processesChanged.map((p) => p.pid), [10]);
  assert.deepEqual(d.processesRemoved, [11]);
});

it('reports nothing when nothing changed', () => {
  const s = snap([ns(1, [10])], [proc(10)]);
  assert.equal(diff(s, structuredClone(s)), undefined);
});
