// The model builder on scans made up here: who is a member, what holds a
// namespace, which names it has, and which namespaces are the initial ones.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { NsType } from '../../helper/common/protocol';
import { MAX_HOLDERS } from '../../helper/common/protocol';
import { containerFromCgroup } from '../../helper/daemon/discovery/hints';
import { buildModel, ScanContext } from '../../helper/daemon/discovery/snapshot';
import { RawProcess, RawScan, setOf, stateOf } from '../../helper/daemon/discovery/processes';
import { ScanCache } from '../../helper/daemon/discovery/scanCache';

const HOST = { cgroup: 10, ipc: 11, mnt: 12, net: 13, pid: 14, time: 15, user: 16, uts: 17 };

function proc(pid: number, ns: Partial<Record<NsType, number>>, extra: Partial<RawProcess> = {}): RawProcess {
  return { pid, ppid: 1, comm: `p${pid}`, cmdline: [`p${pid}`], uid: 0, ns: { ...HOST, ...ns }, nsfds: [], ...extra };
}

const ctx: ScanContext = {
  selfMntns: HOST.mnt,
  containers: [],
  engines: [],
  userName: (uid) => (uid === 0 ? 'root' : `u${uid}`),
  mountAt: (path, _type, inode) => {
    if (path === '/run/nsx/pins/net/lab') return { pin: { name: 'lab', by: { uid: 0, user: 'root' }, paths: [path] } };
    if (path === '/run/nsx/pins/net/lab-again' && inode === 500) return { pin: { name: 'lab', paths: [path] } };
    if (path.startsWith('/run/netns/')) return { netns: path.slice('/run/netns/'.length) };
    return undefined;
  },
};

function model(scan: Partial<RawScan>) {
  return buildModel(
    stateOf({ processes: [], mounts: [], addresses: [], hints: [], ...scan }),
    ctx,
    Date.now(),
    new ScanCache(),
  ).snapshot;
}
const find = (s: ReturnType<typeof model>, type: NsType, inode: number) =>
  s.namespaces.find((n) => n.type === type && n.inode === inode);

it('puts each process in each of its namespaces, and the lowest pid marks the initial ones', () => {
  const s = model({ processes: [proc(1, {}), proc(20, { net: 100, uts: 101 }), proc(21, { net: 100 })] });
  assert.deepEqual(find(s, 'net', 100)?.pids, [20, 21]);
  assert.deepEqual(find(s, 'uts', 101)?.pids, [20]);
  assert.deepEqual(find(s, 'net', HOST.net)?.pids, [1]);
  assert.equal(find(s, 'net', HOST.net)?.initial, true);
  assert.equal(find(s, 'net', 100)?.initial, false);
  assert.equal(s.processes.find((p) => p.pid === 20)?.user, 'root');
});

it('counts fds and lists a bounded number of holders, but every name', () => {
  const hogs = Array.from({ length: MAX_HOLDERS + 10 }, (_, i) =>
    proc(100 + i, {}, { nsfds: [[3, 'net', 300, 1000]] }),
  );
  const mounts: RawScan['mounts'] = [
    [
      HOST.mnt,
      1,
      [
        { type: 'net', inode: 300, path: '/run/netns/blue' },
        { type: 'net', inode: 300, path: '/run/nsx/pins/net/lab' },
      ],
    ],
  ];
  const ns = find(model({ processes: [proc(1, {}), ...hogs], mounts }), 'net', 300)!;
  assert.equal(ns.pids.length, 0);
  assert.equal(ns.holders.filter((h) => h.kind === 'fd').length, MAX_HOLDERS);
  assert.equal(ns.holdersOmitted, 10);
  assert.deepEqual(
    ns.holders.find((h) => h.kind === 'fd'),
    { kind: 'fd', pid: 100, fd: 3, comm: 'p100', count: 1000 },
  );
  assert.deepEqual(
    ns.holders.filter((h) => h.kind === 'mount').map((h) => h.kind === 'mount' && (h.pin ?? h.netns)),
    ['blue', 'lab'],
    'names are never cut',
  );
  assert.deepEqual(
    ns.pins.map((p) => p.name),
    ['lab'],
  );
});

it('says how many fds of how many processes the reads left, with a few of their pids', () => {
  assert.equal(
    model({ processes: [proc(1, {}), proc(2, {}, { nsfds: [[3, 'net', 300, 4000]] })] }).cut,
    undefined,
    'nothing cut, nothing said',
  );
  const hogs = Array.from({ length: 10 }, (_, i) =>
    proc(100 + i, {}, { nsfds: [[3, 'net', 300, 60]], fdsUnread: 1000 + i }),
  );
  const s = model({ processes: [proc(1, {}), ...hogs] });
  assert.deepEqual(s.cut, { processes: 10, fds: 10_045, pids: [100, 101, 102, 103, 104, 105, 106, 107] });
});

