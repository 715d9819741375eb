// Discovery against namespaces the test makes itself: members, holders
// (bind mounts, fds, *_for_children), hierarchy, and agreement with lsns.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import {
  applyNamespaceChange,
  fromWire,
  ListNamespaces,
  Namespace,
  NamespacesChanged,
  NamespacesChangedNotification,
  nsId,
  NSTYPES,
  Process,
  Snapshot,
  Subscribe,
} from '../../helper/common/protocol';
import { Daemon, holdNamespaces, nsInode, nsx, startDaemon, waitFor } from '../support';

interface ListedNs {
  type: string;
  inode: number;
  nprocs: number;
  processes: { pid: number; comm: string; user: string }[];
  holders: { kind: string; pid?: number; fd?: number; path?: string }[];
  owner?: number;
  parent?: number;
  ownerUid?: number;
  initial: boolean;
}

describe('discovery', () => {
  let daemon: Daemon;
  const cleanups: (() => void)[] = [];
  const list = (): ListedNs[] => {
    const r = nsx(daemon, ['list', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).namespaces;
  };
  const find = (type: string, inode: number) => list().find((ns) => ns.type === type && ns.inode === inode);

  before(async () => {
    daemon = await startDaemon();
  });
  after(async () => {
    for (const fn of cleanups.reverse()) fn();
    await daemon.destroy();
  });

  it('finds a process in new uts, net and ipc namespaces, with its details', async () => {
    const held = await holdNamespaces(['--uts', '--net', '--ipc', '--fork']);
    cleanups.push(held.kill);
    for (const type of ['uts', 'net', 'ipc']) {
      const ns = find(type, nsInode(held.pid, type));
      assert.ok(ns, `${type} namespace of ${held.pid} listed`);
      assert.ok(ns.processes.some((p) => p.pid === held.pid && p.comm === 'sleep' && p.user === 'root'));
      assert.equal(ns.initial, false);
      assert.equal(ns.owner, nsInode('self', 'user'));
    }
    assert.equal(find('uts', nsInode('self', 'uts'))?.initial, true);
  });

  it('finds a net namespace held only by a bind mount (ip netns add), and says so', () => {
    const name = `nsxtest${process.pid}`;
    execFileSync('ip', ['netns', 'add', name]);
    cleanups.push(() => spawnSync('ip', ['netns', 'delete', name]));
    const inode = Number(execFileSync('stat', ['-L', '-c', '%i', `/run/netns/${name}`], { encoding: 'utf8' }));
    const ns = find('net', inode);
    assert.ok(ns);
    assert.equal(ns.nprocs, 0);
    assert.ok(ns.holders.some((h) => h.kind === 'mount' && h.path === `/run/netns/${name}`));
  });

  it('finds a namespace bind-mounted in another mount namespace after a rescan read its table without one', async () => {
    // nsxd keeps a mount table that listmount says has not changed: a bind mount made since must be seen all the same.
    const other = await holdNamespaces(['--mount', '--fork']);
    cleanups.push(other.kill);
    const dir = execFileSync('mktemp', ['-d', '/tmp/nsx-mnt-XXXXXX'], { encoding: 'utf8' }).trim();
    cleanups.push(() => spawnSync('rm', ['-rf', dir]));
    const mntns = nsInode(other.pid, 'mnt');
    const rescanned = () => {
      const r = nsx(daemon, ['list', '--json', '--rescan']);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout).namespaces as ListedNs[];
    };
    await waitFor(() => rescanned().some((ns) => ns.type === 'mnt' && ns.inode === mntns), 30_000, 'its table read');
    const inside = (args: string[]) =>
      execFileSync('nsenter', ['-t', String(other.pid), '-m', '--', ...args], { encoding: 'utf8' });
    inside(['touch', `${dir}/uts`]);
    inside(['unshare', `--uts=${dir}/uts`, 'true']);
    const inode = Number(inside(['stat', '-L', '-c', '%i', `${dir}/uts`]));
    assert.notEqual(inode, nsInode('self', 'uts'), 'a namespace of its own, bind-mounted');
    const held = (all: ListedNs[]) =>
      all
        .find((ns) => ns.type === 'uts' && ns.inode === inode)
        ?.holders.some((h) => h.kind === 'mount' && h.path === `${dir}/uts`);
    await waitFor(() => held(rescanned()), 30_000, 'a rescan finds the bind mount in the other mount namespace');
  });

  it('finds where a namespace bind mount went after mount --move in another mount namespace, which keeps its id', async () => {
    // nsxd keeps a table that has nsfs mounts while listmount says its mounts are the same and statmount says
    // each is where it was: a moved mount is the same mount (the same id) somewhere else.
    const other = await holdNamespaces(['--mount', '--fork']);
    cleanups.push(other.kill);
    const dir = execFileSync('mktemp', ['-d', '/tmp/nsx-move-XXXXXX'], { encoding: 'utf8' }).trim();
    cleanups.push(() => spawnSync('rm', ['-rf', dir]));
    const inside = (args: string[]) =>
      execFileSync('nsenter', ['-t', String(other.pid), '-m', '--', ...args], { encoding: 'utf8' });
    inside(['touch', `${dir}/uts`, `${dir}/moved`]);
    inside(['unshare', `--uts=${dir}/uts`, 'true']);
    const inode = Number(inside(['stat', '-L', '-c', '%i', `${dir}/uts`]));
    const at = (path: string) => {
      const r = nsx(daemon, ['list', '--json', '--rescan']);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout).namespaces as ListedNs[])
        .find((ns) => ns.type === 'uts' && ns.inode === inode)
        ?.holders.some((h) => h.kind === 'mount' && h.path === path);
    };
    await waitFor(() => at(`${dir}/uts`), 30_000, 'the bind mount where it was made');
    assert.ok(at(`${dir}/uts`), 'a rescan with the table kept finds it there still');
    inside(['mount', '--move', `${dir}/uts`, `${dir}/moved`]);
    await waitFor(() => at(`${dir}/moved`), 30_000, 'a rescan finds it where it was moved');
  });

  it('finds a namespace held only by an open fd', async () => {
    // A shell in a new uts namespace hands an fd of it to a process outside, then exits.
    const holder = spawn('sh', ['-c', 'exec 7</proc/self/ns/uts; exec sleep 600'], { stdio: 'ignore' });
    cleanups.push(() => holder.kill('SIGKILL'));
    const inside = await holdNamespaces(['--uts']);
    const inode = nsInode(inside.pid, 'uts');
    const keeper = spawn('sh', ['-c', `exec 9</proc/${inside.pid}/ns/uts; exec sleep 600`], { stdio: 'ignore' });
    cleanups.push(() => keeper.kill('SIGKILL'));
    await waitFor(() => spawnSync('readlink', [`/proc/${keeper.pid}/fd/9`]).status === 0);
    inside.kill();
    const ns = await waitFor(() => {
      const n = find('uts', inode);
      return n && n.nprocs === 0 ? n : undefined;
    });
    assert.ok(ns.holders.some((h) => h.kind === 'fd' && h.pid === keeper.pid && h.fd === 9));
  });

  it('lists from what process events kept true since the last full scan, and reads all of /proc again on --rescan', async () => {
    const listed = (args: string[] = []): ListedNs[] => {
      const r = nsx(daemon, ['list', '--json', ...args]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout).namespaces;
    };
    const uts = (all: ListedNs[], inode: number) => all.find((ns) => ns.type === 'uts' && ns.inode === inode);
    listed(['--rescan']); // the full scan the rest is kept from; the next is 30 s away at the least
    // Started and exited: events say so, and the lists after them agree.
    const held = await holdNamespaces(['--uts']);
    cleanups.push(held.kill);
    const inode = nsInode(held.pid, 'uts');
    await waitFor(
      () => uts(listed(), inode)?.processes.some((p) => p.pid === held.pid),
      5000,
      'the new process listed',
    );
    // What no event shows: a running shell opens an fd to that namespace, with no fork and no exec.
    const opener = spawn('bash', ['-c', 'read path; exec 8<"$path"; read'], { stdio: ['pipe', 'ignore', 'ignore'] });
    cleanups.push(() => opener.kill('SIGKILL'));
    await waitFor(
      () => listed().some((ns) => ns.processes.some((p) => p.pid === opener.pid && p.comm === 'bash')),
      5000,
      'the shell listed',
    );
    opener.stdin!.write(`/proc/${held.pid}/ns/uts\n`);
    await waitFor(
      () => spawnSync('readlink', [`/proc/${opener.pid}/fd/8`], { encoding: 'utf8' }).stdout.startsWith('uts:'),
      5000,
      'the fd opened',
    );
    const holds = (ns: ListedNs | undefined) =>
      ns?.holders.some((h) => h.kind === 'fd' && h.pid === opener.pid && h.fd === 8);
    assert.ok(
      !holds(uts(listed(), inode)),
      'a list without --rescan is the kept model: no scan of every process to find the fd',
    );
    // Rescans share nsxd's time (at most 1 in 5 of it): on a busy machine the first ones asked may still be
    // answered from the last scan, and a later one reads /proc.
    await waitFor(() => holds(uts(listed(['--rescan']), inode)), 30_000, 'a rescan finds it');
    assert.ok(holds(uts(listed(), inode)), 'and the kept model has it from then on');
    held.kill();
    await waitFor(() => uts(listed(), inode)?.processes.length === 0, 5000, 'the exit listed');
  });

  it('reports pid_for_children and the pid hierarchy', async () => {
    // unshare --pid without --fork: the shell stays outside and its children (a sleep that
    // becomes pid 1) go in; the shell then becomes a sleep whose pid_for_children differs.
    const proc = spawn('unshare', ['--pid', '--', 'sh', '-c', 'sleep 600 & exec sleep 601'], { stdio: 'ignore' });
    cleanups.push(() => {
      spawnSync('pkill', ['-KILL', '-P', String(proc.pid)]);
      proc.kill('SIGKILL');
    });
    await waitFor(() => spawnSync('cat', [`/proc/${proc.pid}/cmdline`], { encoding: 'utf8' }).stdout.includes('601'));
    const own = nsInode('self', 'pid');
    const forChildren = await waitFor(() => {
      try {
        return nsInode(proc.pid!, 'pid_for_children');
      } catch {
        return undefined;
      }
    });
    assert.equal(nsInode(proc.pid!, 'pid'), own);
    assert.notEqual(forChildren, own);
    const r = JSON.parse(nsx(daemon, ['list', '--json', '-t', 'pid']).stdout).namespaces as ListedNs[];
    const ns = r.find((n) => n.inode === forChildren);
    assert.ok(ns);
    assert.equal(ns.nprocs, 1, 'the first child is in it as its pid 1');
    assert.ok(ns.holders.some((h) => h.kind === 'pid_for_children' && h.pid === proc.pid));
    assert.equal(ns.parent, own);
  });

  it('reports nested user namespaces with their parents and owner uids', async () => {
    const held = await holdNamespaces([
      '--user',
      '--map-root-user',
      '--fork',
      'unshare',
      '--user',
      '--map-root-user',
      '--fork',
    ]);
    cleanups.push(held.kill);
    const inner = find('user', nsInode(held.pid, 'user'));
    assert.ok(inner);
    const outer = find('user', inner.parent!);
    assert.ok(outer, 'the parent user namespace is listed, though no process is in it alone');
    assert.equal(outer.parent, nsInode('self', 'user'));
    assert.equal(inner.ownerUid, 0);
    const tree = nsx(daemon, ['tree']).stdout;
    assert.match(tree, new RegExp(`user:\\[${outer.inode}\\][^\\n]*\\n(.*\\n)*\\s+user:\\[${inner.inode}\\]`));
  });

  it('shows what a namespace holds: hostname, interfaces, maps, pid translations, mounts', async () => {
    const held = await holdNamespaces(
      ['--uts', '--net', '--user', '--map-root-user', '--pid', '--mount', '--fork'],
      'hostname details-host; ip link set lo up; exec sleep 600',
    );
    cleanups.push(held.kill);
    const details = (type: string) => {
      const r = nsx(daemon, ['details', `${type}:${nsInode(held.pid, type)}`]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    assert.match(details('uts'), /# hostname and NIS domain name\ndetails-host\n/);
    assert.match(details('net'), /# interfaces, their addresses and other ends\nIFACE .*\nlo +loopback +up +65536 /);
    assert.match(details('user'), /# uid_map \(of pid \d+\)\n\s+0\s+0\s+1\n/);
    assert.match(details('pid'), new RegExp(`^\\s*${held.pid}: ${held.pid} → 1  sleep$`, 'm'));
    assert.match(details('mnt'), /# mount table/);
    assert.match(
      nsx(daemon, ['details', 'net:1']).stderr,
      /there is no net:\[1\] now: no process, fd or mount holds it/,
    );
  });

  it('shows what processes call themselves without letting escape sequences reach the terminal', async () => {
    // In a namespace of its own, so that it is the process the table shows for it.
    // ESC sequences, then a C1 CSI (U+009B, as UTF-8) and a right-to-left override (U+202E).
    const name = "$'\\e]0;owned\\a\\e[2Jevil\\xc2\\x9b2J\\xe2\\x80\\xaeboo'";
    const evil = spawn('unshare', ['--uts', 'bash', '-c', `exec -a ${name} sleep 600`], { stdio: 'ignore' });
    cleanups.push(() => evil.kill('SIGKILL'));
    await waitFor(() => spawnSync('cat', [`/proc/${evil.pid}/cmdline`], { encoding: 'utf8' }).stdout.includes('evil'));
    const out = nsx(daemon, ['list']).stdout + nsx(daemon, ['tree']).stdout;
    assert.doesNotMatch(out, /[\x1b\x9b\u202e]/);
    assert.match(nsx(daemon, ['list']).stdout, /\\x1b\]0;owned\\x07\\x1b\[2Jevil\\x9b2J\\u202eboo/);
    // --json too: JSON.stringify leaves C1 and bidi controls raw; nsx writes them as \u escapes, which read back the same.
    const json = nsx(daemon, ['list', '--json']).stdout;
    assert.doesNotMatch(json, /[\x1b\x7f-\x9f\u202e]/);
    const listed = (JSON.parse(json).namespaces as { processes: { pid: number; cmdline: string[] }[] }[])
      .flatMap((ns) => ns.processes)
      .find((p) => p.pid === evil.pid);
    assert.equal(listed?.cmdline[0], '\x1b]0;owned\x07\x1b[2Jevil\u009b2J\u202eboo');
  });

  it('lists every namespace lsns lists, with the same number of processes', async () => {
    // Both scans count themselves (lsns, nsx); anything else that comes and goes between them is retried.
    let mismatches: string[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      const lsns = JSON.parse(execFileSync('lsns', ['-J', '-o', 'NS,TYPE,NPROCS'], { encoding: 'utf8' }))
        .namespaces as { ns: number; type: string; nprocs: number }[];
      const ours = new Map(list().map((ns) => [`${ns.type}:${ns.inode}`, ns.nprocs]));
      mismatches = lsns
        .filter((l) => ours.get(`${l.type}:${l.ns}`) !== Number(l.nprocs))
        .map((l) => `${l.type}:${l.ns} lsns ${l.nprocs} nsx ${ours.get(`${l.type}:${l.ns}`)}`);
      if (mismatches.length === 0) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.deepEqual(mismatches, []);
  });

  it("pushes a new namespace at once, told by the kernel's process events, not by the poll", async () => {
    const c = await daemon.client();
    const seen: number[] = [];
    // Added, or changed where the kernel gave it the inode of a namespace that just died.
    c.conn.onNotification(NamespacesChangedNotification, (change) => {
      for (const ns of change.added) if (ns.pids.length) seen.push(ns.inode);
      for (const ns of change.changed) if (ns.pidsAdded.length) seen.push(ns.inode);
    });
    try {
      // An hour between polls: only an event can bring the change within the wait below.
      await c.conn.sendRequest(Subscribe, { intervalMs: 3_600_000 });
      const held = await holdNamespaces(['--uts']);
      try {
        const inode = nsInode(held.pid, 'uts');
        await waitFor(() => seen.includes(inode), 5000, `uts:[${inode}] pushed`);
      } finally {
        held.kill();
      }
    } finally {
      c.close();
    }
  });

  it('pushes changes to subscribers as namespaces come and go', async () => {
    const c = await daemon.client();
    try {
      const changes: { added: string[]; changed: string[]; removed: string[] }[] = [];
      c.conn.onNotification(NamespacesChangedNotification, (ch) =>
        changes.push({
          added: ch.added.map((n) => `${n.type}:${n.inode}`),
          changed: ch.changed.filter((n) => n.pidsAdded.length > 0).map((n) => `${n.type}:${n.inode}`),
          removed: ch.removed.map((n) => `${n.type}:${n.inode}`),
        }),
      );
      const first: Snapshot = fromWire(await c.conn.sendRequest(Subscribe, { intervalMs: 500 }));
      assert.ok(first.namespaces.length > 0);
      const held = await holdNamespaces(['--uts', '--fork']);
      const key = `uts:${nsInode(held.pid, 'uts')}`;
      // The kernel may give a new namespace the inode of one that just died: then it comes as changed, with its new processes.
      await waitFor(
        () => changes.some((ch) => ch.added.includes(key) || ch.changed.includes(key)),
        10_000,
        'an added notification',
      );
      held.kill();
      await waitFor(() => changes.some((ch) => ch.removed.includes(key)), 10_000, 'a removed notification');
    } finally {
      c.close();
    }
  });

  it("a subscriber's copy, the snapshot plus every change, is what nsxd sees; a fork costs its pid, not the host's", async () => {
    const c = await daemon.client();
    try {
      const copy = new Map<string, Namespace>();
      const pids = new Set<number>();
      const moved: { whole: boolean; pids: number; of: number }[] = [];
      const apply = (ch: NamespacesChanged) => {
        for (const ns of ch.changed)
          if (ns.initial)
            moved.push({
              whole: 'pids' in ns,
              pids: ns.pidsAdded.length + ns.pidsRemoved.length,
              of: copy.get(nsId(ns))!.pids.length,
            });
        for (const ns of ch.added) copy.set(nsId(ns), ns);
        for (const ns of ch.changed) copy.set(nsId(ns), applyNamespaceChange(copy.get(nsId(ns)), ns));
        for (const key of ch.removed) copy.delete(nsId(key));
        for (const p of ch.processesAdded) pids.add(p.pid);
        for (const pid of ch.processesRemoved) pids.delete(pid);
      };
      const early: NamespacesChanged[] = [];
      let first: Snapshot | undefined;
      c.conn.onNotification(NamespacesChangedNotification, (ch) => {
        if (first) apply(ch);
        else early.push(ch);
      });
      first = fromWire(await c.conn.sendRequest(Subscribe, { intervalMs: 500 }));
      assert.deepEqual(early, [], 'no change reaches a client before the snapshot it is a change to');
      for (const ns of first.namespaces) copy.set(nsId(ns), ns);
      for (const p of first.processes) pids.add(p.pid);
      // Churn: processes come and go in the host's namespaces and in new ones.
      const held = await holdNamespaces(
        ['--uts', '--fork'],
        'for i in 1 2 3 4 5 6 7 8; do sleep 0.1 & done; wait; exec sleep 600',
      );
      for (let i = 0; i < 10; i++) spawnSync('sh', ['-c', 'sleep 0.05 & sleep 0.05 & wait']);
      await new Promise((r) => setTimeout(r, 1500));
      held.kill();
      await new Promise((r) => setTimeout(r, 800));
      // The scan this asks for is pushed to the subscriber before its answer is sent.
      const now = await c.conn.sendRequest(ListNamespaces, {});
      const sorted = (ns: Namespace) => ({ ...ns, pids: [...ns.pids].sort((a, b) => a - b) });
      assert.deepEqual(
        [...copy.values()].map(sorted).sort((a, b) => nsId(a).localeCompare(nsId(b))),
        now.namespaces.map(sorted).sort((a, b) => nsId(a).localeCompare(nsId(b))),
      );
      assert.deepEqual(
        [...pids].sort((a, b) => a - b),
        now.processes.map((p) => p.pid).sort((a, b) => a - b),
      );
      // A changed namespace comes as the pids that joined and left: the host's, which hold every process, never whole.
      assert.ok(moved.length > 0, 'the host namespaces changed');
      assert.ok(
        moved.every((m) => !m.whole && m.pids < m.of),
        JSON.stringify(moved.slice(0, 3)),
      );
    } finally {
      c.close();
    }
  });

  it("keeps a subscriber's copy true by events alone: exec, a new parent, ip netns, a fork storm", async () => {
    const c = await daemon.client();
    const copy = new Map<string, Namespace>();
    const procs = new Map<number, Process>();
    c.conn.onNotification(NamespacesChangedNotification, (ch) => {
      for (const ns of ch.added) copy.set(nsId(ns), ns);
      for (const ns of ch.changed) copy.set(nsId(ns), applyNamespaceChange(copy.get(nsId(ns)), ns));
      for (const key of ch.removed) copy.delete(nsId(key));
      for (const p of [...ch.processesAdded, ...ch.processesChanged]) procs.set(p.pid, p);
      for (const pid of ch.processesRemoved) procs.delete(pid);
    });
    const started: { kill(): void }[] = [];
    try {
      // An hour between rescans, and no request that scans: only updates move the copy.
      const first: Snapshot = fromWire(await c.conn.sendRequest(Subscribe, { intervalMs: 3_600_000 }));
      for (const ns of first.namespaces) copy.set(nsId(ns), ns);
      for (const p of first.processes) procs.set(p.pid, p);

      // exec that keeps the name: the command line must be read again.
      const execer = spawn('sh', ['-c', 'sleep 0.2; exec sh -c "sleep 602; :" second-life'], { stdio: 'ignore' });
      started.push({
        kill: () => {
          spawnSync('pkill', ['-KILL', '-f', 'second-life|^sleep 602$']);
          execer.kill('SIGKILL');
        },
      });
      // A child whose parent exits: the kernel gives it a new parent, with no event of its own.
      spawnSync('sh', ['-c', 'setsid sh -c "sleep 601 & sleep 0.3" </dev/null >/dev/null 2>&1']);
      started.push({ kill: () => spawnSync('pkill', ['-KILL', '-f', '^sleep 601$']) });
      // A net namespace only a mount holds, made by a process that is gone when nsxd looks.
      execFileSync('ip', ['netns', 'add', 'nsx-by-events']);
      started.push({ kill: () => spawnSync('ip', ['netns', 'delete', 'nsx-by-events']) });

      const truth = () => {
        const members = new Map<string, number[]>();
        const ppids = new Map<number, number>();
        for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
          const pid = Number(name);
          try {
            const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
            const ids = NSTYPES.map((type) =>
              nsId({ type, inode: Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/${type}`))![1]) }),
            );
            ppids.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
            for (const id of ids) members.set(id, [...(members.get(id) ?? []), pid]);
          } catch {
            // exited, or a zombie (no namespace links): not a member of anything
          }
        }
        return { members, ppids };
      };
      const mismatch = (): string | undefined => {
        const { members, ppids } = truth();
        const sorted = (pids: number[]) => [...pids].sort((a, b) => a - b).join(',');
        for (const [id, pids] of members) {
          const had = copy.get(id)?.pids ?? [];
          const extra = had
            .filter((pid) => !pids.includes(pid))
            .map((pid) => `${pid} (${procs.get(pid)?.cmdline.join(' ')})`);
          const missing = pids.filter((pid) => !had.includes(pid));
          if (extra.length || missing.length)
            return `${id}: the copy has ${extra.join(', ') || 'none'} more, and lacks ${missing.join(', ') || 'none'}`;
        }
        for (const [id, ns] of copy)
          if (ns.pids.length > 0 && !members.has(id))
            return `${id} is in the copy with ${ns.pids.join(',')}, not in /proc`;
        if (sorted([...procs.keys()]) !== sorted([...ppids.keys()])) return 'processes differ';
        for (const [pid, ppid] of ppids)
          if (procs.get(pid)!.ppid !== ppid)
            return `process ${pid}: parent ${procs.get(pid)!.ppid} in the copy, ${ppid} in /proc`;
        const second = procs.get(execer.pid!);
        if (second?.cmdline.at(-1) !== 'second-life')
          return `the exec'd shell's command line is ${JSON.stringify(second?.cmdline)}`;
        const named = [...copy.values()].some((ns) =>
          ns.holders.some((h) => h.kind === 'mount' && h.netns === 'nsx-by-events'),
        );
        if (!named) return 'no namespace named nsx-by-events';
        return undefined;
      };
      const agrees = async (when: string) => {
        let last: string | undefined;
        await waitFor(() => (last = mismatch()) === undefined, 10_000, `the copy to agree with /proc ${when}`).catch(
          (err: Error) => {
            throw new Error(`${err.message}: ${last}`);
          },
        );
      };
      await agrees('after an exec, an orphan and ip netns add');
      // More events than the socket's buffer may hold: lost ones must not leave the copy wrong.
      spawnSync('sh', [
        '-c',
        'for i in $(seq 1500); do true & done; for i in $(seq 100); do unshare --uts true & done; wait',
      ]);
      await agrees('after a fork storm');
    } finally {
      for (const s of started.reverse()) s.kill();
      c.close();
    }
  });
});
