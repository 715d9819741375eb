// The words on tree rows, without a workbench: what a namespace is, who
// made its names, and where a process is not in the initial namespaces.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Namespace } from '../../helper/common/protocol';
import { differingTypes, namespaceDescription, processDescription } from '../../extension/tree/labels';

const ns = (over: Partial<Namespace>): Namespace => ({ type: 'net', inode: 100, pids: [], holders: [], initial: false, pins: [], ...over });

it('describes a namespace by its processes, container and names', () => {
  assert.equal(namespaceDescription(ns({ pids: [1], initial: true })), '1 proc · initial');
  assert.equal(namespaceDescription(ns({ pids: [5, 6], container: { runtime: 'podman', id: 'fb296f7ac601', name: 'web' } })), '2 procs · web (podman)');
  assert.equal(namespaceDescription(ns({ type: 'uts', pids: [5], container: { runtime: 'docker', id: 'a', name: 'db' }, hostname: 'db.local' })), '1 proc · db (docker) · hostname db.local');
  assert.equal(namespaceDescription(ns({ pins: [{ name: 'lab', by: { uid: 1000, user: 'alice' }, paths: [] }] })), '0 procs · pinned as lab by alice');
  assert.equal(namespaceDescription(ns({ holders: [{ kind: 'mount', path: '/run/netns/blue', mntns: 12, netns: 'blue' }] })), '0 procs · ip netns blue');
  assert.equal(namespaceDescription(ns({ holders: [{ kind: 'fd', pid: 9, fd: 4, comm: 'x' }] })), '0 procs · held by fd 4 of x (9)');
});

it('says where a process is not where PID 1 is', () => {
  const initial = { net: 1, uts: 2, mnt: 3 } as Record<string, number>;
  const p = { pid: 7, ppid: 1, comm: 'sh', cmdline: [], uid: 1000, user: 'alice', ns: { net: 10, uts: 2, mnt: 30 } };
  const differs = differingTypes(p, (t) => initial[t]);
  assert.deepEqual(differs, ['net', 'mnt']);
  assert.equal(processDescription(p, differs), 'alice · ≠ initial: net mnt');
  assert.equal(processDescription(p, []), 'alice');
});
