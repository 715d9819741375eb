// Ports (issue 23), for real: a --network none podman container (or, without
// podman, an `unshare -n` namespace) with a web server on its loopback's
// 8080. nsx ports shows it with its container and process; nsx forward
// reaches it from the host; another local user's connection to the forward
// is refused; the forward and its helper are gone when its client quits;
// an outsider may not forward; hostile process names are escaped.
import assert from 'node:assert/strict';
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { PortsListResult } from '../../helper/common/ports';
import { Engine, podman } from '../engines';
import { comm, createUser, Daemon, descendants, NSX, nsx, startDaemon, waitFor } from '../support';

const web = `p23web${process.pid}`;
const PAGE = 'p23-ok';

/** GET / through 127.0.0.1:port: the body, or the error's code. */
function get(port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code}`));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Whether a TCP socket of the host listens on 127.0.0.1:port (state 0A in /proc/net/tcp). */
function listening(port: number): boolean {
  const hex = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .some((l) => l.trim().split(/\s+/)[1] === hex && l.trim().split(/\s+/)[3] === '0A');
}

interface Running {
  proc: ChildProcess;
  hostPort: number;
  out(): string;
}

/** `nsx forward ARGS...` as root or a user, running until killed; resolves once it says where it listens. */
async function forward(daemon: Daemon, args: string[], user?: string): Promise<Running> {
  const argv = [NSX, '--socket', daemon.socket, 'forward', ...args];
  const cmd = user ? ['runuser', '-u', user, '--', ...argv] : argv;
  const proc = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const m = await waitFor(
    () => /forwarding 127\.0\.0\.1:(\d+) → /.exec(out) ?? (proc.exitCode !== null && ['', '0']),
    15_000,
    `nsx forward: ${out}`,
  );
  return { proc, hostPort: Number(m[1]), out: () => out };
}

async function quit(r: Running, signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
  if (r.proc.exitCode !== null) return;
  const exited = new Promise((resolve) => r.proc.once('exit', resolve));
  r.proc.kill(signal);
  await exited;
}

function connectors(daemon: Daemon): number[] {
  return descendants(daemon.proc.pid!).filter((pid) => comm(pid) === 'nsx-connect');
}

describe('ports (p23)', () => {
  let daemon: Daemon;
  let pm: Engine | string;
  let held: ChildProcess | undefined;
  /** What people type for the namespace: the container's name, or the pid of the unshared server. */
  let target = '';
  let where = '';
  const running: Running[] = [];
  const users: { remove(): void }[] = [];

  before(async () => {
    pm = await podman();
    const serve = `echo ${PAGE} > /srv/index.html && exec busybox httpd -f -p 127.0.0.1:8080 -h /srv`;
    if (typeof pm !== 'string') {
      pm.run(web, ['--network', 'none'], ['sh', '-c', serve]);
      target = web;
      where = web;
    } else {
      const dir = execFileSync('mktemp', ['-d'], { encoding: 'utf8' }).trim();
      held = spawn('unshare', [
        '-n',
        'sh',
        '-c',
        `ip link set lo up; cd ${dir}; exec busybox httpd -f -p 127.0.0.1:8080 -h ${dir}`,
      ]);
      execFileSync('sh', ['-c', `echo ${PAGE} > ${dir}/index.html`]);
      target = String(held.pid);
      where = '';
    }
    daemon = await startDaemon();
    await waitFor(() => nsx(daemon, ['ports', target]).stdout.includes(':8080'), 15_000, 'the server to listen');
  });
  after(async () => {
    for (const r of running) await quit(r, 'SIGKILL');
    await daemon?.destroy();
    held?.kill('SIGKILL');
    if (typeof pm !== 'string') {
      pm.remove(web);
      pm.stop();
    }
    for (const u of users) u.remove();
  });

  it('nsx ports shows the server with its container and process, and --json says the same', () => {
    const r = nsx(daemon, ['ports']);
    assert.equal(r.code, 0, r.stderr);
    const row = r.stdout.split('\n').find((l) => l.includes('127.0.0.1:8080') && l.includes(where));
    assert.ok(row, r.stdout);
    assert.match(row, /tcp\s+127\.0\.0\.1:8080\s+0\s+busybox \(\d+\)/);
    const json = JSON.parse(nsx(daemon, ['ports', target, '--json']).stdout) as PortsListResult;
    assert.equal(json.namespaces.length, 1);
    const s = json.namespaces[0].sockets.find((x) => x.port === 8080 && x.protocol === 'tcp')!;
    assert.equal(s.address, '127.0.0.1');
    assert.equal(s.processes[0].comm, 'busybox');
    if (where) assert.equal(json.namespaces[0].label, where);
    // The host's own, by its word.
    const host = JSON.parse(nsx(daemon, ['ports', 'host', '--json']).stdout) as PortsListResult;
    assert.deepEqual(
      host.namespaces.map((n) => [n.label, n.initial]),
      [['host', true]],
    );
  });

  it('nsx forward reaches a server that listens only on the namespace loopback, from the host', async () => {
    assert.notEqual(await get(8080), PAGE, 'the host has its own 8080');
    const r = await forward(daemon, [target, '8080']);
    running.push(r);
    assert.match(r.out(), new RegExp(`forwarding 127\\.0\\.0\\.1:\\d+ → ${where || 'pid'}`));
    assert.equal(await get(r.hostPort), `${PAGE}\n`);
    assert.equal(await get(r.hostPort), `${PAGE}\n`, 'a second connection');
    assert.match(daemon.log(), /action=ports\/forward forward=\d+ uid=0 user=root .*result=ok/);
  });

  it("refuses another local user's connection to the forward, and root's to a member's", async () => {
    const other = createUser();
    const member = createUser({ inGroup: true });
    users.push(other, member);
    const r = await forward(daemon, [target, '8080']);
    running.push(r);
    const http = 'GET / HTTP/1.0\r\n\r\n';
    const as = (user: string, port: number) =>
      spawnSync('runuser', ['-u', user, '--', 'busybox', 'nc', '-w', '3', '127.0.0.1', String(port)], {
        input: http,
        encoding: 'utf8',
        timeout: 10_000,
      }).stdout;
    assert.doesNotMatch(as(other.name, r.hostPort), new RegExp(PAGE));
    await waitFor(() => daemon.log().includes(`peerUid=${other.uid} result=refused`), 5000, 'the refusal audited');
    assert.equal(await get(r.hostPort), `${PAGE}\n`, 'the owner still gets through');
    // A member's forward is theirs: root's own connection is refused, the member's gets through.
    const m = await forward(daemon, [target, '8080'], member.name);
    running.push(m);
    assert.doesNotMatch(await get(m.hostPort), new RegExp(PAGE));
    assert.match(as(member.name, m.hostPort), new RegExp(PAGE));
  });

  it('checks an IPv6 socket that dials the forward as ::ffff:127.0.0.1 by its owner too', async () => {
    const other = createUser();
    users.push(other);
    const r = await forward(daemon, [target, '8080']);
    running.push(r);
    const py = `import socket;s=socket.socket(socket.AF_INET6);s.settimeout(3);s.connect(("::ffff:127.0.0.1",${r.hostPort}));s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
