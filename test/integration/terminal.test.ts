// Sessions: shells and commands in joined and fresh namespaces, as root and
// as a real non-root user, on a pty and on pipes; what they may not do.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Client } from '../../helper/common/client';
import {
  TerminalAck,
  TerminalClose,
  TerminalExit,
  TerminalInput,
  TerminalOpen,
  TerminalOpenParams,
  TerminalOutput,
  TerminalResize,
} from '../../helper/common/protocol';
import { createUser, Daemon, fdCount, holdNamespaces, NSX, nsInode, nsx, startDaemon, waitFor } from '../support';

/** A pty session driven the way the extension drives one. */
async function ptySession(c: Client, params: TerminalOpenParams) {
  let screen = '';
  let exit: number | undefined;
  const opened = await c.conn.sendRequest(TerminalOpen, {
    pty: { cols: 80, rows: 24 },
    env: { TERM: 'xterm' },
    ...params,
  });
  c.conn.onNotification(TerminalOutput, (p) => {
    if (p.session !== opened.session) return;
    const bytes = Buffer.from(p.data, 'base64');
    screen += bytes.toString();
    void c.conn.sendNotification(TerminalAck, { session: opened.session, bytes: bytes.length });
  });
  c.conn.onNotification(TerminalExit, (p) => {
    if (p.session === opened.session) exit = p.code;
  });
  const type = (text: string) =>
    c.conn.sendRequest(TerminalInput, { session: opened.session, data: Buffer.from(text).toString('base64') });
  return {
    opened,
    screen: () => screen,
    exit: () => exit,
    type,
    /** Types a line and waits for a marker the command prints after it. */
    async run(line: string, marker: string) {
      const from = screen.length;
      await type(`${line}; echo ${marker.slice(0, 1)}''${marker.slice(1)}\r`);
      await waitFor(() => screen.slice(from).includes(marker), 10_000, `"${marker}" on the screen`);
      return screen.slice(from);
    },
  };
}

