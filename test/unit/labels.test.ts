// The words on tree rows, without a workbench: what a namespace is, who
// made its names, and where a process is not in the initial namespaces.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Namespace } from '../../helper/common/protocol';
import {
  differingTypes,
  isLauncher,
  namespaceDescription,
  namespaceLabel,
  processDescription,
  processName,
} from '../../extension/tree/labels';

const ns = (over: Partial<Namespace>): Namespace => ({
  type: 'net',
  inode: 100,
  pids: [],
  holders: [],
  initial: false,
  pins: [],
  ...over,
});

it('names a namespace first by what people call it, the id after', () => {
  const sh = { pid: 40, ppid: 1, comm: 'sh', cmdline: [], uid: 0, user: 'root', ns: {} };
  assert.equal(namespaceLabel(ns({ pids: [1], initial: true })), 'host · net');
  assert.equal(
    namespaceLabel(ns({ pids: [5], container: { runtime: 'podman', id: 'fb296f7ac601', name: 'web' } })),
    'web · net',
  );
  assert.equal(namespaceLabel(ns({ pins: [{ name: 'blue', paths: [] }] })), 'pin blue · net');
  assert.equal(
    namespaceLabel(ns({ holders: [{ kind: 'mount', path: '/run/netns/red', mntns: 12, netns: 'red' }] })),
    'ip netns red · net',
  );
  assert.equal(namespaceLabel(ns({ pids: [40] }), sh), 'sh (40) · net');
  assert.equal(
    namespaceLabel(ns({ holders: [{ kind: 'fd', pid: 9, fd: 4, comm: 'x' }] })),
    'net:[100]',
    'nothing but its id',
  );
});

it('describes a namespace by its id, processes, engine and names', () => {
  assert.equal(namespaceDescription(ns({ pids: [1], initial: true })), 'net:[100] · 1 proc · initial');
  assert.equal(
    namespaceDescription(ns({ pids: [5, 6], container: { runtime: 'podman', id: 'fb296f7ac601', name: 'web' } })),
    'net:[100] · 2 procs · podman',
  );
  assert.equal(
    namespaceDescription(
      ns({ type: 'uts', pids: [5], container: { runtime: 'docker', id: 'a', name: 'db' }, hostname: 'db.local' }),
    ),
    'uts:[100] · 1 proc · docker · hostname db.local',
  );
  assert.equal(
    namespaceDescription(ns({ pins: [{ name: 'lab', by: { uid: 1000, user: 'alice' }, paths: [] }] })),
    'net:[100] · 0 procs · pinned as lab by alice',
  );
  assert.equal(
    namespaceDescription(ns({ holders: [{ kind: 'mount', path: '/run/netns/blue', mntns: 12, netns: 'blue' }] })),
    'net:[100] · 0 procs · ip netns blue',
  );
  assert.equal(
    namespaceDescription(ns({ holders: [{ kind: 'fd', pid: 9, fd: 4, comm: 'x' }] })),
    'net:[100] · 0 procs · held by fd 4 of x (9)',
  );
});

it('names a process by its container, and knows the launcher by its root parent, not its name', () => {
  const p = { pid: 7, ppid: 3, comm: 'httpd', cmdline: [], uid: 1000, user: 'alice', ns: {} };
  assert.equal(processName(p, 'web'), 'web: httpd (7)');
  assert.equal(processName(p), 'httpd (7)');
  assert.equal(processDescription(p, [], 'web'), 'in web · alice');
  const launcher = { ...p, comm: 'nsx-exec' };
  assert.ok(isLauncher(launcher, { ...p, pid: 3, comm: 'nsx-session', uid: 0 }));
  assert.ok(
    !isLauncher(launcher, { ...p, pid: 3, comm: 'nsx-session', uid: 1000 }),
    "a user's own nsx-session parent hides nothing",
  );
  assert.ok(!isLauncher(launcher, undefined));
});

it('says where a process is not where PID 1 is', () => {
  const initial = { net: 1, uts: 2, mnt: 3 } as Record<string, number>;
  const p = { pid: 7, ppid: 1, comm: 'sh', cmdline: [], uid: 1000, user: 'alice', ns: { net: 10, uts: 2, mnt: 30 } };
  const differs = differingTypes(p, (t) => initial[t]);
  assert.deepEqual(differs, ['net', 'mnt']);
  assert.equal(processDescription(p, differs), 'alice · ≠ initial: net mnt');
  assert.equal(processDescription(p, []), 'alice');
});
