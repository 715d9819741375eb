// What nsxd refuses to hand a member, tried as an attacker would: fds that
// leak into processes the member controls (taken with pidfd_getfd), sessions
// that outlive their supervisor, root shells among a member's files, host
// group 0, rows forged in root's `nsx list`, pin names that stay taken.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync, readdirSync, readFileSync, readlinkSync, closeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createServer } from 'node:net';
import { createMessageConnection, ResponseError, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import type { Client } from '../../helper/common/client';
import {
  ErrorCodes as NsxErrors,
  Initialize,
  PrintNamespaces,
  PROTOCOL_VERSION,
  ScanCut,
  TerminalClose,
  TerminalExit,
  TerminalOpen,
} from '../../helper/common/protocol';
import {
  comm,
  cpuTime,
  createUser,
  Daemon,
  descendants,
  DIST,
  sessionCgroupDir,
  holdNamespaces,
  NSX,
  nsInode,
  nsx,
  removeDir,
  ROOT,
  rootDir,
  startDaemon,
  waitFor,
} from '../support';

const O_CLOEXEC = 0o2000000;

/** Whether the kernel says how many fds a process holds (Linux 6.2 and later): else a scan knows only that it left some. */
function kernelCountsFds(): boolean {
  return statSync('/proc/self/fd').size > 0;
}

/** As many fds as this machine lets a process hold: raising the hard limit takes CAP_SYS_RESOURCE, which the test may lack. */
function fdsAProcessMayHold(): number {
  const limit = Number(/^Max open files\s+\d+\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 4096);
  return Math.min(1_000_000, limit);
}

function uidOf(pid: number): number | undefined {
  try {
    return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  } catch {
    return undefined;
  }
}

function fdsOf(pid: number): Map<number, string> {
  const fds = new Map<number, string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      fds.set(Number(fd), readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // closed meanwhile
    }
  }
  return fds;
}

/** Every fd of a process from 3 up that lacks O_CLOEXEC, with what it is. */
function inheritable(pid: number): string[] {
  const open: string[] = [];
  for (const [fd, target] of fdsOf(pid)) {
    if (fd < 3) continue;
    const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    const flags = parseInt(/^flags:\s+([0-7]+)/m.exec(info)![1], 8);
    if ((flags & O_CLOEXEC) === 0) open.push(`${fd} -> ${target}`);
  }
  return open;
}

