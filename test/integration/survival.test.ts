// Sessions outlive nsxd: each waits in its supervisor (nsx-session) while
// nsxd is gone, and its owner attaches to it again from the next nsxd, to
// the same shell, with what it printed meanwhile. Nobody else can; a session
// nobody comes back for ends after the orphan timeout, leaving nothing.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '../../helper/common/client';
import {
  ErrorCodes,
  PROTOCOL_VERSION,
  TerminalAttach,
  TerminalExit,
  TerminalInput,
  TerminalOpen,
  TerminalOutput,
} from '../../helper/common/protocol';
import {
  comm,
  createUser,
  Daemon,
  descendants,
  DIST,
  holdNamespaces,
  NSX,
  nsx,
  ROOT,
  sessionCgroupDir,
  startDaemon,
  waitFor,
} from '../support';

const PTY = { cols: 100, rows: 30 };

/** What a client's sessions printed, and how they ended. */
function sessionsOf(c: Client) {
  const out = new Map<number, string>();
  const exits = new Map<number, number>();
  c.conn.onNotification(TerminalOutput, (p) =>
    out.set(p.session, (out.get(p.session) ?? '') + Buffer.from(p.data, 'base64').toString()),
  );
  c.conn.onNotification(TerminalExit, (p) => exits.set(p.session, p.code));
  return {
    text: (id: number) => out.get(id) ?? '',
    exit: (id: number) => exits.get(id),
    type: (id: number, s: string) =>
      c.conn.sendRequest(TerminalInput, { session: id, data: Buffer.from(s).toString('base64') }),
  };
}

/** nsx as a user on a pty of its own (script(1)), as a person at a terminal runs it. */
function userTerminal(daemon: Daemon, user: string, args: string[]) {
  const line = [NSX, '--socket', daemon.socket, ...args].map((a) => `'${a}'`).join(' ');
  const proc = spawn('runuser', ['-u', user, '--', 'script', '-qfec', line, '/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (d) => {
    out += d;
  });
  proc.stderr.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number>((resolve) => proc.once('exit', (code) => resolve(code ?? 128)));
  return { output: () => out, type: (s: string) => proc.stdin.write(s), exited, kill: () => proc.kill('SIGKILL') };
}

/** When a process started (in clock ticks since boot): the same pid and start is the same process. */
function started(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
  } catch {
    return undefined;
  }
}

function uidOf(pid: number): number | undefined {
  try {
    return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  } catch {
    return undefined;
  }
}

function supervisorsOf(daemon: Daemon): number[] {
  const r = spawnSync('pgrep', ['-f', `^${DIST}/nsx-session --socket ${daemon.dir}/sessions/`], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

/** Nothing of any session is left: no supervisor, no socket, no cgroup. */
function assertNothingLeft(daemon: Daemon): void {
  assert.deepEqual(supervisorsOf(daemon), [], 'no supervisor is left');
  assert.deepEqual(readdirSync(join(daemon.dir, 'sessions')), [], 'no supervisor socket is left');
  const cg = sessionCgroupDir(daemon);
  if (cg && existsSync(cg))
    assert.deepEqual(
      readdirSync(cg).filter((n) => n.startsWith('session-')),
      [],
      'no session cgroup is left',
    );
}

async function killHard(daemon: Daemon): Promise<void> {
  const exited = new Promise((r) => daemon.proc.once('exit', r));
  daemon.proc.kill('SIGKILL');
  await exited;
}

/**
 * Another member's program that asks nsxd for session ID over and over,
 * 64 requests in flight at a time, until killed: as one guessing ids would.
 */
function knocker(daemon: Daemon, user: string, id: number) {
  const script = `
    const net = require('net');
    const rpc = require(${JSON.stringify(join(ROOT, 'node_modules/vscode-jsonrpc/node'))});
    const s = net.createConnection(${JSON.stringify(daemon.socket)});
    // nsxd hanging up on it (or going) ends it quietly: a write after that is EPIPE.
    process.on('unhandledRejection', () => process.exit(0));
    s.on('error', () => process.exit(0));
    const c = rpc.createMessageConnection(new rpc.StreamMessageReader(s), new rpc.StreamMessageWriter(s));
    c.listen();
    let refused = 0;
    const knock = () => c.sendRequest('terminal/attach', { session: ${id} }).then(
      () => console.log('ATTACHED'), (e) => { if (++refused % 100 === 0) console.log('REFUSED ' + refused + ' ' + e.message); knock(); });
    c.sendRequest('initialize', { initializationOptions: { protocolVersion: ${PROTOCOL_VERSION} } }).then(() => { for (let i = 0; i < 64; i++) knock(); });
  `;
  const proc = spawn('runuser', ['-u', user, '--', process.execPath, '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout.on('data', (d) => {
    out += d;
  });
  return { output: () => out, kill: () => proc.kill('SIGKILL') };
}

/** A process's memory in KiB, from the kernel's own account of its mappings. */
function memoryOf(pid: number): { rss: number; pss: number; privateDirty: number } {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)![1]);
  return { rss: kib('Rss'), pss: kib('Pss'), privateDirty: kib('Private_Dirty') };
}

