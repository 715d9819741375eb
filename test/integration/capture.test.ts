// Packet capture, end to end: two network namespaces joined by a veth, a ping
// across it captured on both ends at once by nsx capture (nsxd, nsx-capture),
// the pcapng read back by Debian's tshark. Filters, limits, who may, a client
// killed mid-capture, and interface names chosen to break a terminal.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CaptureInterfaces, CaptureStart } from '../../helper/common/capture';
import { Engine, podman } from '../engines';
import { createUser, Daemon, fdCount, NSX, rootDir, removeDir, startDaemon, waitFor } from '../support';

const A = `c22a${process.pid}`;
const B = `c22b${process.pid}`;
const HOSTILE = 'q"\x01z\x1b';

interface Running {
  pid: number;
  stderr(): string;
  done: Promise<{ code: number | null; stdout: Buffer; stderr: string }>;
}

/** nsx capture ARGS in the background, as root or a user; resolves once it says it is capturing. */
async function capture(daemon: Daemon, args: string[], user?: string): Promise<Running> {
  const argv = [NSX, '--socket', daemon.socket, 'capture', ...args];
  const cmd = user ? ['runuser', '-u', user, '--', ...argv] : argv;
  const proc = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  proc.stdout.on('data', (d: Buffer) => out.push(d));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<{ code: number | null; stdout: Buffer; stderr: string }>((resolve) =>
    proc.once('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err })),
  );
  let finished = false;
  void done.then(() => (finished = true));
  await waitFor(() => err.includes('capturing on') || finished, 15_000, `nsx capture to start: ${err}`);
  return { pid: proc.pid!, stderr: () => err, done };
}

function ping(from: string, count = 2): void {
  execFileSync('ip', ['netns', 'exec', from, 'ping', '-c', String(count), '-i', '0.2', '-W', '1', '10.222.22.2']);
}

/** Each packet's interface name and ICMP type, as tshark reads the file. */
function readBack(file: string): string[][] {
  return execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.interface_name', '-e', 'icmp.type'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  })
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t'));
}

describe('nsx capture', { concurrency: false }, () => {
  let daemon: Daemon;
  let dir: string;

  before(async () => {
    for (const ns of [A, B]) execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['link', 'add', 'veth0', 'netns', A, 'type', 'veth', 'peer', 'name', 'veth0', 'netns', B]);
    execFileSync('ip', ['-n', A, 'addr', 'add', '10.222.22.1/24', 'dev', 'veth0']);
    execFileSync('ip', ['-n', B, 'addr', 'add', '10.222.22.2/24', 'dev', 'veth0']);
    for (const ns of [A, B]) execFileSync('ip', ['-n', ns, 'link', 'set', 'veth0', 'up']);
    daemon = await startDaemon();
    dir = rootDir('c22-capture-');
    chmodSync(dir, 0o1777);
  });
  after(async () => {
    await daemon?.destroy();
    for (const ns of [A, B]) spawnSync('ip', ['netns', 'del', ns]);
    if (dir) removeDir(dir);
  });

  it('captures a ping on both ends of a veth at once, into one pcapng with both interfaces named', async () => {
    const file = join(dir, 'both.pcapng');
    const run = await capture(daemon, [
      `pin:${A}`,
      '-i',
      'veth0',
      `pin:${B}`,
      '-i',
      'veth0',
      '-f',
      'icmp',
      '-c',
      '8',
      '-w',
      file,
    ]);
    assert.match(run.stderr(), new RegExp(`capturing on veth0@${A}, veth0@${B}`));
    ping(A);
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /8 packets captured, 0 dropped/);
    const rows = readBack(file);
    for (const ns of [A, B])
      for (const type of ['8', '0'])
        assert.ok(
          rows.some(([name, t]) => name === `veth0@${ns}` && t === type),
          `ICMP type ${type} on veth0@${ns} in ${JSON.stringify(rows)}`,
        );
    assert.match(daemon.log(), /action=capture\/start uid=0 user=root target=.*result=ok/);
    await waitFor(() => /action=capture\/end .*reason=count packets=8/.test(daemon.log()), 5000, 'the end audited');
  });

  it('captures nothing a filter excludes, and stops after -G seconds', async () => {
    const file = join(dir, 'filtered.pcapng');
    const run = await capture(daemon, [`pin:${A}`, '-i', 'veth0', '-f', 'not icmp', '-G', '2', '-w', file]);
    ping(A);
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    await waitFor(() => /action=capture\/end .*reason=seconds/.test(daemon.log()), 5000, 'the end audited');
    const rows = readBack(file);
    assert.deepEqual(
      rows.filter(([, t]) => t !== ''),
      [],
      'no ICMP',
    );
  });

  it('refuses a filter that does not parse, in libpcap words, and leaves no file', async () => {
    const file = join(dir, 'never.pcapng');
    const r = await (await capture(daemon, [`pin:${A}`, '-f', 'icmp and (', '-w', file])).done;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /nsx: bad filter: .*syntax error/);
    assert.ok(!existsSync(file), 'no file is left');
  });

  it('stops at -c COUNT', async () => {
    const file = join(dir, 'count.pcapng');
    const run = await capture(daemon, [`pin:${B}`, '-i', 'veth0', '-f', 'icmp', '-c', '1', '-w', file]);
    ping(A, 3);
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /1 packet captured/);
    assert.equal(readBack(file).length, 1);
  });

  it("streams to stdout with -w -, for a member, as the member's own file", async () => {
    const member = createUser({ inGroup: true });
    try {
      const run = await capture(daemon, [`pin:${A}`, '-i', 'veth0', '-f', 'icmp', '-c', '2', '-w', '-'], member.name);
      ping(A);
      const r = await run.done;
      assert.equal(r.code, 0, r.stderr);
      const file = join(dir, 'member.pcapng');
      execFileSync('sh', ['-c', `cat > ${file}`], { input: r.stdout });
      assert.deepEqual(
        readBack(file).map(([, t]) => t),
        ['8', '0'],
      );
      assert.match(daemon.log(), new RegExp(`action=capture/start uid=${member.uid} user=${member.name} .*result=ok`));
    } finally {
      member.remove();
    }
  });

  it('refuses an outsider with a sentence that says why', async () => {
    const outsider = createUser();
    try {
      const r = await (await capture(daemon, [`pin:${A}`, '-w', '-'], outsider.name)).done;
      assert.equal(r.code, 1);
      // Refused by the socket's mode, or by nsxd if it got that far: either way, in words that say why.
      assert.match(
        r.stderr,
        /only root and members of the group "nsx" may use nsxd|is not a member of the group "nsx"/,
      );
      assert.equal(r.stdout.length, 0);
    } finally {
      outsider.remove();
    }
  });

  it('stops on ^C and keeps what was captured, readable by tcpdump as it streams', async () => {
    const run = await capture(daemon, [`pin:${A}`, '-i', 'veth0', '-f', 'icmp', '-w', '-']);
    ping(A);
    await waitFor(() => fdCount(run.pid) > 0 && run, 1000);
    process.kill(run.pid, 'SIGINT');
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /4 packets captured, 0 dropped/);
    await waitFor(() => /action=capture\/end .*reason=stopped packets=4/.test(daemon.log()), 5000, 'the end audited');
    const text = execFileSync('tcpdump', ['-r', '-', '-nn'], { input: r.stdout, encoding: 'utf8', stdio: 'pipe' });
    assert.match(text, /10\.222\.22\.1 > 10\.222\.22\.2: ICMP echo request/);
    assert.match(text, /10\.222\.22\.2 > 10\.222\.22\.1: ICMP echo reply/);
  });

  it('lists the interfaces of a namespace for a pick, capturing nothing', async () => {
    const client = await daemon.client();
    try {
      const list = await client.conn.sendRequest(CaptureInterfaces, {
        targets: [{ target: { pin: { type: 'net', name: B } } }],
      });
      assert.deepEqual(
        list.map((i) => [i.name, i.where, i.linktype]),
        [
          ['lo', B, 1],
          ['veth0', B, 1],
        ],
      );
    } finally {
      client.close();
    }
    assert.equal(spawnSync('pgrep', ['-f', `nsx-capture .*:${B}`]).status, 1, 'no nsx-capture left');
  });

  it('runs nsx-capture as nobody, without capabilities, fds to open, or system calls to send with', async () => {
    const run = await capture(daemon, [`pin:${B}`, '-G', '2', '-w', '/dev/null']);
    const pid = spawnSync('pgrep', ['-f', `nsx-capture .*--ns [0-9]+:${B}`], { encoding: 'utf8' }).stdout.trim();
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1].trim();
    assert.match(field('Uid')!, /^65534\s+65534\s+65534\s+65534$/);
    assert.match(field('Gid')!, /^65534\s+65534\s+65534\s+65534$/);
    for (const caps of ['CapPrm', 'CapEff', 'CapAmb']) assert.equal(field(caps), '0000000000000000', caps);
    assert.equal(field('NoNewPrivs'), '1');
    assert.equal(field('Seccomp'), '2', 'a seccomp filter');
    assert.match(readFileSync(`/proc/${pid}/limits`, 'utf8'), /^Max open files\s+0\s+0/m);
    // Only its stdio, its status fd, its sockets and its epoll: no namespace fd is kept.
    const fds = execFileSync('ls', ['-l', `/proc/${pid}/fd`], { encoding: 'utf8' });
    assert.doesNotMatch(fds, /net:\[/);
    assert.equal((await run.done).code, 0);
  });

  it('says so when nsxd goes mid-capture, and keeps what was written', async () => {
    const own = await startDaemon();
    try {
      const file = join(dir, 'gone.pcapng');
      const run = await capture(own, [`pin:${A}`, '-i', 'veth0', '-w', file]);
      await own.stop();
      const r = await run.done;
      assert.equal(r.code, 1);
      assert.match(r.stderr, /nsx: nsxd closed the connection before the capture ended\n$/);
      assert.deepEqual(readBack(file), [], 'a pcapng with its interface and no packet, readable');
    } finally {
      await own.destroy();
    }
  });

  it('holds a connection to 4 captures, and refuses a 5th in words, starting nothing', async () => {
    const client = await daemon.client();
    const running = () => spawnSync('pgrep', ['-f', `nsx-capture .*:${B}`], { encoding: 'utf8' }).stdout.trim();
    try {
      const start = () =>
        client.conn.sendRequest(CaptureStart, {
          targets: [{ target: { pin: { type: 'net', name: B } } }],
          seconds: 30,
        });
      for (let i = 0; i < 4; i++) await start();
      await assert.rejects(start(), /at most 4 captures per connection/);
      assert.equal(running().split('\n').length, 4);
    } finally {
      client.close();
    }
    await waitFor(() => running() === '', 10_000, 'every capture to end with its connection');
  });

  it('leaves no capture process and no fd behind when its client is killed', async () => {
    const fds = fdCount(daemon.proc.pid!);
    const run = await capture(daemon, [`pin:${A}`, `pin:${B}`, '-w', '/dev/null']);
    const capturer = () =>
      spawnSync('pgrep', ['-f', `nsx-capture .*--ns [0-9]+:${A}`], { encoding: 'utf8' }).stdout.trim();
    assert.ok(capturer(), 'nsx-capture runs');
    process.kill(run.pid, 'SIGKILL');
    await run.done;
    await waitFor(() => capturer() === '', 10_000, 'nsx-capture to go');
    await waitFor(() => fdCount(daemon.proc.pid!) <= fds, 10_000, "nsxd's fds to be closed");
  });

  it('waits out an interface that is down, captures once it is up, and ends when its interfaces are gone', async () => {
    execFileSync('ip', ['-n', A, 'link', 'add', 'c22up', 'type', 'veth', 'peer', 'name', 'c22up2']);
    try {
      const run = await capture(daemon, [`pin:${A}`, '-i', 'c22up', '-G', '20', '-w', '/dev/null']);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(run.stderr().includes('captured'), false, 'still capturing while it is down');
      // Up, both ends: IPv6 says so on the link at once (router solicitations, MLD), or a ping does.
      for (const name of ['c22up', 'c22up2']) execFileSync('ip', ['-n', A, 'link', 'set', name, 'up']);
      execFileSync('ip', ['-n', A, 'addr', 'add', '10.222.26.1/24', 'dev', 'c22up']);
      spawnSync('ip', ['netns', 'exec', A, 'ping', '-c', '1', '-W', '1', '-I', 'c22up', '10.222.26.2']);
      await waitFor(() => /action=capture\/start .*c22up/.test(daemon.log()), 5000);
      execFileSync('ip', ['-n', A, 'link', 'del', 'c22up']);
      const r = await run.done;
      assert.equal(r.code, 0, r.stderr);
      const packets = Number(/(\d+) packets? captured/.exec(r.stderr)?.[1]);
      assert.ok(packets > 0, r.stderr);
      await waitFor(() => /action=capture\/end .*reason="interfaces gone"/.test(daemon.log()), 5000, 'the end audited');
    } finally {
      spawnSync('ip', ['-n', A, 'link', 'del', 'c22up']);
    }
  });

  it('names a namespace given by inode as the tree does (its ip netns name here)', async () => {
    const inode = statSync(`/run/netns/${A}`).ino;
    const r = await (await capture(daemon, [`net:${inode}`, '-i', 'veth0', '-G', '1', '-w', '/dev/null'])).done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`capturing on veth0@${A}\\n`));
  });

  it("captures in the host's namespace by the word host", async () => {
    const file = join(dir, 'host.pcapng');
    const r = await (await capture(daemon, ['host', '-i', 'lo', '-G', '1', '-w', file])).done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /capturing on lo@host\n/);
    assert.match(daemon.log(), /action=capture\/start .*target=host\[lo\] .*result=ok/);
  });

  it("never has nsxd's own traffic in it: nsxd speaks over Unix sockets", async () => {
    // An nsxd alone in a network namespace, whose lo is up: whatever it sends over an interface is there.
    const own = await startDaemon({ wrap: ['unshare', '--net', '--'] });
    try {
      const pid = own.proc.pid!;
      execFileSync('nsenter', ['-t', String(pid), '-n', 'ip', 'link', 'set', 'lo', 'up']);
      const file = join(dir, 'own.pcapng');
      const run = await capture(own, [String(pid), '-i', 'lo', '-G', '2', '-w', file]);
      // Meanwhile nsxd talks: to clients, to the capture it streams, to its helpers.
      for (let i = 0; i < 5; i++) execFileSync(NSX, ['--socket', own.socket, 'list'], { stdio: 'ignore' });
      const r = await run.done;
      assert.equal(r.code, 0, r.stderr);
      // nsxd's own namespace is what it calls the host.
      assert.match(r.stderr, /capturing on lo@host\n/);
      assert.match(r.stderr, /0 packets captured/);
    } finally {
      await own.destroy();
    }
  });

  it('says hostile interface names escaped, and names them as they are in the file', async () => {
    execFileSync('ip', ['-n', A, 'link', 'add', HOSTILE, 'type', 'veth', 'peer', 'name', 'c22peer']);
    try {
      const file = join(dir, 'hostile.pcapng');
      const run = await capture(daemon, [`pin:${A}`, '-c', '1', '-G', '1', '-w', file]);
      const said = run.stderr();
      assert.ok(said.includes(`"q\\"\\x01z\\x1b@${A}"`), said);
      assert.ok(
        !/[\x00-\x08\x0b-\x1f\x7f]/.test(said),
        `no control byte reaches the terminal: ${JSON.stringify(said)}`,
      );
      await run.done;
      const names = readFileSync(file).includes(Buffer.from(`${HOSTILE}@${A}`));
      assert.ok(names, 'the pcapng names the interface with its own bytes');
    } finally {
      spawnSync('ip', ['-n', A, 'link', 'del', HOSTILE]);
    }
  });
});