d=b""
try:
  while True:
    c=s.recv(4096)
    if not c: break
    d+=c
except Exception: pass
print(d.decode(errors="replace"))`;
    const as = (user?: string) =>
      spawnSync(
        user ? 'runuser' : '/usr/bin/python3',
        [...(user ? ['-u', user, '--', '/usr/bin/python3'] : []), '-c', py],
        {
          encoding: 'utf8',
          timeout: 10_000,
        },
      ).stdout;
    assert.match(as(), new RegExp(PAGE));
    assert.doesNotMatch(as(other.name), new RegExp(PAGE));
    await waitFor(() => daemon.log().includes(`peerUid=${other.uid} result=refused`), 5000, 'the refusal audited');
  });

  it("gives the helper nothing but its pipes and its channel, as nobody, and no session a forward's fds", async () => {
    const r = await forward(daemon, [target, '8080']);
    running.push(r);
    const helper = connectors(daemon).at(-1)!;
    assert.deepEqual(readdirSync(`/proc/${helper}/fd`).sort(), ['0', '1', '2', '3']);
    assert.match(readFileSync(`/proc/${helper}/status`, 'utf8'), /^Uid:\t65534\t65534\t65534\t65534$/m);
    assert.match(readFileSync(`/proc/${helper}/status`, 'utf8'), /^NoNewPrivs:\t1$/m);
    // A connection open through it while a shell starts: the shell holds only its stdio.
    const held = tcpConnect({ host: '127.0.0.1', port: r.hostPort });
    try {
      await new Promise((resolve) => held.once('connect', resolve));
      const shell = nsx(daemon, ['isolate', '-t', 'uts', '--', 'sh', '-c', 'ls /proc/$$/fd']);
      assert.equal(shell.code, 0, shell.stderr);
      assert.deepEqual(shell.stdout.trim().split(/\s+/).sort(), ['0', '1', '2']);
    } finally {
      held.destroy();
    }
  });

  it('ends the forward, its port and its helper when its client quits (Ctrl-C or killed)', async () => {
    for (const signal of ['SIGINT', 'SIGKILL'] as const) {
      const r = await forward(daemon, [target, '8080']);
      const before = connectors(daemon).length;
      assert.ok(before >= 1);
      assert.ok(listening(r.hostPort));
      await quit(r, signal);
      await waitFor(() => !listening(r.hostPort), 5000, 'the port to close');
      await waitFor(() => connectors(daemon).length === before - 1, 5000, 'the helper to go');
      assert.match(daemon.log(), /action=ports\/unforward .*result=closed reason="its client went away"/);
    }
  });

  it('keeps a forward with --keep until nsx unforward', async () => {
    const r = nsx(daemon, ['forward', '--keep', target, '8080']);
    assert.equal(r.code, 0, r.stderr);
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(r.stdout)![1]);
    const id = /unforward (\d+)/.exec(r.stdout)![1];
    assert.equal(await get(port), `${PAGE}\n`);
    assert.match(nsx(daemon, ['forwards']).stdout, new RegExp(`^${id} +root +yes`, 'm'));
    assert.equal(nsx(daemon, ['unforward', id]).code, 0);
    await waitFor(() => !listening(port), 5000, 'the kept port to close');
  });

  it('refuses an outsider, a member below port 1024 or for every user, and a busy host port', async () => {
    const outsider = createUser();
    const member = createUser({ inGroup: true });
    users.push(outsider, member);
    // The socket's mode stops an outsider first; one that carries the group's gid without being a member, nsxd.
    const o = nsx(daemon, ['forward', target, '8080'], { user: outsider.name });
    assert.equal(o.code, 1);
    assert.match(o.stderr, /permission denied/);
    const argv = ['--reuid', outsider.name, '--regid', 'nsx', '--clear-groups', NSX, '--socket', daemon.socket];
    const carried = spawnSync('setpriv', [...argv, 'forward', target, '8080'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(carried.status, 1, carried.stderr);
    assert.match(carried.stderr, /access denied: .* is not a member of the group "nsx"/);
    assert.equal(connectors(daemon).length, running.filter((r) => r.proc.exitCode === null).length);
    const low = nsx(daemon, ['forward', target, '8080:999'], { user: member.name });
    assert.match(low.stderr, /only root may forward to a host port below 1024/);
    const every = nsx(daemon, ['forward', '--any-user', target, '8080'], { user: member.name });
    assert.match(every.stderr, /only root may open a forward every local user can use/);
    const refused = new RegExp(`action=ports/forward uid=${member.uid} .*result=refused reason="only root may open`);
    await waitFor(() => refused.test(daemon.log()), 5000, 'the refusal audited');
    const r = await forward(daemon, [target, '8080']);
    running.push(r);
    const busy = nsx(daemon, ['forward', target, `8080:${r.hostPort}`]);
    assert.match(busy.stderr, /is in use on the host/);
    assert.equal(connectors(daemon).length, running.filter((x) => x.proc.exitCode === null).length);
  });

  it("lets every local user through root's --any-user forward", async () => {
    const other = createUser();
    users.push(other);
    const r = await forward(daemon, ['--any-user', target, '8080']);
    running.push(r);
    const got = spawnSync(
      'runuser',
      ['-u', other.name, '--', 'busybox', 'nc', '-w', '3', '127.0.0.1', String(r.hostPort)],
      {
        input: 'GET / HTTP/1.0\r\n\r\n',
        encoding: 'utf8',
        timeout: 10_000,
      },
    );
    assert.match(got.stdout, new RegExp(PAGE));
  });

  it('refuses a name that is both a container and an ip netns name, rather than guess', async (t) => {
    if (typeof pm === 'string') return t.skip(pm);
    // Another user's rootless container could take the name of a namespace a member means: never a guess.
    execFileSync('ip', ['netns', 'add', web]);
    try {
      const r = nsx(daemon, ['forward', web, '8080']);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(`${web} is both a container and a net pin or ip netns name: say container:${web}`),
      );
      const c = nsx(daemon, ['ports', `container:${web}`]);
      assert.match(c.stdout, /127\.0\.0\.1:8080/);
      assert.equal(nsx(daemon, ['ports', `pin:${web}`]).code, 0);
    } finally {
      spawnSync('ip', ['netns', 'del', web]);
    }
  });

  it('connects to the address asked for inside (--address), and a connection that fails inside is closed and audited', async () => {
    const dir = execFileSync('mktemp', ['-d', '/tmp/p23-addr-XXXXXX'], { encoding: 'utf8' }).trim();
    execFileSync('sh', ['-c', `echo ${PAGE} > ${dir}/index.html`]);
    const serve = `ip link set lo up; ip addr add 10.123.0.1/32 dev lo; exec busybox httpd -f -p 10.123.0.1:8081 -h ${dir}`;
    const proc = spawn('unshare', ['-n', 'sh', '-c', serve], { stdio: 'ignore' });
    try {
      await waitFor(
        () => nsx(daemon, ['ports', String(proc.pid)]).stdout.includes('10.123.0.1:8081'),
        10_000,
        'the server',
      );
      const r = await forward(daemon, ['--address', '10.123.0.1', String(proc.pid), '8081']);
      running.push(r);
      assert.equal(await get(r.hostPort), `${PAGE}\n`);
      const loop = await forward(daemon, [String(proc.pid), '8081']);
      running.push(loop);
      assert.match(await get(loop.hostPort), /^error /);
      await waitFor(
        () =>
          /action=ports\/connection .*result=failed reason="127\.0\.0\.1:8081 inside: connection refused"/.test(
            daemon.log(),
          ),
        5000,
        'the failure audited',
      );
    } finally {
      proc.kill('SIGKILL');
      spawnSync('rm', ['-rf', dir]);
    }
  });

  it('escapes a hostile process name in nsx ports', async () => {
    const evil = 'p23\x1b[2J\u202eevil';
    const py = `import socket,ctypes;ctypes.CDLL(None).prctl(15,${JSON.stringify(evil)}.encode(),0,0,0);s=socket.socket();s.bind(("127.0.0.1",8099));s.listen();import time;time.sleep(60)`;
    const proc = spawn('unshare', ['-n', '/usr/bin/python3', '-c', py], { stdio: 'ignore' });
    try {
      const r = await waitFor(
        () => {
          const out = nsx(daemon, ['ports', String(proc.pid)]);
          return out.stdout.includes(':8099') && out;
        },
        10_000,
        'the hostile listener',
      );
      assert.doesNotMatch(r.stdout, /\x1b|\u202e/);
      assert.match(r.stdout, /p23\\x1b\[2J/);
    } finally {
      proc.kill('SIGKILL');
    }
  });

  it('reads a namespace no process is in (an ip netns name holding a socket) from inside, in nsx ports and details', async () => {
    const name = `p23held${process.pid}`;
    execFileSync('ip', ['netns', 'add', name]);
    // A socket made inside, by a process that then goes back to the host's namespace: nothing of it is in there.
    const py = `import socket,ctypes,os,time
libc=ctypes.CDLL(None)
host=os.open("/proc/self/ns/net",os.O_RDONLY)
assert libc.setns(os.open("/run/netns/${name}",os.O_RDONLY),0x40000000)==0
s=socket.socket();s.bind(("127.0.0.1",9091));s.listen()
assert libc.setns(host,0x40000000)==0
print("ready",flush=True);time.sleep(60)`;
    const proc = spawn('/usr/bin/python3', ['-c', py], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((resolve) => proc.stdout!.once('data', resolve));
      const r = await waitFor(
        () => {
          const out = nsx(daemon, ['ports', name]);
          return out.stdout.includes(':9091') && out;
        },
        10_000,
        'the socket in the held namespace',
      );
      assert.match(r.stdout, new RegExp(`^\\d+ +${name} +tcp +127\\.0\\.0\\.1:9091`, 'm'));
      const inode = /^(\d+)/m.exec(r.stdout.split('\n')[1])![1];
      const d = nsx(daemon, ['details', `net:${inode}`]);
      assert.match(d.stdout, /# listening sockets \(nsx ports\)\ntcp +127\.0\.0\.1:9091/);
    } finally {
      proc.kill('SIGKILL');
      spawnSync('ip', ['netns', 'del', name]);
    }
  });

  it('leaves no helper when nsxd itself is killed', async () => {
    const r = await forward(daemon, [target, '8080']);
    running.push(r);
    const helpers = connectors(daemon);
    assert.ok(helpers.length >= 1);
    daemon.proc.kill('SIGKILL');
    await waitFor(() => helpers.every((pid) => comm(pid) === undefined), 5000, 'the helpers to die with nsxd');
    await waitFor(() => !listening(r.hostPort), 5000, 'the port to close');
  });
});
