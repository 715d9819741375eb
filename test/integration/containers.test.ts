// Containers by name, from real engines: podman (its API, and runc's state
// when the API is down) and Docker. The tree's words and `nsx enter NAME`
// come from what the engines say; a rootless engine is believed only about
// its own user's processes.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Container } from '../../helper/common/protocol';
import { docker, Engine, podman } from '../engines';
import { fakeEngine } from '../fake-engine';
import { createUser, Daemon, nsInode, nsx, startDaemon, waitFor } from '../support';

const tag = `nsxt${process.pid}`;

function containers(daemon: Daemon): Container[] {
  const r = nsx(daemon, ['containers', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).containers;
}

describe('containers', () => {
  let daemon: Daemon;
  let pm: Engine | string;
  let dk: Engine | string;
  const web = `${tag}-web`;
  const pod = `${tag}-pod`;
  const quiet = `${tag}-quiet`;
  const db = `${tag}-db`;
  before(async () => {
    [pm, dk] = [await podman(), await docker()];
    if (typeof pm !== 'string') {
      // In a pod, as people run them (without an infra container, whose image would come from a registry).
      spawnSync('podman', ['pod', 'rm', '-f', pod], { stdio: 'ignore' });
      execFileSync('podman', ['pod', 'create', '--infra=false', '--name', pod]);
      pm.run(web, ['--pod', pod, '--hostname', web, '-e', 'GREETING=hello', '-w', '/srv']);
      pm.run(quiet, ['--network', 'none', '--hostname', quiet]);
    }
    if (typeof dk !== 'string') dk.run(db, ['--hostname', db]);
    daemon = await startDaemon();
  });
  after(async () => {
    await daemon?.destroy();
    for (const [e, names] of [
      [pm, [web, quiet]],
      [dk, [db]],
    ] as const) {
      if (typeof e === 'string') continue;
      for (const n of names) e.remove(n);
      if (e.name === 'podman') spawnSync('podman', ['pod', 'rm', '-f', pod], { stdio: 'ignore' });
      e.stop();
    }
  });
  // CI must run at least one engine for real; on a machine where none can, say so.
  it('has at least one engine that runs containers here', () => {
    assert.ok(typeof pm !== 'string' || typeof dk !== 'string', `podman: ${pm}; docker: ${dk}`);
  });

  it('lists podman containers by name, with image, state, first process and hostname, from the API', (t) => {
    if (typeof pm === 'string') return t.skip(pm);
    const found = containers(daemon);
    const w = found.find((c) => c.name === web)!;
    assert.ok(w, found.map((c) => c.name).join(' '));
    assert.equal(w.engine, 'podman');
    assert.equal(w.state, 'running');
    assert.equal(w.image, 'localhost/nsx-test-busybox:2');
    assert.equal(w.pid, pm.pid(web));
    assert.equal(w.hostname, web);
    assert.equal(w.source, 'api');
    assert.deepEqual(
      w.namespaces.find((k) => k.type === 'net'),
      { type: 'net', inode: nsInode(w.pid!, 'net') },
    );
    assert.ok(found.some((c) => c.name === quiet));
  });

  it('names the namespaces of a container after it in nsx list, and keeps the name while a shell joins', async (t) => {
    if (typeof pm === 'string') return t.skip(pm);
    const pid = pm.pid(web);
    const net = nsInode(pid, 'net');
    const row = () =>
      nsx(daemon, ['list', '-t', 'net'])
        .stdout.split('\n')
        .find((l) => l.startsWith(`${net} `));
    assert.match(row() ?? '', new RegExp(`^${net} net +1 .* ${web} \\(podman\\) +sleep 3600$`));
    const uts = (
      JSON.parse(nsx(daemon, ['list', '--json', '-t', 'uts']).stdout).namespaces as {
        inode: number;
        hostname?: string;
      }[]
    ).find((n) => n.inode === nsInode(pid, 'uts'));
    assert.equal(uts?.hostname, web, 'the uts namespace says its hostname');
    const shell = spawn(
      process.execPath,
      [join(__dirname, '../../nsx.js'), '--socket', daemon.socket, 'enter', web, '--', 'sleep', '30'],
      { stdio: 'ignore' },
    );
    try {
      // The shell and the launcher that supervises it join the container's net namespace too.
      await waitFor(() => /^\d+ net +[2-9] /.test(row() ?? ''), 10_000, 'the shell in the container');
      assert.match(row()!, new RegExp(` ${web} \\(podman\\) `));
    } finally {
      shell.kill('SIGKILL');
    }
  });

  it('enters a container by name as docker exec does: all its namespaces, its environment, its working directory', (t) => {
    if (typeof pm === 'string') return t.skip(pm);
    const pid = pm.pid(web);
    const r = nsx(daemon, [
      'enter',
      web,
      '--',
      'sh',
      '-c',
      'hostname; echo $GREETING $HOSTNAME; pwd; for t in net mnt pid uts ipc; do readlink /proc/self/ns/$t; done',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      web,
      `hello ${web}`,
      '/srv',
      ...['net', 'mnt', 'pid', 'uts', 'ipc'].map((type) => `${type}:[${nsInode(pid, type)}]`),
    ]);
  });

  it("joins only the types asked for, spelled as nsenter's flags or -t in any case", (t) => {
    if (typeof pm === 'string') return t.skip(pm);
    const net = `net:[${nsInode(pm.pid(web), 'net')}]`;
    for (const flags of [['-n'], ['--net'], ['-t', 'NET']]) {
      const r = nsx(daemon, ['enter', web, ...flags, '--', 'sh', '-c', 'readlink /proc/self/ns/net /proc/self/ns/uts']);
      assert.equal(r.code, 0, `${flags.join(' ')}: ${r.stderr}`);
      assert.deepEqual(r.stdout.trim().split('\n'), [net, `uts:[${nsInode('self', 'uts')}]`], flags.join(' '));
    }
    const byTarget = nsx(daemon, ['enter', '--target', String(pm.pid(web)), '--uts', '--', 'hostname']);
    assert.equal(byTarget.stdout.trim(), web);
    // Without its mount namespace, the container's environment and working directory are not the shell's: they name its files.
    const hostFiles = nsx(daemon, ['enter', web, '-n', '-u', '--', 'sh', '-c', 'echo ${GREETING:-none}; pwd']);
    assert.deepEqual(hostFiles.stdout.trim().split('\n'), ['none', '/root']);
  });

  it("says a net namespace's addresses, as ip inside it shows them", (t) => {
    if (typeof pm === 'string') return t.skip(pm);
    const nets = JSON.parse(nsx(daemon, ['list', '--json', '-t', 'net']).stdout).namespaces as {
      inode: number;
      addresses?: string[];
    }[];
    const inside = nsx(daemon, ['enter', web, '-n', '--', 'ip', '-o', '-4', 'addr', 'show', 'scope', 'global']).stdout;
    const expected = [...inside.matchAll(/inet ([0-9.]+)\//g)].map((m) => m[1]);
    assert.ok(expected.length > 0, `podman's default network gives ${web} an address: ${inside}`);
    const [webNet, quietNet] = [nsInode(pm.pid(web), 'net'), nsInode(pm.pid(quiet), 'net')];
    const ours = nets.find((n) => n.inode === webNet)?.addresses ?? [];
    assert.deepEqual(
      ours.filter((a) => a.includes('.')),
      expected,
    );
    assert.equal(nets.find((n) => n.inode === quietNet)?.addresses, undefined, '--network none: loopback only');
  });

  it('shows a container with --network none with loopback alone', (t) => {
    if (typeof pm === 'string') return t.skip(pm);
    const r = nsx(daemon, ['enter', quiet, '--', 'sh', '-c', 'ls /sys/class/net']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'lo');
  });

  it('still names podman containers from runc state when no API answers', async (t) => {
    if (typeof pm === 'string') return t.skip(pm);
    // A daemon that cannot see the API socket: in a mount namespace where /run/podman is empty.
    const other = await startDaemon({
      wrap: [
        'unshare',
        '--mount',
        '--propagation',
        'private',
        '--',
        'sh',
        '-c',
        'mount -t tmpfs nsx-empty /run/podman && exec "$@"',
        'sh',
      ],
    });
    try {
      const w = containers(other).find((c) => c.name === web);
      assert.ok(w, 'found without the API');
      assert.equal(w.source, 'oci');
      assert.equal(w.image, 'localhost/nsx-test-busybox:2');
      assert.equal(w.pod, pod, "its pod, by the name podman's state keeps");
      const r = nsx(other, ['enter', web, '--', 'sh', '-c', 'echo $GREETING; pwd']);
      assert.deepEqual(r.stdout.trim().split('\n'), ['hello', '/srv'], r.stderr);
    } finally {
      await other.destroy();
    }
  });

  it('lists and enters Docker containers', (t) => {
    if (typeof dk === 'string') return t.skip(dk);
    const d = containers(daemon).find((c) => c.name === db)!;
    assert.ok(d);
    assert.equal(d.engine, 'docker');
    assert.equal(d.pid, dk.pid(db));
    assert.equal(nsx(daemon, ['enter', db, '--', 'hostname']).stdout.trim(), db);
  });

  it('says which containers there are when a name matches none, and refuses a bad name', (t) => {
    if (typeof pm === 'string') return t.skip(pm);
    const r = nsx(daemon, ['enter', `${tag}-nothing`, '--', 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`no running container is called ${tag}-nothing \\(running: .*${web}`));
    assert.match(nsx(daemon, ['enter', '../x', '--', 'true']).stderr, /not a container name or id/);
  });

  it("believes a rootless engine only about its own user's processes", async () => {
    // A user's program on their own podman socket that claims root's processes as a container.
    const mallory = createUser();
    const fake = await fakeEngine(mallory, [
      {
        id: 'f'.repeat(64),
        name: `${tag}-spoof`,
        pid: daemon.proc.pid,
        hostname: 'spoof',
        env: ['LD_PRELOAD=/tmp/x.so'],
      },
    ]);
    try {
      const spoof = await waitFor(
        () => containers(daemon).find((c) => c.name === `${tag}-spoof`),
        10_000,
        'the spoofed container listed',
      );
      assert.equal(spoof.engineUid, mallory.uid, "said to be the user's");
      assert.equal(spoof.pid, undefined, "nsxd's own process is not the user's to claim");
      assert.deepEqual(spoof.namespaces, []);
      const r = nsx(daemon, ['enter', `${tag}-spoof`, '--', 'true']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /says it is running, but its process is not in a user namespace its engine's user made/);
    } finally {
      fake.stop();
      mallory.remove();
    }
  });
});
