// Containers of Kubernetes named from the CRI annotations in their bundles,
// read from runc's state when no engine's API answers: Debian's containerd,
// on a socket nsxd does not know, runs a container with the annotations the
// CRI plugin (and CRI-O) write: io.kubernetes.pod.name, .pod.namespace,
// .container.name. No Kubernetes can run here; `ctr run --annotation` is
// what the kubelet's runtime would leave on disk.
import assert from 'node:assert/strict';
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IMAGE, podman } from '../engines';
import { Daemon, nsx, removeDir, startDaemon, waitFor } from '../support';

const NS = 'h24';
const NAME = 'h24-cri';

describe('CRI names from runc state (containerd)', { timeout: 120_000 }, () => {
  let dir = '';
  let containerd: ChildProcess | undefined;
  let daemon: Daemon | undefined;
  let skip = '';
  const ctr = (...args: string[]) =>
    execFileSync('ctr', ['-a', join(dir, 'c.sock'), '-n', NS, ...args], { encoding: 'utf8', stdio: 'pipe' });

  before(async () => {
    if (spawnSync('containerd', ['--version']).status !== 0) return void (skip = 'containerd is not installed');
    const engine = await podman(); // its busybox image, saved for ctr to import
    if (typeof engine === 'string') return void (skip = engine);
    engine.stop();
    dir = mkdtempSync(join(tmpdir(), 'h24-ctrd-'));
    // State in /run/containerd, where runc's state is looked for; the API on a socket of the test's own.
    containerd = spawn(
      'containerd',
      [
        '--address',
        join(dir, 'c.sock'),
        '--root',
        join(dir, 'root'),
        '--state',
        '/run/containerd',
        '--log-level',
        'error',
      ],
      { stdio: 'ignore' },
    );
    await waitFor(() => existsSync(join(dir, 'c.sock')), 10_000, 'containerd');
    execFileSync('podman', ['save', '--format', 'docker-archive', '-o', join(dir, 'img.tar'), IMAGE], {
      stdio: 'ignore',
    });
    ctr('images', 'import', '--snapshotter', 'native', join(dir, 'img.tar'));
    const annotations = {
      'io.kubernetes.pod.name': 'web-0',
      'io.kubernetes.pod.namespace': 'shop',
      'io.kubernetes.container.name': 'nginx',
    };
    const flags = Object.entries(annotations).flatMap(([k, v]) => ['--annotation', `${k}=${v}`]);
    ctr('run', '-d', '--snapshotter', 'native', ...flags, IMAGE, NAME, 'sleep', '600');
    daemon = await startDaemon();
  });

  after(async () => {
    await daemon?.destroy();
    if (dir) {
      for (const step of [
        ['task', 'kill', '-s', 'KILL', NAME],
        ['task', 'delete', NAME],
        ['container', 'delete', NAME],
      ])
        try {
          ctr(...step);
        } catch {
          /* not made, or gone */
        }
      containerd?.kill();
      if (containerd) await new Promise((r) => containerd!.once('exit', r));
      removeDir(dir);
      spawnSync('rmdir', [`/run/containerd/runc/${NS}`], { stdio: 'ignore' });
    }
  });

  it('names the container and its pod (NAMESPACE/NAME) from the annotations', async (t) => {
    if (skip) return t.skip(skip);
    await waitFor(() => existsSync(`/run/containerd/runc/${NS}/${NAME}/state.json`), 10_000, "runc's state");
    const r = nsx(daemon!, ['containers', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const found = (
      JSON.parse(r.stdout) as { containers: { id: string; name: string; pod?: string; engine: string }[] }
    ).containers.find((c) => c.id === NAME);
    assert.ok(found, r.stdout);
    assert.equal(found.name, 'nginx');
    assert.equal(found.pod, 'shop/web-0');
    assert.equal(found.engine, 'containerd');
  });
});