describe('terminal sessions', () => {
  let daemon: Daemon;
  let user: ReturnType<typeof createUser>;
  let target: Awaited<ReturnType<typeof holdNamespaces>>;
  before(async () => {
    daemon = await startDaemon();
    user = createUser({ inGroup: true });
    target = await holdNamespaces(
      ['--uts', '--net', '--ipc', '--pid', '--mount', '--fork', '--mount-proc'],
      'hostname nsx-target; ip link add nsxv0 type veth peer name nsxv1; sleep 600 & exec sleep 601',
    );
  });
  after(async () => {
    target.kill();
    await daemon.destroy();
    user.remove();
  });

  it('runs a command in all namespaces of a process: hostname, links, interfaces, processes', () => {
    const r = nsx(daemon, [
      'enter',
      String(target.pid),
      '--',
      'sh',
      '-c',
      'hostname; readlink /proc/self/ns/net /proc/self/ns/uts; ip -o link; ps -e -o comm=',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], 'nsx-target');
    assert.equal(lines[1], `net:[${nsInode(target.pid, 'net')}]`);
    assert.equal(lines[2], `uts:[${nsInode(target.pid, 'uts')}]`);
    assert.match(r.stdout, /nsxv0/);
    // Its /proc is the target's: only the target's processes (and ours) are there.
    const comms = r.stdout.slice(r.stdout.lastIndexOf('nsxv')).split('\n').slice(1).filter(Boolean);
    assert.ok(comms.includes('sleep') && comms.length < 10, comms.join(','));
  });

  it('runs the shell itself inside the joined pid namespace, not only its children', () => {
    const r = nsx(daemon, ['enter', String(target.pid), '--', 'sh', '-c', 'echo $$; readlink /proc/self/ns/pid'], {
      user: user.name,
    });
    assert.equal(r.code, 0, r.stderr);
    const [pid, link] = r.stdout.trim().split('\n');
    assert.ok(Number(pid) < 100, `the shell's pid ${pid} is one of the target's pid namespace`);
    assert.equal(link, `pid:[${nsInode(target.pid, 'pid')}]`);
    const fresh = nsx(daemon, [
      'enter',
      String(target.pid),
      '--fresh-proc',
      '--',
      'sh',
      '-c',
      'ps -e -o pid=,comm= | head -1',
    ]);
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.match(fresh.stdout, /^\s*1 sleep$/m, 'fresh /proc works with every namespace joined, mnt included');
  });

  it("translates the user's ids through a joined user namespace's maps, and refuses where they are unmapped", async () => {
    const held = await holdNamespaces(['--user', '--uts'], 'exec sleep 600');
    try {
      // As root, map ids as a container runtime would: inside 0-999 are host 100000-100999, inside 5000 is our user.
      const gid = Number(spawnSync('id', ['-g', user.name], { encoding: 'utf8' }).stdout.trim());
      const unmapped = nsx(daemon, ['enter', String(held.pid), '-t', 'user,uts', '--', 'id'], { user: user.name });
      assert.match(unmapped.stderr, /has no mapping in that user namespace/, 'no maps written yet');
      spawnSync('sh', [
        '-c',
        `echo '0 100000 1000
5000 ${user.uid} 1' > /proc/${held.pid}/uid_map; echo '0 100000 1000
5000 ${gid} 1' > /proc/${held.pid}/gid_map`,
      ]);
      const r = nsx(
        daemon,
        ['enter', String(held.pid), '-t', 'user,uts', '--', 'sh', '-c', 'id -u; id -g; readlink /proc/self/ns/user'],
        { user: user.name, input: '' },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), ['5000', '5000', `user:[${nsInode(held.pid, 'user')}]`]);
    } finally {
      held.kill();
    }
  });

  it('joins only the types asked for, and returns the exit code', () => {
    const r = nsx(daemon, [
      'enter',
      String(target.pid),
      '-t',
      'uts',
      '--',
      'sh',
      '-c',
      'hostname; readlink /proc/self/ns/net; exit 3',
    ]);
    assert.equal(r.code, 3);
    assert.equal(r.stdout.split('\n')[0], 'nsx-target');
    assert.equal(r.stdout.split('\n')[1], `net:[${nsInode('self', 'net')}]`);
  });

  it('gives a fresh /proc of the joined pid namespace in a private mount namespace', () => {
    const r = nsx(daemon, [
      'enter',
      String(target.pid),
      '-t',
      'pid,uts',
      '--fresh-proc',
      '--',
      'sh',
      '-c',
      'ps -e -o pid=,comm=',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\s*1 sleep$/m, 'pid 1 of the target namespace is its first sleep');
  });

  it("runs a non-root user's shell as that user: groups, no capabilities, no_new_privs, only fds 0-2", () => {
    const r = nsx(
      daemon,
      [
        'enter',
        String(target.pid),
        '-t',
        'uts,net',
        '--',
        'sh',
        '-c',
        'grep -E "^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):" /proc/self/status; ls /proc/self/fd; echo HOME=$HOME USER=$USER SECRETS=$(env | grep -c NSX_SECRET)',
      ],
      { user: user.name, env: { NSX_SECRET: 'leak' } },
    );
    assert.equal(r.code, 0, r.stderr);
    const uid = String(user.uid);
    assert.match(r.stdout, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'));
    const nsxGid = spawnSync('getent', ['group', 'nsx'], { encoding: 'utf8' }).stdout.split(':')[2];
    assert.match(r.stdout, new RegExp(`^Groups:.*\\b${nsxGid}\\b`, 'm'), 'supplementary groups from the host');
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'])
      assert.match(r.stdout, new RegExp(`^${set}:\\s+0000000000000000$`, 'm'));
    assert.match(r.stdout, /^NoNewPrivs:\s+1$/m);
    const fds = r.stdout.split('\n').filter((l) => /^\d+$/.test(l));
    assert.deepEqual(fds, ['0', '1', '2', '3'], 'stdio and the fd ls reads /proc/self/fd with');
    assert.match(
      r.stdout,
      new RegExp(`HOME=/home/${user.name} USER=${user.name} SECRETS=0`),
      'only allowlisted variables reach the shell',
    );
  });

  it('refuses a root shell to a user the policy does not grant one, whatever it sends', async () => {
    const r = nsx(daemon, ['enter', String(target.pid), '--root', '--', 'id', '-u'], { user: user.name });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /may not open root shells/);
    const iso = nsx(daemon, ['isolate', '--root', '--', 'id', '-u'], { user: user.name });
    assert.match(iso.stderr, /may not open root shells/);
    // Trying to smuggle identity or a path through the request changes nothing.
    const sneaky = nsx(daemon, ['enter', String(target.pid), '-t', 'uts', '--', 'id', '-u'], {
      user: user.name,
      env: { HOME: '/root', USER: 'root', LD_PRELOAD: '/tmp/x.so' },
    });
    assert.equal(sneaky.stdout.trim(), String(user.uid));
    await waitFor(
      () => /action=terminal\/open uid=\d+ user=\S+ target=pid:\d+ root=true result=refused/.test(daemon.log()),
      5000,
      'the refusal audited',
    );
  });

  it("starts a non-root user's isolated shell in a user namespace it owns, as root inside", () => {
    const r = nsx(
      daemon,
      [
        'isolate',
        '--hostname',
        'sandbox',
        '--',
        'sh',
        '-c',
        'id -u; hostname; ps -e -o pid=,comm=; ip -o link; cat /proc/self/uid_map',
      ],
      { user: user.name },
    );
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n').map((l) => l.trim());
    assert.equal(lines[0], '0');
    assert.equal(lines[1], 'sandbox');
    assert.match(r.stdout, /^\s*1 nsx-exec$/m, "pid 1 is the session's init");
    assert.match(r.stdout, /^\s*2 sh$/m, 'the shell is its child');
    assert.match(r.stdout, /lo: <LOOPBACK,UP,LOWER_UP>/);
    assert.match(r.stdout, new RegExp(`^\\s*0\\s+${user.uid}\\s+1$`, 'm'));
  });

  it('nsx is interactive on a terminal: a pty of its size, and the exit code of the shell', async () => {
    // script gives nsx a terminal; nsx asks nsxd for a pty the same size.
    const inner = `${NSX} --socket ${daemon.socket} enter ${target.pid} -t uts -- sh -c 'tty; stty size; hostname; exit 4'`;
    // script's own stdin stays open until it ends, so that it types nothing into the session.
    const script = spawn('script', ['-qec', `stty rows 31 cols 97; ${inner}`, '/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    script.stdout.on('data', (d) => {
      out += d;
    });
    script.stderr.on('data', (d) => {
      out += d;
    });
    const status = await new Promise<number | null>((resolve) => script.once('exit', resolve));
    script.stdin.end();
    const r = { status, stdout: out, stderr: '' };
    assert.equal(r.status, 4, r.stdout + r.stderr);
    assert.match(r.stdout, /^\/dev\/pts\/\d+\r?$/m);
    assert.match(r.stdout, /^31 97\r?$/m);
    assert.match(r.stdout, /^nsx-target\r?$/m);
  });

  it('runs full-screen programs: less draws, pages, follows a resize and quits', async () => {
    const tmux = (...args: string[]) => spawnSync('tmux', ['-L', `nsx${process.pid}`, ...args], { encoding: 'utf8' });
    const screen = () => tmux('capture-pane', '-p', '-t', 'fs').stdout;
    const lines = Array.from({ length: 200 }, (_, i) => `line ${i + 1}`).join('\n');
    tmux(
      'new-session',
      '-d',
      '-s',
      'fs',
      '-x',
      '90',
      '-y',
      '25',
      `${NSX} --socket ${daemon.socket} enter ${target.pid} -t uts -- sh -c 'printf "${lines}\\n" | less; stty size; sleep 30'`,
    );
    try {
      await waitFor(
        () => /^line 1\s*$/m.test(screen()) && /^line 24\s*$/m.test(screen()),
        10_000,
        'less to draw its first page',
      );
      tmux('send-keys', '-t', 'fs', 'G');
      await waitFor(() => /^line 200\s*$/m.test(screen()), 10_000, 'less to page to the end');
      tmux('resize-window', '-t', 'fs', '-x', '70', '-y', '15');
      tmux('send-keys', '-t', 'fs', 'q');
      await waitFor(() => /^15 70\s*$/m.test(screen()), 10_000, `stty to see the resize, screen:\n${screen()}`);
    } finally {
      tmux('kill-server');
    }
  });

  it('pipes stdin through and keeps stdout and stderr apart', () => {
    const r = nsx(daemon, ['isolate', '-t', 'uts', '--', 'sh', '-c', 'tr a-z A-Z; echo oops >&2'], {
      input: 'hello\n',
    });
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'HELLO\n');
    assert.equal(r.stderr, 'oops\n');
  });

  it('on a pty: stty size follows resize, Ctrl-C interrupts, exit code is reported', async () => {
    const c = await daemon.client();
    try {
      const s = await ptySession(c, { target: { pid: target.pid }, types: ['uts'] });
      assert.match(s.opened.title, /^uts:\[\d+\] sleep \(\d+\)$/);
      assert.match(await s.run('stty size', 'MARK1'), /24 80/);
      void c.conn.sendNotification(TerminalResize, { session: s.opened.session, cols: 132, rows: 43 });
      assert.match(await s.run('stty size', 'MARK2'), /43 132/);
      await s.type('sleep 100\r');
      await new Promise((r) => setTimeout(r, 300));
      await s.type('\x03');
      assert.match(await s.run('echo status=$?', 'MARK3'), /status=130/);
      await s.type('exit 5\r');
      await waitFor(() => s.exit() !== undefined, 10_000, 'the exit notification');
      assert.equal(s.exit(), 5);
    } finally {
      c.close();
    }
  });

  it('closing a session kills its whole process tree, daemonized children too', async () => {
    const c = await daemon.client();
    try {
      const s = await ptySession(c, {
        types: ['uts'],
        command: ['sh', '-c', 'setsid sleep 1234 & nohup sleep 1235 >/dev/null 2>&1 & echo started; sleep 1236'],
      });
      await waitFor(() => s.screen().includes('started'));
      await waitFor(() => ['1234', '1235', '1236'].every((n) => spawnSync('pgrep', ['-f', `sleep ${n}`]).status === 0));
      void c.conn.sendNotification(TerminalClose, { session: s.opened.session });
      await waitFor(
        () => ['1234', '1235', '1236'].every((n) => spawnSync('pgrep', ['-f', `sleep ${n}`]).status !== 0),
        10_000,
        'every process of the session gone',
      );
    } finally {
      c.close();
    }
  });

  it('a client that disconnects leaves no shell behind', async () => {
    const c = await daemon.client();
    await ptySession(c, { types: ['uts', 'ipc'], command: ['sleep', '1237'] });
    await waitFor(() => spawnSync('pgrep', ['-f', 'sleep 1237']).status === 0);
    c.socket.destroy();
    await waitFor(
      () => spawnSync('pgrep', ['-f', 'sleep 1237']).status !== 0,
      10_000,
      'the session gone with its client',
    );
  });

  it('a recycled or moved pid cannot redirect a session: the inodes the client saw are checked', async () => {
    const c = await daemon.client();
    try {
      await assert.rejects(
        c.conn.sendRequest(TerminalOpen, {
          target: { pid: target.pid, inodes: { net: nsInode('self', 'net') } },
          command: ['true'],
        }),
        /is no longer in net:\[\d+\]/,
      );
    } finally {
      c.close();
    }
  });

  it('100 sessions leave the daemon with as many fds as before', async () => {
    const before = fdCount(daemon.proc.pid!);
    const c = await daemon.client();
    try {
      for (let i = 0; i < 100; i++) {
        const s = await ptySession(c, { target: { pid: target.pid }, command: ['true'] });
        await waitFor(() => s.exit() !== undefined, 10_000, `session ${i} to end`);
      }
    } finally {
      c.close();
    }
    await waitFor(
      () => fdCount(daemon.proc.pid!) === before,
      5000,
      `fd count back to ${before} (now ${fdCount(daemon.proc.pid!)})`,
    );
  });
});
