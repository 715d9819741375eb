// The model builder on scans made up here: who is a member, what holds a
// namespace, which names it has, and which namespaces are the initial ones.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { NamespacesChanged, NsType, Snapshot } from '../../helper/common/protocol';
import { applyNamespaceChange, MAX_HOLDERS } from '../../helper/common/protocol';
import { containerFromCgroup } from '../../helper/daemon/discovery/hints';
import { applyPatch, Reread } from '../../helper/daemon/discovery/modelUpdate';
import { buildModel, ScanContext } from '../../helper/daemon/discovery/snapshot';
import type { RawMount } from '../../helper/daemon/discovery/mountinfo';
import { RawProcess, RawScan, setOf, stateOf } from '../../helper/daemon/discovery/processes';
import { ScanCache } from '../../helper/daemon/discovery/scanCache';

const HOST = { cgroup: 10, ipc: 11, mnt: 12, net: 13, pid: 14, time: 15, user: 16, uts: 17 };

function proc(pid: number, ns: Partial<Record<NsType, number>>, extra: Partial<RawProcess> = {}): RawProcess {
  return {
    pid,
    ppid: 1,
    comm: `p${pid}`,
    cmdline: [`p${pid}`],
    starttime: '1',
    uid: 0,
    ns: { ...HOST, ...ns },
    nsfds: [],
    ...extra,
  };
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

/** A seeded generator (mulberry32): a failing run fails again with its seed. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A snapshot in one order, whatever order a build or an update left it in. */
const canonical = (s: Snapshot) => ({
  ...s,
  scanMs: 0,
  namespaces: [...s.namespaces].sort((a, b) => a.inode - b.inode),
  processes: [...s.processes].sort((a, b) => a.pid - b.pid),
});

/** What a subscriber makes of BEFORE and CHANGE, as the extension applies it. */
function applied(before: Snapshot, change: NamespacesChanged | undefined): Snapshot {
  if (!change) return before;
  const byInode = new Map(before.namespaces.map((ns) => [ns.inode, ns]));
  for (const k of change.removed) byInode.delete(k.inode);
  for (const ns of change.added) byInode.set(ns.inode, ns);
  for (const c of change.changed) byInode.set(c.inode, applyNamespaceChange(byInode.get(c.inode), c));
  const procs = new Map(before.processes.map((p) => [p.pid, p]));
  for (const pid of change.processesRemoved) procs.delete(pid);
  for (const p of [...change.processesAdded, ...change.processesChanged]) procs.set(p.pid, p);
  const namespaces = [...byInode.values()].map((ns) => ({ ...ns, pids: [...ns.pids].sort((a, b) => a - b) }));
  return { ...before, namespaces, processes: [...procs.values()] };
}

it('keeps, update after update, the model a full build of the same processes makes', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const random = seeded(seed);
    const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)];
    const docker = containerFromCgroup('0::/system.slice/docker-' + 'ab'.repeat(32) + '.scope\n')!;
    // Sets of namespaces the processes move between: the host's, and a few others, some a container's.
    const sets = [
      {},
      { uts: 201 },
      { uts: 202, net: 203 },
      { net: 203, mnt: 204 },
      { ipc: 205, uts: 206 },
      { cgroup: 207 },
    ];
    const hints: RawScan['hints'] = sets.map((ns, i) => [
      setOf({ ...HOST, ...ns }),
      i === 2 || i === 3 ? docker : null,
    ]);
    // Some hold namespaces too: by fds (one only an fd holds, some with members), by pid_for_children.
    const holding = (): Partial<RawProcess> => {
      const roll = random();
      if (roll < 0.1)
        return { nsfds: [[3 + Math.floor(random() * 3), 'net', pick([203, 400, 401]), 1 + Math.floor(random() * 2)]] };
      if (roll < 0.15) return { pidForChildren: pick([410, 411]) };
      if (roll < 0.18) return { timeForChildren: 420, nsfds: [[5, 'uts', pick([201, 402]), 1]] };
      return {};
    };
    const fresh = (pid: number) =>
      proc(pid, random() < 0.5 ? {} : { ...pick(sets), uts: 300 + Math.floor(random() * 40) }, holding());
    const processes = [proc(1, {}), ...Array.from({ length: 60 }, (_, i) => fresh(10 + i))];
    // nsxd's own nsfs mounts come and go (ip netns add, pins); another mount namespace has one too.
    const nsfs: RawMount[] = [
      { type: 'net', inode: 203, path: '/run/netns/blue' },
      { type: 'net', inode: 430, path: '/run/netns/only' },
      { type: 'net', inode: 400, path: '/run/nsx/pins/net/lab' },
      { type: 'uts', inode: 201, path: '/run/uts-bind' },
    ];
    const mounts: RawScan['mounts'] = [
      [HOST.mnt, 1, nsfs.slice(0, 2)],
      [204, 12, [nsfs[1]]],
    ];
    const state = stateOf({ processes, mounts, addresses: [[203, ['10.0.0.3']]], hints });
    const cache = new ScanCache();
    let model = buildModel(state, ctx, Date.now(), cache);
    let nextPid = 100;
    let updates = 0;
    for (let round = 0; round < 200; round++) {
      const reread: Reread = new Map();
      if (random() < 0.15) state.mounts.set(HOST.mnt, { pid: 1, mounts: nsfs.filter(() => random() < 0.5) });
      for (let n = 1 + Math.floor(random() * 3); n > 0; n--) {
        const live = [...state.processes.keys()].filter((pid) => pid > 1);
        const roll = random();
        const pid = roll < 0.4 || live.length === 0 ? nextPid++ : pick(live);
        if (!reread.has(pid)) reread.set(pid, state.processes.get(pid));
        if (roll >= 0.4 && roll < 0.7) state.processes.delete(pid);
        else state.processes.set(pid, roll < 0.9 ? fresh(pid) : { ...state.processes.get(pid)!, comm: `x${round}` });
      }
      const before = model.snapshot;
      const change = applyPatch(model, state, reread, ctx, cache);
      if (change === false) model = buildModel(state, ctx, Date.now(), cache, model);
      else updates++;
      const full = buildModel(state, ctx, Date.now(), new ScanCache()).snapshot;
      assert.deepEqual(canonical(model.snapshot), canonical(full), `seed ${seed}, round ${round}`);
      if (change !== false) {
        assert.deepEqual(
          canonical(applied(before, change)),
          canonical(full),
          `seed ${seed}, round ${round}: the change`,
        );
        for (const ns of model.snapshot.namespaces) assert.equal(model.byInode.get(ns.inode), ns);
      }
    }
    assert.ok(updates > 100, `seed ${seed}: ${updates} of 200 updates applied in place`);
  }
});

