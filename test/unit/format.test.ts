// What nsx prints, from protocol values: no byte a process chose can act on
// the terminal or forge a row, and every name says who made it.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  containerTable,
  cutNotice,
  field,
  jsonText,
  listJsonParts,
  names,
  pinRows,
  printable,
  table,
  tree,
} from '../../helper/common/format';
import { unpinned } from '../../helper/common/words';
import type { Container, Namespace, Process, Snapshot } from '../../helper/common/protocol';

const ns = (over: Partial<Namespace>): Namespace => ({
  type: 'net',
  inode: 100,
  pids: [],
  holders: [],
  initial: false,
  pins: [],
  ...over,
});
const proc = (over: Partial<Process>): Process => ({
  pid: 7,
  ppid: 1,
  comm: 'sh',
  cmdline: ['sh'],
  uid: 0,
  user: 'root',
  ns: { net: 100 },
  ...over,
});

it('escapes controls and bidi overrides in cells, and keeps layout in blocks', () => {
  assert.equal(field('a\nb\tc\x1b[31m\u202edef'), 'a\\x0ab\\x09c\\x1b[31m\\u202edef');
  assert.equal(printable('line 1\n\tline 2\x07'), 'line 1\n\tline 2\\x07');
});

it('writes --json with no raw control or bidi override, as JSON that reads back the same', () => {
  // JSON.stringify leaves DEL, C1 (U+009B: a CSI to a UTF-8 terminal) and U+202E as they are.
  const value = { comm: 'a\u009b2J\u007f\u202eb\u2066', args: ['\x1b[31m', 'caf\u00e9 \u4e2d'], n: 1 };
  const text = jsonText(value);
  assert.doesNotMatch(text, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e\u2066]/);
  assert.match(text, /a\\u009b2J\\u007f\\u202eb\\u2066/);
  assert.match(text, /café 中/, 'the rest as it is');
  assert.deepEqual(JSON.parse(text), value);
  assert.equal(jsonText({ x: [1, 'y'] }), JSON.stringify({ x: [1, 'y'] }, null, 2), 'plain JSON unchanged');
});

it('lists namespaces like lsns, one row each whatever their processes wrote', () => {
  const forged = proc({ cmdline: ['sleep', '1\n4026531840 net 1 1 root /sbin/init'] });
  const snapshot: Snapshot = { namespaces: [ns({ pids: [7] })], processes: [forged], containers: [], scanMs: 1 };
  const out = table(snapshot.namespaces, snapshot).split('\n').filter(Boolean);
  assert.equal(out.length, 2);
  assert.match(out[0], /^\s*NS TYPE NPROCS PID USER NSFS CONTAINER COMMAND$/);
  assert.match(out[1], /^100 net +1 +7 root +sleep 1\\x0a4026531840 net 1 1 root \/sbin\/init$/);
});

it('names an empty namespace by its pins and ip netns names, with who made them', () => {
  const held = ns({
    pins: [{ name: 'lab', by: { uid: 1000, user: 'alice' }, paths: ['/run/nsx/pins/net/lab', '/run/netns/lab'] }],
    holders: [{ kind: 'mount', path: '/run/netns/netns-1a2b', mntns: 12, netns: 'netns-1a2b' }],
  });
  assert.equal(names(held), 'pin lab (by alice), ip netns netns-1a2b (by another tool)');
  const snapshot: Snapshot = { namespaces: [held], processes: [], containers: [], scanMs: 1 };
  assert.match(
    table([held], snapshot),
    /100 net +0 +\/run\/nsx\/pins\/net\/lab,\/run\/netns\/lab,\/run\/netns\/netns-1a2b +pin lab \(by alice\), ip netns netns-1a2b \(by another tool\)\n$/,
  );
  assert.equal(
    pinRows([{ type: 'net', inode: 100, pins: held.pins }]),
    'net/lab\tnet:[100]\talice\t/run/nsx/pins/net/lab /run/netns/lab\n',
  );
});

it('draws the user-namespace tree with what each owns', () => {
  const snapshot: Snapshot = {
    namespaces: [
      ns({ type: 'user', inode: 1, pids: [7], initial: true }),
      ns({ type: 'user', inode: 2, parent: 1, ownerUid: 1000, pids: [8] }),
      ns({ type: 'net', inode: 3, owner: 2, pids: [8] }),
    ],
    processes: [proc({}), proc({ pid: 8, comm: 'podman' })],
    containers: [],
    scanMs: 1,
  };
  assert.equal(
    tree(snapshot),
    [
      'user:[1]  1 procs  initial, sh (7)',
      '  user:[2] uid 1000  1 procs  podman (8)',
      '    ├ net:[3]  1 procs  podman (8)',
      '',
    ].join('\n'),
  );
});

/** The text of `nsx list --json`, whole. */
const listText = (namespaces: Namespace[], snapshot: Snapshot) =>
  Buffer.concat(listJsonParts(namespaces, snapshot)).toString('utf8');