/** A member's command started through nsx, kept running; its session's processes are nsxd's descendants with its uid. */
function memberSession(
  daemon: Daemon,
  user: { name: string; uid: number },
  args: string[],
): { kill(): void; processes(): number[] } {
  const proc = spawn('runuser', ['-u', user.name, '--', NSX, '--socket', daemon.socket, ...args], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  return {
    kill: () => {
      try {
        process.kill(-proc.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    },
    processes: () => descendants(daemon.proc.pid!).filter((p) => uidOf(p) === user.uid),
  };
}

async function rootPty(c: Client) {
  return c.conn.sendRequest(TerminalOpen, { pty: { cols: 80, rows: 24 }, command: ['sleep', '3001'] });
}

describe('security: what a member can never get', () => {
  let daemon: Daemon;
  let user: ReturnType<typeof createUser>;
  let dir: string;
  let fdgrab: string;
  let fdhog: string;
  before(async () => {
    daemon = await startDaemon();
    user = createUser({ inGroup: true });
    dir = rootDir('nsx-sec-');
    fdgrab = join(dir, 'fdgrab');
    execFileSync('cc', ['-O2', '-o', fdgrab, join(ROOT, 'test/fixtures/fdgrab.c')]);
    fdhog = join(dir, 'fdhog');
    execFileSync('cc', ['-O2', '-o', fdhog, join(ROOT, 'test/fixtures/fdhog.c')]);
  });
  after(async () => {
    await daemon.destroy();
    user.remove();
    removeDir(dir);
  });

  it("a member's isolated session holds no fd but its own 0-2, and pidfd_getfd takes nothing else from it", async () => {
    const c = await daemon.client();
    const member = memberSession(daemon, user, ['isolate', '--', 'sleep', '3002']);
    try {
      const root = await rootPty(c);
      assert.equal(root.user, 'root');
      // A second member session, opened while the root one is open: the leak was of every open session's pty into later ones.
      const procs = await waitFor(
        () => {
          const ps = member
            .processes()
            .filter(
              (p) => readFileSync(`/proc/${p}/cmdline`, 'utf8') === 'sleep\x003002\x00' || comm(p) === 'nsx-exec',
            );
          return ps.length >= 3 && ps.some((p) => comm(p) === 'sleep') && ps;
        },
        10_000,
        'the supervisor, the init and the shell of the member session',
      );
      // Each step holds its status fd and its parent's pidfd (close-on-exec) until its exec: what counts is the tree once set up.
      const settled = () => procs.every((p) => [...fdsOf(p).keys()].sort().join() === '0,1,2');
      await waitFor(settled, 2000).catch(() => undefined);
      for (const p of procs) {
        const fds = fdsOf(p);
        assert.deepEqual(
          [...fds.keys()].sort(),
          [0, 1, 2],
          `process ${p} (${comm(p)}) holds ${[...fds].map(([fd, t]) => `${fd} -> ${t}`).join(', ')}`,
        );
        for (const target of fds.values())
          assert.doesNotMatch(target, /ptmx|\/dev\/pts\//, `process ${p} holds a pty: ${target}`);
      }
      const grabbed = spawnSync('runuser', ['-u', user.name, '--', fdgrab, ...procs.map(String)], { encoding: 'utf8' });
      assert.equal(grabbed.status, 0, grabbed.stderr);
      for (const p of procs) {
        const taken = grabbed.stdout.split('\n').filter((l) => l.startsWith(`${p} `));
        // It works (the member gets each process's stdio), and gets nothing more.
        assert.deepEqual(
          taken.map((l) => Number(l.split(' ')[1])),
          [0, 1, 2],
          `pidfd_getfd on ${p} took:\n${taken.join('\n')}`,
        );
        for (const l of taken) assert.doesNotMatch(l, /ptmx|\/dev\/pts\//);
      }
    } finally {
      member.kill();
      c.close();
    }
  });

  it('every fd nsxd holds is close-on-exec, with sessions open on ptys and pipes, and those it inherited too', async () => {
    const inherited = openSync('/dev/null', 'r');
    // An fd left open by whoever starts nsxd (here: this test, as fd 3 of nsxd, not close-on-exec).
    const other = await startDaemon({ stdio: [inherited] });
    closeSync(inherited);
    const c = await other.client();
    try {
      await rootPty(c);
      await c.conn.sendRequest(TerminalOpen, { command: ['sleep', '3003'] });
      assert.deepEqual(inheritable(other.proc.pid!), [], 'fds a program nsxd starts would inherit');
      const sessions = descendants(other.proc.pid!);
      assert.ok(sessions.length >= 2, 'two sessions are running');
      for (const p of sessions) {
        for (const [fd, target] of fdsOf(p))
          assert.ok(fd < 3 || target !== '/dev/null', `session process ${p} inherited nsxd's fd ${fd} (${target})`);
      }
      // The supervisors hold each session's pty master: not one of their fds reaches what they start.
      const supervisors = sessions.filter((p) => comm(p) === 'nsx-session');
      assert.equal(supervisors.length, 2);
      for (const p of supervisors) assert.deepEqual(inheritable(p), [], `fds supervisor ${p} would hand on`);
      assert.ok(
        supervisors.some((p) => [...fdsOf(p).values()].includes('/dev/ptmx')),
        'a supervisor holds the pty master',
      );
    } finally {
      c.close();
      await other.destroy();
    }
  });

  it("kill -9 of the sessions' supervisors takes every process of theirs with them: joined user namespaces, isolated, root and member; the next nsxd sweeps what is left", async () => {
    const other = await startDaemon();
    // Joining a user namespace that another uid owns clears the parent-death signal.
    const made = spawn(
      'runuser',
      ['-u', user.name, '--', 'unshare', '--user', '--map-root-user', '--uts', '--pid', '--fork', 'sleep', '600'],
      { stdio: 'ignore', detached: true },
    );
    const held = {
      pid: await waitFor(
        () => descendants(made.pid!).find((p) => comm(p) === 'sleep'),
        10_000,
        "the member's namespaces",
      ),
      kill: () => process.kill(-made.pid!, 'SIGKILL'),
    };
    const c = await other.client();
    const member = memberSession(other, user, ['isolate', '--', 'sleep', '3004']);
    try {
      await c.conn.sendRequest(TerminalOpen, { target: { pid: held.pid }, command: ['sleep', '3005'] });
      await rootPty(c);
      const cmdline = (p: number) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').trim();
        } catch {
          return '';
        }
      };
      const sessions = await waitFor(
        () => {
          // nsxd's spawner is nsxd's, not a session's: it starts supervisors and ends with nsxd.
          const ps = descendants(other.proc.pid!).filter((p) => comm(p) !== 'nsx-spawner');
          return ['sleep 3001', 'sleep 3004', 'sleep 3005'].every((cmd) => ps.some((p) => cmdline(p) === cmd)) && ps;
        },
        10_000,
        'three sessions running',
      );
      const supervisors = spawnSync('pgrep', ['-f', `^${DIST}/nsx-session --socket ${other.dir}/sessions/`], {
        encoding: 'utf8',
      })
        .stdout.split('\n')
        .filter(Boolean)
        .map(Number);
      assert.equal(supervisors.length, 3, 'one supervisor per session');
      for (const p of supervisors) process.kill(p, 'SIGKILL');
      await waitFor(
        () => sessions.every((p) => supervisors.includes(p) || !existsSync(`/proc/${p}`)),
        5000,
        `every session process gone (left: ${sessions
          .filter((p) => existsSync(`/proc/${p}`))
          .map((p) => `${p} ${comm(p)}`)
          .join(', ')})`,
      );
      // Killed, they could not remove their sockets and cgroups: the next nsxd does.
      await other.stop();
      const next = await startDaemon({ dir: other.dir });
      assert.deepEqual(readdirSync(join(other.dir, 'sessions')), []);
      const cg = sessionCgroupDir(next);
      if (cg)
        assert.deepEqual(
          readdirSync(cg).filter((n) => n.startsWith('session-')),
          [],
        );
      await next.stop();
    } finally {
      member.kill();
      c.close();
      held.kill();
      await other.destroy();
    }
  });

  it("refuses a root shell in a mount namespace a member made, unless the member's user namespace is joined too", async () => {
    const made = spawn(
      'runuser',
      ['-u', user.name, '--', 'unshare', '--user', '--map-root-user', '--mount', 'sleep', '600'],
      { stdio: 'ignore' },
    );
    try {
      const pid = await waitFor(
        () => descendants(made.pid!).find((p) => comm(p) === 'sleep' && nsInode(p, 'mnt') !== nsInode('self', 'mnt')),
        10_000,
        "the member's namespaces",
      );
      const refused = nsx(daemon, ['enter', String(pid), '-t', 'mnt', '--', 'id', '-u']);
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        new RegExp(
          `no root shell in mnt:\\[${nsInode(pid, 'mnt')}\\]: it belongs to user:\\[${nsInode(pid, 'user')}\\], which ${user.name} \\(uid ${user.uid}\\) made`,
        ),
      );
      await waitFor(
        () => /action=terminal\/open .*result=refused reason="no root shell in mnt/.test(daemon.log()),
        5000,
        'the refusal audited',
      );
      const confined = nsx(daemon, [
        'enter',
        String(pid),
        '-t',
        'user,mnt',
        '--',
        'sh',
        '-c',
        'id -u; cat /proc/self/uid_map',
      ]);
      assert.equal(confined.code, 0, confined.stderr);
      assert.match(
        confined.stdout,
        new RegExp(`^0\\n\\s*0\\s+${user.uid}\\s+1\\n$`),
        'root inside is the member outside',
      );
      const own = nsx(daemon, ['enter', String(pid), '-t', 'mnt', '--', 'id', '-u'], { user: user.name });
      assert.equal(own.stdout.trim(), String(user.uid), 'the member may enter as itself');
    } finally {
      made.kill('SIGKILL');
      spawnSync('pkill', ['-KILL', '-u', user.name, '-x', 'sleep']);
    }
  });

  it('host group 0 never reaches a non-root shell, joined or isolated', async () => {
    const wheel = createUser({ inGroup: true, groups: ['root'] });
    const target = await holdNamespaces(['--uts'], 'exec sleep 600');
    try {
      for (const args of [
        ['enter', String(target.pid), '-t', 'uts'],
        ['isolate', '-t', 'uts,user'],
      ]) {
        const session = memberSession(daemon, wheel, [...args, '--', 'sleep', '3006']);
        try {
          // Read from the host's side: inside a user namespace host groups show as 65534.
          const shell = await waitFor(
            () => session.processes().find((p) => comm(p) === 'sleep'),
            10_000,
            `the ${args[0]} session`,
          );
          const groups = /^Groups:(.*)$/m
            .exec(readFileSync(`/proc/${shell}/status`, 'utf8'))![1]
            .trim()
            .split(/\s+/);
          assert.ok(
            groups.includes(spawnSync('getent', ['group', 'nsx'], { encoding: 'utf8' }).stdout.split(':')[2]),
            `${args[0]}: the user's other groups are there: ${groups}`,
          );
          assert.ok(!groups.includes('0'), `${args[0]}: ${groups}`);
        } finally {
          session.kill();
          // Gone before the next session is looked for: its sleep, still dying, would be found instead.
          await waitFor(() => session.processes().length === 0, 10_000, `the ${args[0]} session's processes gone`);
        }
      }
    } finally {
      target.kill();
      wheel.remove();
    }
  });

  it('nsx list shows newlines and bidi overrides in argv as escapes: no forged rows', async () => {
    const forged = `x\n4026531835 cgroup 999 1 root /sbin/init-forged\u202egnp.exe`;
    // Alone in a uts namespace of its own, so that its command line is that namespace's row.
    const proc = spawn(
      'runuser',
      [
        '-u',
        user.name,
        '--',
        'unshare',
        '--user',
        '--map-root-user',
        '--uts',
        'bash',
        '-c',
        'exec -a "$0" sleep 600',
        forged,
      ],
      { stdio: 'ignore' },
    );
    try {
      await waitFor(() => descendants(proc.pid!).some((p) => comm(p) === 'sleep'), 5000, 'the forger');
      const r = nsx(daemon, ['list']);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stdout, /^4026531835 cgroup 999/m);
      assert.doesNotMatch(r.stdout, /\u202e/);
      assert.match(r.stdout, /x\\x0a4026531835 cgroup 999 1 root \/sbin\/init-forged\\u202egnp\.exe/);
    } finally {
      proc.kill('SIGKILL');
      spawnSync('pkill', ['-KILL', '-u', user.name, '-x', 'sleep']);
    }
  });

  it("nsx shows an error's control characters as escapes, whatever it quotes", async () => {
    // An nsxd (here a stand-in) whose refusal quotes a name someone else chose.
    const dir = rootDir('nsx-fake-nsxd-');
    const socket = join(dir, 'nsxd.sock');
    const server = createServer((s) => {
      const conn = createMessageConnection(new StreamMessageReader(s), new StreamMessageWriter(s));
      conn.onRequest(Initialize, () => ({
        capabilities: {},
        serverInfo: { name: 'nsxd' as const, version: 'fake' },
        protocolVersion: PROTOCOL_VERSION,
        identity: { uid: 0, user: 'root', role: 'admin' as const, rootShells: true, nstypes: [] },
      }));
      conn.onRequest(
        TerminalOpen,
        () =>
          new ResponseError(
            NsxErrors.NotFound,
            'no running container is called x (running: web\x1b]0;owned\x07, db\x1b[2J\u202eevil\r\x9b1m)',
          ),
      );
      conn.listen();
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    try {
      const r = await new Promise<{ stderr: string }>((resolve) => {
        const p = spawn(NSX, ['--socket', socket, 'enter', 'x', '--', 'true'], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        p.stderr!.on('data', (d) => {
          stderr += d;
        });
        p.on('close', () => resolve({ stderr }));
      });
      assert.match(r.stderr, /running: web\\x1b\]0;owned\\x07, db\\x1b\[2J\\u202eevil\\x0d\\x9b1m/);
      assert.doesNotMatch(r.stderr, /[\x1b\x07\r\x9b\u202e]/);
    } finally {
      server.close();
      removeDir(dir);
    }
  });

  it('a pin that cannot be made leaves its name free, and a pin unmounted behind nsxd counts no more', async () => {
    const host = nsx(daemon, ['pin', String(process.pid), 'mnt', 'host-mnt']);
    assert.equal(host.code, 1);
    assert.ok(!existsSync(join(daemon.dir, 'pins', 'mnt', 'host-mnt')), 'no empty pin file left behind');
    const held = await holdNamespaces(['--uts'], 'exec sleep 600');
    try {
      assert.equal(nsx(daemon, ['pin', String(held.pid), 'uts', 'first'], { user: user.name }).code, 0);
      const registry = () => Object.keys(JSON.parse(readFileSync(join(daemon.dir, 'pins.json'), 'utf8')));
      assert.ok(registry().includes('uts/first'));
      execFileSync('umount', [join(daemon.dir, 'pins', 'uts', 'first')]);
      assert.equal(nsx(daemon, ['pin', String(held.pid), 'uts', 'second'], { user: user.name }).code, 0);
      assert.deepEqual(
        registry().filter((k) => k.startsWith('uts/')),
        ['uts/second'],
        'the vanished pin is forgotten',
      );
      assert.equal(nsx(daemon, ['unpin', 'uts', 'second'], { user: user.name }).code, 0);
    } finally {
      held.kill();
    }
  });

  it('a net pin made before the first `ip netns add` is released whole by unpin', async () => {
    // nsxd in a mount namespace of its own with an empty /run of its own, as on a machine that never ran ip netns:
    // nothing it makes there reaches the host's /run/netns, and nothing left there by others reaches it.
    const other = await startDaemon({
      wrap: [
        'unshare',
        '--mount',
        '--propagation',
        'private',
        '--',
        'sh',
        '-c',
        'mount -t tmpfs nsx-run /run && exec "$@"',
        'sh',
      ],
    });
    const held = await holdNamespaces(['--net'], 'exec sleep 600');
    const inNsxd = (...cmd: string[]) =>
      execFileSync('nsenter', ['-t', String(other.proc.pid), '-m', '--', ...cmd], { encoding: 'utf8' });
    const nsfsMounts = () =>
      inNsxd('cat', '/proc/self/mountinfo')
        .split('\n')
        .filter((l) => l.includes(`net:[${nsInode(held.pid, 'net')}]`));
    try {
      assert.equal(nsx(other, ['pin', String(held.pid), 'net', 'nsx-sec-early']).code, 0);
      inNsxd('ip', 'netns', 'add', 'nsx-sec-later');
      assert.ok(nsfsMounts().length >= 2, 'pinned in the pin directory and in /run/netns');
      const r = nsx(other, ['unpin', 'net', 'nsx-sec-early']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(nsfsMounts(), [], 'no mount of the namespace is left, hidden or not');
    } finally {
      spawnSync('nsenter', ['-t', String(other.proc.pid), '-m', '--', 'ip', 'netns', 'delete', 'nsx-sec-later']);
      held.kill();
      await other.destroy();
    }
  });

  it("an outsider's fds to a namespace cost discovery one holder entry, of those it reads, and a huge mount table one capped section", async () => {
    const outsider = createUser();
    const fds = fdsAProcessMayHold() - 64;
    const proc = spawn('runuser', ['-u', outsider.name, '--', fdhog, '/proc/self/ns/uts', String(fds)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let ready = '';
    proc.stdout!.on('data', (d) => {
      ready += d;
    });
    const big = await holdNamespaces(
      ['--mount', '--propagation', 'private'],
      `mkdir -p /tmp/nsx-big-mnt && for i in $(seq 1200); do mount -t tmpfs -o size=4k nsx-stacked-${'x'.repeat(200)} /tmp/nsx-big-mnt; done; exec sleep 600`,
    );
    try {
      await waitFor(() => ready.includes('ready'), 20_000, `the outsider's ${fds} fds`);
      const r = nsx(daemon, ['list', '--json', '-t', 'uts']);
      assert.equal(r.code, 0, r.stderr);
      const answer = JSON.parse(r.stdout) as {
        namespaces: { inode: number; holders: { kind: string; pid?: number; count?: number }[] }[];
        cut?: ScanCut;
      };
      const host = answer.namespaces.find((ns) => ns.inode === nsInode('self', 'uts'))!;
      assert.ok(host.holders.length <= 32, `${host.holders.length} holders listed`);
      const hog = descendants(proc.pid!).find((p) => comm(p) === 'fdhog');
      const held = host.holders.find((h) => h.kind === 'fd' && h.pid === hog);
      assert.ok(held?.count && held.count < fds, `one entry counts the fds read: ${held?.count} of ${fds}`);
      assert.ok(answer.cut && answer.cut.processes >= 1, 'and the answer says that fds were left unread');
      if (kernelCountsFds()) assert.ok(answer.cut.fds >= fds - held.count, `${answer.cut.fds} fds said unread`);
      assert.ok(r.stdout.length < 4 * 1024 * 1024, `the answer is ${r.stdout.length} bytes`);

      const mounts = readFileSync(`/proc/${big.pid}/mountinfo`, 'utf8').length;
      assert.ok(mounts > 300 * 1024, `the mount table is ${mounts} bytes`);
      const d = nsx(daemon, ['details', `mnt:${nsInode(big.pid, 'mnt')}`]);
      assert.equal(d.code, 0, d.stderr);
      assert.match(d.stdout, /… truncated: only the first 256 KiB are shown/);
      assert.ok(d.stdout.length < 300 * 1024, `details are ${d.stdout.length} bytes`);
    } finally {
      proc.kill('SIGKILL');
      big.kill();
      outsider.remove();
    }
  });

  it("an outsider's million fds in many processes: a scan reads a bounded number of them, and the answer says how many it left unread", async (t) => {
    const outsider = createUser();
    const each = fdsAProcessMayHold() - 64;
    const hogs = Math.ceil(1_000_000 / each);
    const proc = spawn(
      'runuser',
      [
        '-u',
        outsider.name,
        '--',
        'sh',
        '-c',
        `for i in $(seq ${hogs}); do "$0" /proc/self/ns/uts ${each} & done; wait`,
        fdhog,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let ready = 0;
    proc.stdout!.on('data', (d: Buffer) => {
      ready += d.toString().split('ready').length - 1;
    });
    try {
      await waitFor(() => ready === hogs, 60_000, `${hogs} processes of ${each} fds each`);
      // Opening an fd is no process event: only a full scan sees them, and one is granted once the last is 4 of its durations old.
      let took = 0;
      const listed = await waitFor(
        () => {
          const started = performance.now();
          const r = nsx(daemon, ['list', '--json', '--rescan', '-t', 'uts']);
          took = performance.now() - started;
          assert.equal(r.code, 0, r.stderr);
          const answer = JSON.parse(r.stdout) as { cut?: ScanCut };
          return answer.cut && answer.cut.processes >= hogs ? answer : undefined;
        },
        60_000,
        'a list that says it left fds unread',
      );
      t.diagnostic(
        `nsx list --json --rescan with ${hogs * each} fds held: ${took.toFixed(0)} ms; cut ${JSON.stringify(listed.cut)}`,
      );
      if (kernelCountsFds()) assert.ok(listed.cut!.fds >= hogs * (each - 4096), `${listed.cut!.fds} fds left unread`);
      assert.ok(listed.cut!.pids.length > 0 && listed.cut!.pids.length <= 8, `pids ${listed.cut!.pids}`);
      // The table on stdout as ever, and under it, on stderr, what the scan left out.
      const r = nsx(daemon, ['list', '-t', 'uts']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^ *NS +TYPE +NPROCS/);
      assert.match(r.stderr, /fds of \d+ processes/);
    } finally {
      proc.kill('SIGKILL');
      outsider.remove();
    }
  });

  it('rescans asked in a loop on 8 connections share scans, and get few enough of their own to keep nsxd well under half a core, not all of it', async (t) => {
    // A host of a thousand processes more, so that a scan costs what it costs on a busy host: more than answering does.
    const load = spawn('sh', ['-c', 'for i in $(seq 1000); do sleep 601 & done; wait'], {
      stdio: 'ignore',
      detached: true,
    });
    const clients = await Promise.all(Array.from({ length: 8 }, () => daemon.client()));
    // `nsx list --rescan -t time`: an answer of two lines, so that what nsxd spends is the scans, not the writing.
    const rescan = (c: Client) => c.conn.sendRequest(PrintNamespaces, { rescan: true, types: ['time'] });
    try {
      await waitFor(() => descendants(load.pid!).length >= 1000, 20_000, 'a thousand processes');
      const pid = daemon.proc.pid!;
      await rescan(clients[0]); // one scan reads the new processes' command lines, which the next ones keep
      // Each connection asks again 20 ms after each answer: an answer from the kept model costs a few % of a
      // core at that rate, so that what nsxd spends beyond that is the scans.
      const cpu = cpuTime(pid);
      const start = performance.now();
      let answers = 0;
      await Promise.all(
        clients.map(async (c) => {
          while (performance.now() - start < 4000) {
            await rescan(c);
            answers++;
            await new Promise((r) => setTimeout(r, 20));
          }
        }),
      );
      const spent = cpuTime(pid) - cpu;
      const elapsed = performance.now() - start;
      const share = spent / elapsed;
      const figures = `${answers} answers cost nsxd ${spent.toFixed(0)} ms of CPU in ${elapsed.toFixed(0)} ms: ${(share * 100).toFixed(0)}% of a core`;
      t.diagnostic(figures);
      // Back to back, scans are all of a core; granted 1 in 5 of the time, with what answering costs, well under half.
      assert.ok(share < 0.5, figures);
    } finally {
      for (const c of clients) c.close();
      try {
        process.kill(-load.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });

  it("a session's cgroup goes with it, and nsxd's folder once it stops with no session left", async (t) => {
    const other = await startDaemon();
    const instance = sessionCgroupDir(other);
    if (!instance) {
      await other.destroy();
      return t.skip('no cgroup2 here: sessions fall back to process groups');
    }
    const c = await other.client();
    const { session } = await rootPty(c);
    assert.ok(
      readdirSync(instance).some((n) => n.startsWith('session-')),
      'the session has its cgroup',
    );
    const exited = new Promise((resolve) => c.conn.onNotification(TerminalExit, resolve));
    await c.conn.sendNotification(TerminalClose, { session });
    await exited;
    await waitFor(
      () => !readdirSync(instance).some((n) => n.startsWith('session-')),
      5000,
      'the session cgroup removed',
    );
    c.close();
    await other.destroy();
    assert.ok(!existsSync(instance), `${instance} is gone`);
  });
});