it('drops in place a pid or user namespace whose last member exits, unless a namespace it is the parent or owner of keeps it', () => {
  for (const keeper of [undefined, { type: 'pid', parent: 301 }, { type: 'net', owner: 302 }] as const) {
    const state = stateOf({
      processes: [proc(1, {}), proc(40, { pid: 301, user: 302, net: 303 }), proc(41, { net: 304 })],
      mounts: [],
      addresses: [],
      hints: [],
    });
    const cache = new ScanCache();
    const m = buildModel(state, ctx, Date.now(), cache);
    // The kernel's lineage, as resolveHierarchy would have found it: a namespace with members whose parent or owner
    // is the one left empty (made up here; the inodes are no real namespaces').
    if (keeper?.type === 'pid') Object.assign(m.byInode.get(304)!, { type: 'pid', parent: keeper.parent });
    if (keeper?.type === 'net') m.byInode.get(304)!.owner = keeper.owner;
    const was = state.processes.get(40);
    state.processes.delete(40);
    const change = applyPatch(m, state, new Map([[40, was]]), ctx, cache);
    if (!keeper) {
      assert.ok(change, 'applied in place');
      assert.deepEqual(change.removed.map((k) => k.inode).sort(), [301, 302, 303]);
    } else
      assert.equal(change, false, `kept by its ${keeper.type === 'pid' ? 'child' : 'owned'} namespace: a full build's`);
  }
});