it("sees a mount namespace once, and pins only in nsxd's own", () => {
  const mounts: RawScan['mounts'] = [
    [HOST.mnt, 1, [{ type: 'net', inode: 500, path: '/run/nsx/pins/net/lab-again' }]],
    [HOST.mnt, 2, [{ type: 'net', inode: 500, path: '/run/nsx/pins/net/lab-again' }]],
    [900, 30, [{ type: 'net', inode: 500, path: '/run/netns/inside' }]],
  ];
  const ns = find(model({ processes: [proc(1, {}), proc(30, { mnt: 900 })], mounts }), 'net', 500)!;
  assert.deepEqual(
    ns.holders.map((h) => h.kind === 'mount' && `${h.path} in ${h.mntns}${h.netns ? ` as ${h.netns}` : ''}`),
    ['/run/nsx/pins/net/lab-again in 12', '/run/netns/inside in 900'],
    "another mount namespace's /run/netns is not ours to name",
  );
  assert.deepEqual(ns.pins, [{ name: 'lab', paths: ['/run/nsx/pins/net/lab-again'] }]);
});

it("calls a namespace a container's only when most of its processes are in that container", () => {
  const docker = '0::/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope\n';
  // One cgroup file is read for each set of namespaces: it speaks for every process of the set.
  const inside = [40, 41, 42].map((pid) => proc(pid, { net: 400, uts: 401 }));
  const joined = proc(43, { mnt: 402, net: 400, pid: 403 });
  const s = model({
    processes: [proc(1, {}), ...inside, joined],
    hints: [[setOf(inside[0].ns), containerFromCgroup(docker)!]],
  });
  assert.deepEqual(
    find(s, 'net', 400)?.container,
    { runtime: 'docker', id: '0123456789ab' },
    "three of its four processes are the container's",
  );
  assert.deepEqual(find(s, 'uts', 401)?.container, { runtime: 'docker', id: '0123456789ab' });
  assert.equal(find(s, 'net', HOST.net)?.container, undefined, "the host is not the container's");
  assert.equal(find(s, 'mnt', 402)?.container, undefined, "a set with no container cgroup is no container's");
});

it('records pid_for_children of a process that unshared a pid namespace as a holder of it', () => {
  const s = model({ processes: [proc(1, {}), proc(50, {}, { pidForChildren: 600 })] });
  const ns = find(s, 'pid', 600)!;
  assert.deepEqual(ns.holders, [{ kind: 'pid_for_children', pid: 50, comm: 'p50' }]);
  assert.equal(s.processes.find((p) => p.pid === 50)?.pidForChildren, 600);
});

it('gives a net namespace the addresses its processes read', () => {
  const s = model({
    processes: [proc(1, {}), proc(60, { net: 700 })],
    mounts: [],
    addresses: [
      [700, ['10.88.0.5', 'fd00::5']],
      [HOST.net, []],
    ],
  });
  assert.deepEqual(find(s, 'net', 700)?.addresses, ['10.88.0.5', 'fd00::5']);
  assert.equal(find(s, 'net', HOST.net)?.addresses, undefined);
});

it('keeps the namespaces that did not change as the model before had them, and builds anew those that did', () => {
  const cache = new ScanCache();
  const p20 = proc(20, { net: 100, uts: 101 });
  const state = stateOf({
    processes: [proc(1, {}), p20, proc(21, { net: 100 })],
    mounts: [],
    addresses: [],
    hints: [],
  });
  const first = buildModel(state, ctx, Date.now(), cache);
  const again = buildModel(state, ctx, Date.now(), cache, first);
  assert.equal(again.snapshot.namespaces.length, first.snapshot.namespaces.length);
  for (const ns of again.snapshot.namespaces) {
    assert.equal(ns, first.byInode.get(ns.inode));
    assert.equal(again.byInode.get(ns.inode), ns);
  }
  // 21 joins uts 101, leaving the host's: those two change, net 100 does not.
  state.processes.set(21, proc(21, { net: 100, uts: 101 }));
  const next = buildModel(state, ctx, Date.now(), cache, again);
  const fresh = buildModel(state, ctx, Date.now(), new ScanCache());
  const uts = next.byInode.get(101)!;
  assert.notEqual(uts, again.byInode.get(101));
  assert.deepEqual(uts.pids, [20, 21]);
  assert.notEqual(next.byInode.get(HOST.uts), again.byInode.get(HOST.uts));
  assert.deepEqual(next.byInode.get(HOST.uts)!.pids, [1]);
  assert.equal(next.byInode.get(100), again.byInode.get(100));
  assert.deepEqual(next.snapshot.namespaces, fresh.snapshot.namespaces);
});