it('spells out processes in the JSON and says whether an unpinned namespace lives on', () => {
  const snapshot: Snapshot = { namespaces: [ns({ pids: [7] })], processes: [proc({})], containers: [], scanMs: 1 };
  const json = JSON.parse(listText(snapshot.namespaces, snapshot));
  assert.deepEqual(json.namespaces[0].processes, [
    { pid: 7, ppid: 1, comm: 'sh', cmdline: ['sh'], uid: 0, user: 'root' },
  ]);
  assert.equal(json.namespaces[0].nprocs, 1);
  assert.equal(
    unpinned('net/lab', { type: 'net', inode: 100, remaining: { processes: 0, holders: [] } }),
    'unpinned net/lab; nothing else holds net:[100], so it is gone',
  );
  assert.equal(
    unpinned('net/lab', {
      type: 'net',
      inode: 100,
      remaining: { processes: 2, holders: [{ kind: 'fd', pid: 9, fd: 4, comm: 'x' }] },
    }),
    'unpinned net/lab; net:[100] lives on, held by 2 process(es); fd 4 of x (9)',
  );
});

it("writes nsx list --json's text as jsonText of the whole value, each process's text made once", () => {
  // The value as it was made before the text was made in parts: what users' scripts parse.
  const value = (namespaces: Namespace[], snapshot: Snapshot) => {
    const byPid = new Map(snapshot.processes.map((p) => [p.pid, p]));
    return {
      namespaces: namespaces.map(({ pids, ...n }) => ({
        ...n,
        nprocs: pids.length,
        processes: pids.map((pid) => {
          const p = byPid.get(pid)!;
          return { pid: p.pid, ppid: p.ppid, comm: p.comm, cmdline: p.cmdline, uid: p.uid, user: p.user };
        }),
      })),
      containers: snapshot.containers,
      ...(snapshot.engines ? { engines: snapshot.engines } : {}),
      ...(snapshot.cut ? { cut: snapshot.cut } : {}),
    };
  };
  const hostile = proc({ pid: 9, comm: '\u009b31m\u202eevil\n', cmdline: ['a\u2028b', '\x7f"q"\\', ''], user: 'ü' });
  const snapshot: Snapshot = {
    namespaces: [
      ns({ pids: [7, 9], hostname: 'h\u2066x', addresses: ['10.0.0.1/24'] }),
      ns({ type: 'uts', inode: 101, pids: [] }),
      ns({ type: 'pid', inode: 102, pids: [9], holders: [{ kind: 'fd', pid: 9, fd: 3, comm: '\u200f' }] }),
    ],
    processes: [proc({ cmdline: [] }), hostile],
    containers: [],
    engines: [{ engine: 'podman', socket: '/run/podman/podman.sock', uid: 0, answering: false, reason: '\u009b' }],
    scanMs: 1,
    cut: { processes: 1, fds: 9, pids: [7] },
  };
  for (const [namespaces, s] of [
    [snapshot.namespaces, snapshot],
    [[], snapshot],
    [[snapshot.namespaces[1]], { ...snapshot, engines: undefined, cut: undefined }],
  ] as const) {
    const text = listText([...namespaces], s);
    assert.equal(text, `${jsonText(value([...namespaces], s))}\n`);
    assert.doesNotMatch(text, /[\x7f-\x9f\u2028\u202e\u2066\u200f]/, 'no raw control or bidi character');
  }
  // Members named as the two it adds, from an nsxd that is not trusted: each comes once, as the text says.
  const forged = { ...ns({ pids: [7] }), processes: 'x', nprocs: 99 } as Namespace;
  const json = JSON.parse(listText([forged], snapshot));
  assert.equal(json.namespaces[0].nprocs, 1);
  assert.equal(json.namespaces[0].processes[0].pid, 7);
});

it('says which container a namespace belongs to, and lists containers by engine', () => {
  const web = ns({ pids: [7], container: { runtime: 'podman', id: 'fb296f7ac601', name: 'web' } });
  const snapshot: Snapshot = { namespaces: [web], processes: [proc({})], containers: [], scanMs: 1 };
  assert.match(table([web], snapshot).split('\n')[1], /^100 net +1 +7 root +web \(podman\) sh$/);
  const c: Container = {
    engine: 'podman',
    engineUid: 0,
    id: 'fb296f7ac601'.padEnd(64, '0'),
    name: 'web',
    image: 'busybox',
    state: 'running',
    pid: 7,
    hostname: 'web',
    namespaces: [],
    source: 'api',
  };
  assert.equal(
    containerTable([{ ...c, engineUid: 1000, name: 'mine', pid: undefined, state: 'exited' }, c]),
    [
      'ENGINE            NAME ID           IMAGE   STATE   PID POD HOSTNAME',
      'podman (uid 1000) mine fb296f7ac601 busybox exited          web',
      'podman            web  fb296f7ac601 busybox running   7     web',
      '',
    ].join('\n'),
  );
});

it('says under a list how many fds of how many processes the scan left unread, and which', () => {
  assert.equal(
    cutNotice({ processes: 2, fds: 1_234_567, pids: [40, 41] }),
    'nsx: at least 1,234,567 fds of 2 processes (pids 40, 41) were not read, past what a scan reads of each and of all: a namespace that only they hold is not listed\n',
  );
  assert.match(
    cutNotice({ processes: 50, fds: 900_000, pids: [1, 2, 3, 4, 5, 6, 7, 8] }),
    /\(pids 1, 2, 3, 4, 5, 6, 7, 8, …\)/,
  );
  assert.deepEqual(
    JSON.parse(
      listText([], {
        namespaces: [],
        processes: [],
        containers: [],
        scanMs: 1,
        cut: { processes: 1, fds: 9, pids: [7] },
      }),
    ).cut,
    { processes: 1, fds: 9, pids: [7] },
  );
});