describe('sessions outlive nsxd', () => {
  let member: ReturnType<typeof createUser>;
  let other: ReturnType<typeof createUser>;
  before(() => {
    member = createUser({ inGroup: true });
    other = createUser({ inGroup: true });
  });
  after(() => {
    member.remove();
    other.remove();
  });

  it('kill -9 of nsxd with a root, a member and an isolated shell open: the next nsxd attaches each again, the same process, with what it printed meanwhile', async () => {
    const first = await startDaemon({ orphanTimeout: 120 });
    const held = await holdNamespaces(['--uts', '--ipc']);
    let next: Daemon | undefined;
    const terminals: ReturnType<typeof userTerminal>[] = [];
    try {
      const c = await first.client();
      const t = sessionsOf(c);
      const root = await c.conn.sendRequest(TerminalOpen, {
        target: { pid: held.pid },
        pty: PTY,
        command: ['/bin/sh'],
      });
      const isolated = await c.conn.sendRequest(TerminalOpen, { pty: PTY, command: ['/bin/sh'], hostname: 'far-away' });
      const mine = userTerminal(first, member.name, ['enter', String(held.pid), '-t', 'uts']);
      terminals.push(mine);
      const memberShell = await waitFor(
        () => descendants(first.proc.pid!).find((p) => uidOf(p) === member.uid && comm(p) === 'bash'),
        10_000,
        "the member's shell",
      );
      const shells = [root.pid, isolated.pid, memberShell];
      const starts = shells.map(started);

      // Each prints a line a little later, when no nsxd is there to relay it.
      await t.type(root.session, '(sleep 1; echo root-$((6*7))-while-away) &\n');
      await t.type(isolated.session, '(sleep 1; echo isolated-$((6*7))-on-$(hostname)) &\n');
      mine.type('(sleep 1; echo member-$((6*7))-while-away) &\n');
      await waitFor(() => mine.output().includes('while-away) &'), 5000, "the member's command echoed");
      await killHard(first);
      c.close();
      const id = Number(
        (
          await waitFor(
            () => /nsx attach (\d+)/.exec(mine.output()) ?? undefined,
            5000,
            'nsx saying how to attach again',
          )
        )[1],
      );
      await mine.exited;
      await waitFor(
        () =>
          descendants(isolated.pid).some((p) => comm(p) === 'sleep') === false &&
          descendants(root.pid).every((p) => comm(p) !== 'sleep'),
        10_000,
        'the background lines printed',
      );
      assert.deepEqual(shells.map(started), starts, 'every shell is still the same process');

      next = await startDaemon({ dir: first.dir, orphanTimeout: 120 });
      const c2 = await next.client();
      const t2 = sessionsOf(c2);
      const again = await c2.conn.sendRequest(TerminalAttach, { session: root.session, pid: root.pid });
      assert.equal(again.pid, root.pid);
      assert.equal(again.title, root.title);
      assert.deepEqual(again.namespaces, root.namespaces);
      await waitFor(() => t2.text(root.session).includes('root-42-while-away'), 5000, "root's scrollback");
      await t2.type(root.session, 'echo typed-$((1+1))\n');
      await waitFor(() => t2.text(root.session).includes('typed-2'), 5000, 'typing into the root shell');

      await c2.conn.sendRequest(TerminalAttach, { session: isolated.session });
      await waitFor(
        () => t2.text(isolated.session).includes('isolated-42-on-far-away'),
        5000,
        "the isolated shell's scrollback",
      );
      await t2.type(isolated.session, 'echo typed-$((2+2))\n');
      await waitFor(() => t2.text(isolated.session).includes('typed-4'), 5000, 'typing into the isolated shell');

      const back = userTerminal(next, member.name, ['attach', String(id)]);
      terminals.push(back);
      await waitFor(() => back.output().includes('member-42-while-away'), 5000, "the member's scrollback");
      back.type('echo typed-$((3+3))\n');
      await waitFor(() => back.output().includes('typed-6'), 5000, 'typing into the member shell');
      assert.deepEqual(shells.map(started), starts, 'the shells attached to are those that were open');

      await t2.type(root.session, 'exit\n');
      await t2.type(isolated.session, 'exit\n');
      back.type('exit\n');
      assert.equal(await back.exited, 0);
      await waitFor(
        () => t2.exit(root.session) === 0 && t2.exit(isolated.session) === 0,
        5000,
        'both root sessions exited',
      );
      await waitFor(() => shells.every((p) => started(p) === undefined), 5000, 'every shell gone');
      await waitFor(() => supervisorsOf(next!).length === 0, 5000, 'every supervisor gone');
      assertNothingLeft(next);
      c2.close();
    } finally {
      for (const term of terminals) term.kill();
      held.kill();
      await next?.destroy();
      await first.destroy();
    }
  });

  it('a session nobody attaches to again ends after the orphan timeout, however often others knock, and leaves nothing', async () => {
    const first = await startDaemon({ orphanTimeout: 2 });
    let next: Daemon | undefined;
    try {
      const c = await first.client();
      const opened = await c.conn.sendRequest(TerminalOpen, {
        pty: PTY,
        command: ['sh', '-c', 'sleep 600 & sleep 600'],
      });
      const tree = await waitFor(
        () => {
          const d = descendants(opened.pid);
          return d.filter((p) => comm(p) === 'sleep').length === 2 && d;
        },
        5000,
        'the session tree',
      );
      await killHard(first);
      c.close();
      next = await startDaemon({ dir: first.dir, orphanTimeout: 2 });
      const n = next;
      // Another member asks for it over and over: refused each time, and that keeps nothing alive.
      let knocks = 0;
      await waitFor(
        () => {
          const r = nsx(n, ['attach', String(opened.session)], { user: other.name });
          assert.equal(r.code, 1);
          assert.match(
            r.stderr,
            new RegExp(`no session ${opened.session} of ${other.name}'s is waiting to be attached`),
          );
          knocks++;
          return [opened.pid, ...tree].every((p) => started(p) === undefined) && supervisorsOf(n).length === 0;
        },
        20_000,
        'the orphaned session ending',
      );
      assert.ok(knocks > 2, `knocked ${knocks} times`);
      assertNothingLeft(next);
      const late = nsx(next, ['attach', String(opened.session)]);
      assert.equal(late.code, 1);
      assert.match(late.stderr, /no session \d+ of root's is waiting/);
    } finally {
      await next?.destroy();
      await first.destroy();
    }
  });

  it("only the owner attaches again, to the shell it was told of, and a member's root shell only while the policy still grants it", async () => {
    const first = await startDaemon({ policy: { rootShells: [member.name] } });
    let next: Daemon | undefined;
    let third: Daemon | undefined;
    const terminals: ReturnType<typeof userTerminal>[] = [];
    try {
      const rootShell = userTerminal(first, member.name, [
        'isolate',
        '-t',
        'uts',
        '--root',
        '--',
        'sh',
        '-c',
        'echo attached-$((6*7)); exec sleep 3020',
      ]);
      terminals.push(rootShell);
      await waitFor(
        () => descendants(first.proc.pid!).some((p) => comm(p) === 'sleep' && uidOf(p) === 0),
        10_000,
        "the member's root shell",
      );
      // Its output reaches nsx once nsx has the session: a stop before that would be a failed open, not a session to attach to.
      await waitFor(() => rootShell.output().includes('attached-42'), 5000, 'nsx attached to the session');
      // A graceful stop (systemctl restart) leaves sessions to the next nsxd too.
      await first.stop();
      const id = Number(
        (
          await waitFor(
            () => /nsx attach (\d+)/.exec(rootShell.output()) ?? undefined,
            5000,
            'nsx saying how to attach again',
          )
        )[1],
      );

      next = await startDaemon({ dir: first.dir, policy: { rootShells: [] } });
      const c = await next.client();
      for (const req of [{ session: id }, { session: id + 1000 }]) {
        await assert.rejects(
          c.conn.sendRequest(TerminalAttach, req),
          (err: { code: number; message: string }) =>
            err.code === ErrorCodes.NotFound && /no session \d+ of root's is waiting to be attached/.test(err.message),
          'root is not the owner, and a missing id says the same',
        );
      }
      const stranger = nsx(next, ['attach', String(id)], { user: other.name });
      assert.match(stranger.stderr, new RegExp(`no session ${id} of ${other.name}'s is waiting`));
      const revoked = nsx(next, ['attach', String(id)], { user: member.name });
      assert.equal(revoked.code, 1);
      assert.match(
        revoked.stderr,
        new RegExp(`session ${id} is a root shell and ${member.name} may no longer open root shells`),
      );
      c.close();
      await next.stop();

      third = await startDaemon({ dir: first.dir, policy: { rootShells: [member.name] } });
      const wrongPid = await third.client();
      await assert.rejects(wrongPid.conn.sendRequest(TerminalAttach, { session: id, pid: 1 }), /no session/);
      wrongPid.close();
      const back = userTerminal(third, member.name, ['attach', String(id)]);
      terminals.push(back);
      await waitFor(() => /action=terminal\/attach .*result=ok/.test(third!.log()), 5000, 'the attach audited');
      const busy = nsx(third, ['attach', String(id)], { user: member.name });
      assert.match(busy.stderr, new RegExp(`session ${id} is attached to another connection`));
    } finally {
      for (const term of terminals) term.kill();
      await third?.destroy();
      await next?.destroy();
      await first.destroy();
    }
  });
  it('another member knocking with guessed ids all the while never keeps the owner from their session', async () => {
    const first = await startDaemon();
    let next: Daemon | undefined;
    const terminals: ReturnType<typeof userTerminal>[] = [];
    let knocking: ReturnType<typeof knocker> | undefined;
    try {
      const mine = userTerminal(first, member.name, [
        'isolate',
        '-t',
        'uts',
        '--',
        'sh',
        '-c',
        'echo opened-$((6*7)); exec sh',
      ]);
      terminals.push(mine);
      await waitFor(() => mine.output().includes('opened-42'), 10_000, "the member's session");
      await first.stop();
      const id = Number(
        (
          await waitFor(
            () => /nsx attach (\d+)/.exec(mine.output()) ?? undefined,
            5000,
            'nsx saying how to attach again',
          )
        )[1],
      );
      const heard: string[] = [];
      for (let round = 0; round < 3; round++) {
        next = await startDaemon({ dir: first.dir });
        knocking = knocker(next, other.name, id);
        await waitFor(() => knocking!.output().includes('REFUSED 200'), 10_000, 'the knocking under way');
        const back = userTerminal(next, member.name, ['attach', String(id)]);
        terminals.push(back);
        await waitFor(() => /action=terminal\/attach .*result=ok/.test(next!.log()), 10_000, `attach ${round}`);
        back.type(`echo again-$((${round}))\n`);
        await waitFor(
          () => back.output().includes(`again-${round}`),
          5000,
          `attach ${round}: typing reaches the shell`,
        );
        // Gone without closing it, as a client killed is: the session waits for its owner again.
        await next.stop();
        await back.exited;
        knocking.kill();
        heard.push(knocking.output());
      }
      assert.doesNotMatch(heard.join(''), /ATTACHED/);
      assert.match(heard.join(''), new RegExp(`no session ${id} of ${other.name}'s is waiting to be attached`));
    } finally {
      knocking?.kill();
      for (const term of terminals) term.kill();
      await next?.destroy();
      await first.destroy();
    }
  });

  it('a session whose account was deleted ends, and a new account given the same uid never sees it', async () => {
    const leaving = createUser({ inGroup: true });
    const first = await startDaemon();
    let next: Daemon | undefined;
    let heir: string | undefined;
    const terminals: ReturnType<typeof userTerminal>[] = [];
    try {
      const theirs = userTerminal(first, leaving.name, [
        'isolate',
        '-t',
        'uts',
        '--',
        'sh',
        '-c',
        'echo secret-$((6*7)); exec sleep 3040',
      ]);
      terminals.push(theirs);
      await waitFor(() => theirs.output().includes('secret-42'), 10_000, 'the session');
      await first.stop();
      const id = Number(
        (
          await waitFor(
            () => /nsx attach (\d+)/.exec(theirs.output()) ?? undefined,
            5000,
            'nsx saying how to attach again',
          )
        )[1],
      );
      theirs.kill();
      assert.equal(supervisorsOf(first).length, 1, 'the session waits for its owner');
      leaving.remove();
      heir = `${leaving.name}h`;
      spawnSync('useradd', ['--create-home', '--uid', String(leaving.uid), '--groups', 'nsx', heir]);
      next = await startDaemon({ dir: first.dir });
      const n = next;
      await waitFor(() => supervisorsOf(n).length === 0, 10_000, 'the session of the deleted account ended');
      const r = nsx(next, ['attach', String(id)], { user: heir });
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`no session ${id} of ${heir}'s is waiting to be attached`));
      assert.doesNotMatch(r.stdout + r.stderr, /secret-42/);
      assertNothingLeft(next);
    } finally {
      for (const term of terminals) term.kill();
      if (heir) {
        spawnSync('pkill', ['-KILL', '-u', heir]);
        spawnSync('userdel', ['--remove', heir]);
      }
      await next?.destroy();
      await first.destroy();
    }
  });

  it('a user holds at most --sessions-per-user sessions, those waiting to be attached again counted', async () => {
    const first = await startDaemon({ sessionsPerUser: 2 });
    let next: Daemon | undefined;
    const terminals: ReturnType<typeof userTerminal>[] = [];
    try {
      for (const n of [1, 2]) {
        const t = userTerminal(first, member.name, [
          'isolate',
          '-t',
          'uts',
          '--',
          'sh',
          '-c',
          `echo open-${n}-$((6*7)); exec sh`,
        ]);
        terminals.push(t);
        await waitFor(() => t.output().includes(`open-${n}-42`), 10_000, `session ${n}`);
      }
      const third = nsx(first, ['isolate', '-t', 'uts', '--', 'true'], { user: member.name });
      assert.equal(third.code, 1);
      assert.match(
        third.stderr,
        new RegExp(`${member.name} has 2 sessions, those waiting to be attached again included \\(at most 2\\)`),
      );
      // Orphaned by a restart, they still count; root's do not.
      await first.stop();
      for (const t of terminals) await t.exited;
      next = await startDaemon({ dir: first.dir, sessionsPerUser: 2 });
      assert.match(nsx(next, ['isolate', '-t', 'uts', '--', 'true'], { user: member.name }).stderr, /has 2 sessions/);
      assert.equal(nsx(next, ['isolate', '-t', 'uts', '--', 'true']).code, 0, 'root is not counted');
      assert.equal(nsx(next, ['isolate', '-t', 'uts', '--', 'true'], { user: other.name }).code, 0, 'nor another user');
      // One ends: room for one more.
      const id = Number(/nsx attach (\d+)/.exec(terminals[0].output())![1]);
      const back = userTerminal(next, member.name, ['attach', String(id)]);
      terminals.push(back);
      back.type('echo back-$((6*7))\n');
      await waitFor(() => back.output().includes('back-42'), 5000, 'attached again');
      back.kill();
      await waitFor(() => supervisorsOf(next!).length === 1, 10_000, 'that session ended with its client');
      const again = nsx(next, ['isolate', '-t', 'uts', '--', 'echo', 'room'], { user: member.name });
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, 'room\n');
    } finally {
      for (const term of terminals) term.kill();
      await next?.destroy();
      await first.destroy();
    }
  });
  it('a shell that exits while nobody is attached leaves its supervisor idle, its exit kept for the owner', async () => {
    const first = await startDaemon();
    let next: Daemon | undefined;
    try {
      const c = await first.client();
      const opened = await c.conn.sendRequest(TerminalOpen, {
        pty: PTY,
        command: ['sh', '-c', 'sleep 1; echo bye-$((6*7)); exit 3'],
      });
      await first.stop();
      c.close();
      await waitFor(() => started(opened.pid) === undefined, 10_000, 'the shell exited');
      const [supervisor] = supervisorsOf(first);
      assert.ok(supervisor, 'its supervisor waits for the owner');
      const ticks = () =>
        readFileSync(`/proc/${supervisor}/stat`, 'utf8')
          .split(') ')[1]
          .split(' ')
          .slice(11, 13)
          .reduce((a, b) => a + Number(b), 0);
      await new Promise((r) => setTimeout(r, 2500)); // past its 2 s drain
      const before = ticks();
      await new Promise((r) => setTimeout(r, 2000));
      assert.ok(ticks() - before <= 5, `the supervisor used ${ticks() - before} ticks of CPU in 2 s while waiting`);
      next = await startDaemon({ dir: first.dir });
      const c2 = await next.client();
      const t = sessionsOf(c2);
      await c2.conn.sendRequest(TerminalAttach, { session: opened.session });
      await waitFor(() => t.exit(opened.session) === 3, 5000, 'the exit, given to the owner');
      assert.match(t.text(opened.session), /bye-42/);
      c2.close();
    } finally {
      await next?.destroy();
      await first.destroy();
    }
  });

  // A supervisor's own memory (its private dirty pages: libc's and its own
  // text are shared by every supervisor) is what glibc, ld.so and the stack
  // always hold (100-120 KiB with Debian 12's glibc 2.36; 192 allows for
  // another) and, while orphaned, the 272 KiB ring (SCROLLBACK + READ_CHUNK)
  // it keeps output in: 388 KiB here. It used to be a malloc'd frame per
  // read (this shell's byte-at-a-time printing made 256 KiB of scrollback
  // cost 1.6 MiB) and a static megabyte for frames from nsxd, whose pages
  // stayed once a paste had filled them: 2,456 KiB here.
  it('an orphaned supervisor holds its last 256 KiB of output and little more, however the output came and whatever was pasted', async (t) => {
    const SCROLLBACK = 256 * 1024;
    const first = await startDaemon({ orphanTimeout: 120 });
    let next: Daemon | undefined;
    try {
      const c = await first.client();
      // Pipes: the paste is all read, a byte-at-a-time printf a read each, 300,000 of them.
      const opened = await c.conn.sendRequest(TerminalOpen, {
        command: [
          'sh',
          '-c',
          'head -c 716800 >/dev/null; sleep 1; i=0; while [ $i -lt 300000 ]; do printf x; i=$((i+1)); done; echo; echo printed-$((6*7)); exec sleep 601',
        ],
      });
      const [supervisor] = supervisorsOf(first);
      const running = (command: string) =>
        descendants(supervisor).some((p) => {
          try {
            return readFileSync(`/proc/${p}/cmdline`, 'utf8') === `${command.replaceAll(' ', '\0')}\0`;
          } catch {
            return false;
          }
        });
      await c.conn.sendRequest(TerminalInput, {
        session: opened.session,
        data: Buffer.alloc(716800, 'p').toString('base64'),
      });
      // All of it taken (input nobody has taken yet goes with nsxd), and nsxd gone before the printing starts.
      await waitFor(() => running('sleep 1'), 5000, 'the paste read');
      await killHard(first);
      c.close();
      await waitFor(() => running('sleep 601'), 30_000, 'the output printed');
      const orphaned = memoryOf(supervisor);
      assert.ok(
        orphaned.privateDirty < SCROLLBACK / 1024 + 16 + 192,
        `the orphaned supervisor holds ${JSON.stringify(orphaned)} KiB`,
      );

      next = await startDaemon({ dir: first.dir, orphanTimeout: 120 });
      const c2 = await next.client();
      const t2 = sessionsOf(c2);
      await c2.conn.sendRequest(TerminalAttach, { session: opened.session });
      await waitFor(() => t2.text(opened.session).includes('printed-42'), 5000, 'the scrollback');
      // The newest 256 KiB of frames (a frame header is 5 bytes, and the bytes come in frames of up to 16 KiB).
      const text = t2.text(opened.session);
      assert.match(text, /^x+\nprinted-42\n$/);
      assert.ok(text.length > SCROLLBACK - 200 && text.length <= SCROLLBACK, `${text.length} bytes of scrollback`);
      // Taken, the scrollback's pages go back.
      const taken = await waitFor(
        () => {
          const m = memoryOf(supervisor);
          return m.privateDirty < 192 && m;
        },
        5000,
        'the scrollback given back',
      ).catch(() =>
        assert.fail(`the supervisor holds ${JSON.stringify(memoryOf(supervisor))} KiB once its scrollback is taken`),
      );
      t.diagnostic(
        `supervisor memory (KiB): orphaned ${JSON.stringify(orphaned)}, scrollback taken ${JSON.stringify(taken)}`,
      );
      c2.close();
    } finally {
      await next?.destroy();
      await first.destroy();
    }
  });
  it('keeps all a session prints before its client has it: a fast command loses none of its start', async () => {
    const daemon = await startDaemon();
    try {
      // 1.9 MB at once: far past the scrollback, most of it before nsxd hands the session to nsx.
      const r = nsx(daemon, ['isolate', '-t', 'uts', '--', 'seq', '1', '300000']);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.split('\n');
      assert.deepEqual(lines.slice(0, 3), ['1', '2', '3'], 'its start');
      assert.equal(lines.length, 300001, 'every line');
    } finally {
      await daemon.destroy();
    }
  });
});
