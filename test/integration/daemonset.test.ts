// nsxd as the Kubernetes DaemonSet runs it (deploy/kubernetes/nsxd.yaml), on
// this machine with podman: the host's pid namespace, privileged, the host's
// /run, /var/lib/containers and /sys/fs/cgroup mounted in (the host's node,
// its libraries and dist/ bind-mounted into the busybox test image, in place
// of the Containerfile's image). `nsx bridge` through `podman exec -i` is
// the kubectl exec of a real cluster.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Client, handshake } from '../../helper/common/client';
import {
  ListNamespaces,
  TerminalAttach,
  TerminalClose,
  TerminalInput,
  TerminalOpen,
  TerminalOutput,
} from '../../helper/common/protocol';
import { Engine, podman } from '../engines';
import { DIST, removeDir, rootDir, waitFor } from '../support';

const POD = 'h24-nsxd';
const VICTIM = 'h24-victim';
const RUN = '/run/h24pod';
const SOCKET = `${RUN}/nsxd.sock`;

/** A client through `podman exec -i POD nsx bridge`, as kubectl exec would carry it. */
function bridged(): Promise<Client> {
  const open = async () => {
    const child = spawn('podman', ['exec', '-i', POD, '/opt/nsx/nsx', '--socket', SOCKET, 'bridge'], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    return Duplex.from({ readable: child.stdout, writable: child.stdin });
  };
  return open().then((stream) => handshake(stream, 'test', (e) => e, open));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('nsxd in a DaemonSet-like container', { timeout: 180_000 }, () => {
  let engine: Engine | string;
  let config: string;

  before(async () => {
    engine = await podman();
    if (typeof engine === 'string') return;
    config = rootDir('h24-pod-');
    writeFileSync(`${config}/nsxd.json`, JSON.stringify({ admins: [], rootShells: [] }), { mode: 0o644 });
    mkdirSync(RUN, { recursive: true, mode: 0o755 });
    engine.run(VICTIM, []);
    const mounts = [
      ['/run', '/run'],
      ['/var/lib/containers', '/var/lib/containers', 'ro'],
      ['/sys/fs/cgroup', '/host/sys/fs/cgroup'],
      ['/usr', '/usr', 'ro'],
      ['/usr/lib', '/lib', 'ro'],
      ['/usr/lib64', '/lib64', 'ro'],
      ['/etc/passwd', '/etc/passwd', 'ro'],
      ['/etc/group', '/etc/group', 'ro'],
      [DIST, '/opt/nsx', 'ro'],
      [config, '/etc/nsx', 'ro'],
    ].flatMap((m) => ['-v', m.join(':')]);
    const nsxd = [process.execPath, '/opt/nsx/nsxd.js', '--socket', SOCKET, '--config', '/etc/nsx/nsxd.json'];
    nsxd.push('--orphan-timeout', '120');
    engine.run(
      POD,
      // A cgroup namespace of its own, as a privileged pod on cgroup v2 gets; nsxd starts in the host's, as the
      // DaemonSet's command does, from the host's pid 1 there; here from this test's process (a host one): on
      // this machine pid 1 holds a capability outside root's bounding set, and even root may not open its ns.
      ['--pid=host', '--privileged', '--cgroupns=private', ...mounts],
      [
        '/usr/bin/nsenter',
        `--cgroup=/proc/${process.pid}/ns/cgroup`,
        '--',
        ...nsxd,
        '--host-cgroups',
        '/host/sys/fs/cgroup',
      ],
    );
    await waitFor(() => spawnSync('test', ['-S', SOCKET]).status === 0, 20_000, 'nsxd in its container');
  });

  after(() => {
    if (typeof engine !== 'string') {
      engine.remove(POD);
      engine.remove(VICTIM);
      engine.stop();
    }
    spawnSync('pkill', ['-TERM', '-f', `^${DIST}/nsx-session --socket ${RUN}/sessions/`]);
    removeDir(RUN);
    if (config) removeDir(config);
  });

  it("lists the host's containers through nsx bridge, and a session outlives a restart of nsxd's container", async (t) => {
    if (typeof engine === 'string') return t.skip(engine);
    const c = await bridged();
    const { containers } = await c.conn.sendRequest(ListNamespaces, {});
    assert.ok(
      containers.some((x) => x.name === VICTIM),
      JSON.stringify(containers.map((x) => x.name)),
    );
    const opened = await c.conn.sendRequest(TerminalOpen, {
      types: ['uts'],
      command: ['/bin/sh', '-c', 'while read l; do echo got-$l; done'],
      persistent: true,
    });
    c.close();
    const restarted = spawnSync('podman', ['--runtime', 'runc', 'restart', '-t', '2', POD], { encoding: 'utf8' });
    assert.equal(restarted.status, 0, restarted.stderr);
    assert.ok(alive(opened.pid), 'the shell outlived the restart');
    await waitFor(() => spawnSync('test', ['-S', SOCKET]).status === 0, 20_000, 'nsxd back in its container');
    let c2: Client | undefined;
    for (let i = 0; i < 20 && !c2; i++) {
      c2 = await bridged().catch(() => undefined);
      if (!c2) await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(c2, 'nsxd answers through the bridge again');
    let out = '';
    c2.conn.onNotification(TerminalOutput, (p) => (out += Buffer.from(p.data, 'base64').toString()));
    await c2.conn.sendRequest(TerminalAttach, { session: opened.session });
    await c2.conn.sendRequest(TerminalInput, { session: opened.session, data: Buffer.from('x\n').toString('base64') });
    await waitFor(() => out.includes('got-x'), 10_000, `the shell's answer (${out})`);
    await c2.conn.sendNotification(TerminalClose, { session: opened.session });
    c2.close();
  });
});