describe('nsx capture across containers', { concurrency: false }, () => {
  let daemon: Daemon;
  let pm: Engine | string;
  let dir: string;
  const names = [`c22web${process.pid}`, `c22db${process.pid}`];

  before(async () => {
    pm = await podman();
    if (typeof pm !== 'string') for (const n of names) pm.run(n, ['--hostname', n]);
    daemon = await startDaemon();
    dir = rootDir('c22-containers-');
  });
  after(async () => {
    await daemon?.destroy();
    if (typeof pm !== 'string') {
      for (const n of names) pm.remove(n);
      pm.stop();
    }
    if (dir) removeDir(dir);
  });

  it('captures two containers by name into one file with eth0@web and eth0@db', async (t) => {
    if (typeof pm === 'string') return t.skip(pm);
    const ips = names.map((n) =>
      execFileSync('podman', ['inspect', '--format', '{{.NetworkSettings.IPAddress}}', n], { encoding: 'utf8' }).trim(),
    );
    const file = join(dir, 'containers.pcapng');
    const run = await capture(daemon, ['-i', 'eth0', ...names, '-f', 'icmp', '-c', '4', '-w', file]);
    assert.match(run.stderr(), new RegExp(`capturing on eth0@${names[0]}, eth0@${names[1]}`));
    for (const ip of ips) execFileSync('ping', ['-c', '1', '-W', '2', ip], { stdio: 'ignore' });
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    const rows = readBack(file);
    for (const n of names)
      for (const type of ['8', '0'])
        assert.ok(
          rows.some(([name, ty]) => name === `eth0@${n}` && ty === type),
          JSON.stringify(rows),
        );
  });
});
