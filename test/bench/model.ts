// What one update costs the model at a host's size, with no /proc in the way:
// a full build of SIZE made-up processes, then updates of one process each
// (a start in a new namespace, its exit), timed, against a full build each.
//   node dist/test/bench/model.js [SIZE]
import { NsType } from '../../helper/common/protocol';
import { applyPatch, Reread } from '../../helper/daemon/discovery/modelUpdate';
import { RawProcess, setOf, stateOf } from '../../helper/daemon/discovery/processes';
import { ScanCache } from '../../helper/daemon/discovery/scanCache';
import { buildModel, ScanContext } from '../../helper/daemon/discovery/snapshot';

const HOST = { cgroup: 10, ipc: 11, mnt: 12, net: 13, pid: 14, time: 15, user: 16, uts: 17 };
const ctx: ScanContext = {
  selfMntns: HOST.mnt,
  containers: [],
  engines: [],
  userName: (uid) => (uid === 0 ? 'root' : `u${uid}`),
  mountAt: () => undefined,
};
const proc = (pid: number, ns: Partial<Record<NsType, number>>): RawProcess => ({
  pid,
  ppid: 1,
  comm: 'sleep',
  cmdline: ['sleep', '3600'],
  starttime: '1',
  uid: 0,
  ns: { ...HOST, ...ns },
  nsfds: [],
});

const size = Number(process.argv[2] ?? 20000);
// As the bench's load: sets of 13 processes in uts, ipc, net, pid and mnt namespaces of their own.
const processes = [proc(1, {})];
for (let pid = 2; pid <= size; pid++) {
  const set = Math.floor(pid / 13);
  processes.push(
    pid % 2
      ? proc(pid, {})
      : proc(pid, { uts: 1e6 + set, ipc: 2e6 + set, net: 3e6 + set, mnt: 4e6 + set, pid: 5e6 + set }),
  );
}
const state = stateOf({ processes, mounts: [], addresses: [], hints: processes.map((p) => [setOf(p.ns), null]) });
const cache = new ScanCache();
let t = performance.now();
const model = buildModel(state, ctx, Date.now(), cache);
console.log(
  `${size} processes, ${model.snapshot.namespaces.length} namespaces: a full build ${(performance.now() - t).toFixed(1)} ms`,
);
const times: number[] = [];
for (let i = 0; i < 200; i++) {
  const pid = size + 10 + i;
  const started = proc(pid, { uts: 9e6 + i });
  t = performance.now();
  state.processes.set(pid, started);
  if (applyPatch(model, state, new Map([[pid, undefined]]) as Reread, ctx, cache) === false) throw new Error('full');
  state.processes.delete(pid);
  if (applyPatch(model, state, new Map([[pid, started]]) as Reread, ctx, cache) === false) throw new Error('full');
  times.push((performance.now() - t) / 2);
}
times.sort((a, b) => a - b);
console.log(`an update: median ${times[100].toFixed(3)} ms, p90 ${times[180].toFixed(3)} ms`);
t = performance.now();
buildModel(state, ctx, Date.now(), cache, model);
console.log(`a full build again: ${(performance.now() - t).toFixed(1)} ms`);
