// Pins: namespaces that outlive their processes, fresh persistent ones,
// release, names, ownership, races, and rediscovery after a restart.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateNamespace, PinNamespace, UnpinNamespace } from '../../helper/common/protocol';
import { createUser, Daemon, holdNamespaces, nsInode, nsx, startDaemon, waitFor } from '../support';

const tag = `t${process.pid}`;

function listed(daemon: Daemon, type: string, inode: number) {
  const r = nsx(daemon, ['list', '--json', '-t', type]);
  return (
    JSON.parse(r.stdout).namespaces as {
      inode: number;
      nprocs: number;
      pins: { name: string; by?: { user: string } }[];
      holders: { kind: string; netns?: string }[];
    }[]
  ).find((n) => n.inode === inode);
}

function nsfsMountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(' - nsfs '))
    .map((l) => l.split(' ')[4])
    .filter((p) => p.startsWith(dir));
}

describe('pins', () => {
  let daemon: Daemon;
  let operator: ReturnType<typeof createUser>;
  let other: ReturnType<typeof createUser>;
  before(async () => {
    daemon = await startDaemon();
    operator = createUser({ inGroup: true });
    other = createUser({ inGroup: true });
  });
  after(async () => {
    for (const name of [`${tag}-uts`, `${tag}-own`]) nsx(daemon, ['unpin', 'uts', name]);
    for (const name of [`${tag}-net`, `${tag}-new`]) nsx(daemon, ['unpin', 'net', name]);
    await daemon.destroy();
    operator.remove();
    other.remove();
  });

  it('keeps a uts namespace alive after its processes die, joinable, with its hostname', async () => {
    const held = await holdNamespaces(['--uts'], 'hostname pinned-host; exec sleep 600');
    const inode = nsInode(held.pid, 'uts');
    const r = nsx(daemon, ['pin', String(held.pid), 'uts', `${tag}-uts`]);
    assert.equal(r.code, 0, r.stderr);
    held.kill();
    const ns = await waitFor(() => {
      const n = listed(daemon, 'uts', inode);
      return n && n.nprocs === 0 ? n : undefined;
    });
    assert.equal(ns.pins[0].name, `${tag}-uts`);
    assert.equal(ns.pins[0].by?.user, 'root');
    const inside = nsx(daemon, [
      'enter',
      '--pin',
      `uts/${tag}-uts`,
      '--',
      'sh',
      '-c',
      'hostname; readlink /proc/self/ns/uts',
    ]);
    assert.equal(inside.code, 0, inside.stderr);
    assert.equal(inside.stdout, `pinned-host\nuts:[${inode}]\n`);
  });

  it('mirrors a net pin in /run/netns so that ip netns exec works, with what the process left', async () => {
    const held = await holdNamespaces(['--net'], 'ip link add nsxpin0 type veth peer name nsxpin1; exec sleep 600');
    const r = nsx(daemon, ['pin', String(held.pid), 'net', `${tag}-net`]);
    assert.equal(r.code, 0, r.stderr);
    held.kill();
    assert.match(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), new RegExp(`^${tag}-net\\b`, 'm'));
    assert.match(
      execFileSync('ip', ['netns', 'exec', `${tag}-net`, 'ip', '-o', 'link'], { encoding: 'utf8' }),
      /nsxpin0/,
    );
  });

  it('unpins: the namespace is gone when nothing else holds it, and the user is told', async () => {
    const held = await holdNamespaces(['--uts']);
    const inode = nsInode(held.pid, 'uts');
    assert.equal(nsx(daemon, ['pin', String(held.pid), 'uts', `${tag}-tmp`]).code, 0);
    const live = nsx(daemon, ['unpin', 'uts', `${tag}-tmp`]);
    assert.match(live.stdout, /lives on, held by 1 process/);
    assert.equal(nsx(daemon, ['pin', String(held.pid), 'uts', `${tag}-tmp`]).code, 0);
    held.kill();
    await waitFor(() => listed(daemon, 'uts', inode)?.nprocs === 0);
    const gone = nsx(daemon, ['unpin', 'uts', `${tag}-tmp`]);
    assert.match(gone.stdout, /nothing else holds .* so it is gone/);
    assert.equal(listed(daemon, 'uts', inode), undefined);
    assert.equal(existsSync(join(daemon.dir, 'pins', 'uts', `${tag}-tmp`)), false);
  });

  it('creates an empty persistent net namespace with loopback up', () => {
    const r = nsx(daemon, ['pin', '--new', 'net', `${tag}-new`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      execFileSync('ip', ['netns', 'exec', `${tag}-new`, 'ip', '-o', 'link'], { encoding: 'utf8' }),
      /lo: <LOOPBACK,UP,LOWER_UP>/,
    );
    for (const type of ['uts', 'ipc', 'user', 'mnt', 'cgroup', 'time']) {
      const made = nsx(daemon, ['pin', '--new', type, `${tag}-new-${type}`]);
      assert.equal(made.code, 0, `${type}: ${made.stderr}`);
      assert.equal(nsx(daemon, ['unpin', type, `${tag}-new-${type}`]).code, 0);
    }
  });

  it('refuses bad names, names in use and vanished processes, changing nothing', async () => {
    const held = await holdNamespaces(['--uts']);
    try {
      const before = readdirSync(join(daemon.dir, 'pins', 'uts')).sort();
      const c = await daemon.client();
      try {
        for (const name of ['..', '.', 'a/b', '../../etc/x', 'a\0b', 'x'.repeat(65), '', '-x', 'Upper', 'sp ace']) {
          await assert.rejects(
            c.conn.sendRequest(PinNamespace, { pid: held.pid, type: 'uts', name }),
            /bad pin name/,
            JSON.stringify(name),
          );
        }
        await assert.rejects(
          c.conn.sendRequest(PinNamespace, { pid: held.pid, type: 'nope' as never, name: 'ok' }),
          /not a namespace type/,
        );
        await assert.rejects(
          c.conn.sendRequest(PinNamespace, { pid: 999_999, type: 'uts', name: `${tag}-gone` }),
          /does not exist/,
        );
        await assert.rejects(
          c.conn.sendRequest(PinNamespace, { pid: held.pid, type: 'uts', name: `${tag}-uts` }),
          /in use/,
        );
        await assert.rejects(
          c.conn.sendRequest(PinNamespace, { pid: held.pid, type: 'uts', name: `${tag}-moved`, inode: 12345 }),
          /no longer in uts/,
        );
        await assert.rejects(
          c.conn.sendRequest(UnpinNamespace, { type: 'uts', name: `${tag}-never` }),
          /there is no pin/,
        );
        await assert.rejects(
          c.conn.sendRequest(CreateNamespace, { type: 'pid', name: `${tag}-pid` }),
          /cannot outlive its first process/,
        );
      } finally {
        c.close();
      }
      assert.deepEqual(readdirSync(join(daemon.dir, 'pins', 'uts')).sort(), before);
    } finally {
      held.kill();
    }
  });

  it('never mounts outside the pin directory, even when the name is swapped for a symlink', async () => {
    const outside = join(daemon.dir, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'victim'), 'x');
    const pinPath = join(daemon.dir, 'pins', 'uts', `${tag}-race`);
    const held = await holdNamespaces(['--uts']);
    try {
      // A symlink already in place: O_EXCL refuses it.
      symlinkSync(join(outside, 'victim'), pinPath);
      assert.match(nsx(daemon, ['pin', String(held.pid), 'uts', `${tag}-race`]).stderr, /in use/);
      rmSync(pinPath);
      // A swapper racing the daemon: whatever wins, nothing may be mounted outside.
      const swapper = spawnSync(
        'sh',
        [
          '-c',
          `for i in $(seq 1 3000); do ln -sfn ${outside}/victim ${pinPath}.l 2>/dev/null; mv -f ${pinPath}.l ${pinPath} 2>/dev/null; rm -f ${pinPath}; done &
        for i in $(seq 1 40); do ${process.execPath} ${join(__dirname, '../../nsx.js')} --socket ${daemon.socket} pin ${held.pid} uts ${tag}-race >/dev/null 2>&1 && ${process.execPath} ${join(__dirname, '../../nsx.js')} --socket ${daemon.socket} unpin uts ${tag}-race >/dev/null 2>&1; done; wait`,
        ],
        { encoding: 'utf8', timeout: 120_000 },
      );
      assert.equal(swapper.status, 0);
      assert.deepEqual(nsfsMountsUnder(outside), []);
      assert.equal(readFileSync(join(outside, 'victim'), 'utf8'), 'x');
    } finally {
      held.kill();
      nsx(daemon, ['unpin', 'uts', `${tag}-race`]);
      rmSync(pinPath, { force: true });
    }
  });

  it('lets an operator unpin their own pins only, unless the policy makes them an admin', async () => {
    const held = await holdNamespaces(['--uts']);
    try {
      const mine = nsx(daemon, ['pin', String(held.pid), 'uts', `${tag}-own`], { user: operator.name });
      assert.equal(mine.code, 0, mine.stderr);
      assert.match(
        nsx(daemon, ['unpin', 'uts', `${tag}-own`], { user: other.name }).stderr,
        /only unpin your own pins .*pinned it/,
      );
      assert.equal(nsx(daemon, ['unpin', 'uts', `${tag}-own`], { user: operator.name }).code, 0);
      assert.equal(nsx(daemon, ['pin', String(held.pid), 'uts', `${tag}-own`], { user: operator.name }).code, 0);
    } finally {
      held.kill();
    }
    await daemon.stop();
    daemon = await startDaemon({ dir: daemon.dir, policy: { admins: [other.name] } });
    assert.equal(nsx(daemon, ['unpin', 'uts', `${tag}-own`], { user: other.name }).code, 0);
  });

  it("a name reused for another namespace is not its old pinner's to release", async () => {
    const held = await holdNamespaces(['--net']);
    try {
      assert.equal(nsx(daemon, ['pin', String(held.pid), 'net', `${tag}-reuse`], { user: operator.name }).code, 0);
      // Root replaces the /run/netns entry with a namespace of its own under the same name.
      execFileSync('ip', ['netns', 'delete', `${tag}-reuse`]);
      execFileSync('ip', ['netns', 'add', `${tag}-reuse`]);
      const roots = Number(execFileSync('stat', ['-L', '-c', '%i', `/run/netns/${tag}-reuse`], { encoding: 'utf8' }));
      const r = nsx(daemon, ['unpin', 'net', `${tag}-reuse`], { user: operator.name });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        Number(execFileSync('stat', ['-L', '-c', '%i', `/run/netns/${tag}-reuse`], { encoding: 'utf8' })),
        roots,
        "root's namespace is still there",
      );
      assert.match(
        nsx(daemon, ['unpin', 'net', `${tag}-reuse`], { user: operator.name }).stderr,
        /an ip netns name that another tool made .*only root or an admin/,
      );
    } finally {
      held.kill();
      spawnSync('ip', ['netns', 'delete', `${tag}-reuse`]);
    }
  });

  it('rediscovers pins after a restart; ip netns add entries are names of another tool, not pins', async () => {
    const held = await holdNamespaces(['--uts', '--net']);
    assert.equal(nsx(daemon, ['pin', String(held.pid), 'uts', `${tag}-again-uts`]).code, 0);
    assert.equal(nsx(daemon, ['pin', String(held.pid), 'net', `${tag}-again-net`]).code, 0);
    held.kill();
    spawnSync('ip', ['netns', 'add', `${tag}-ipnetns`]);
    try {
      await daemon.stop();
      daemon = await startDaemon({ dir: daemon.dir });
      const pins = JSON.parse(nsx(daemon, ['pins', '--json']).stdout).pins as {
        type: string;
        pins: { name: string; by?: { user: string } }[];
      }[];
      const names = pins.flatMap((p) => p.pins.map((x) => `${p.type}/${x.name}`));
      assert.ok(names.includes(`uts/${tag}-again-uts`), names.join(' '));
      assert.ok(names.includes(`net/${tag}-again-net`));
      assert.ok(!names.includes(`net/${tag}-ipnetns`), 'nsxd did not make it');
      const uts = pins.find((p) => p.type === 'uts' && p.pins.some((x) => x.name === `${tag}-again-uts`))!;
      assert.equal(uts.pins[0].by?.user, 'root', 'who pinned it survives the restart');
      const ns = listed(
        daemon,
        'net',
        Number(execFileSync('stat', ['-L', '-c', '%i', `/run/netns/${tag}-ipnetns`], { encoding: 'utf8' })),
      )!;
      assert.deepEqual(ns.pins, []);
      assert.deepEqual(
        ns.holders.filter((h) => h.kind === 'mount').map((h) => h.netns),
        [`${tag}-ipnetns`],
      );
      assert.match(
        nsx(daemon, ['list', '-t', 'net']).stdout,
        new RegExp(`ip netns ${tag}-ipnetns \\(by another tool\\)`),
      );
    } finally {
      spawnSync('ip', ['netns', 'delete', `${tag}-ipnetns`]);
      nsx(daemon, ['unpin', 'uts', `${tag}-again-uts`]);
      nsx(daemon, ['unpin', 'net', `${tag}-again-net`]);
    }
  });

  it('releases an ip netns name that another tool made only for root or an admin, and only with --force', async () => {
    // What podman leaves for a container's network: /run/netns/netns-<uuid>.
    const name = `netns-${tag}-podman`;
    execFileSync('ip', ['netns', 'add', name]);
    try {
      const member = nsx(daemon, ['unpin', 'net', name], { user: operator.name });
      assert.notEqual(member.code, 0);
      assert.match(member.stderr, /another tool made .*only root or an admin/);
      const unconfirmed = nsx(daemon, ['unpin', 'net', name]);
      assert.notEqual(unconfirmed.code, 0);
      assert.match(unconfirmed.stderr, /may still use it. Release it anyway with --force/);
      assert.ok(existsSync(`/run/netns/${name}`), 'refusals change nothing');
      const forced = nsx(daemon, ['unpin', 'net', name, '--force']);
      assert.equal(forced.code, 0, forced.stderr);
      assert.equal(existsSync(`/run/netns/${name}`), false);
      assert.doesNotMatch(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), new RegExp(name));
    } finally {
      spawnSync('ip', ['netns', 'delete', name]);
    }
  });
});
