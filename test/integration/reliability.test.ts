// What goes wrong on a real machine: many sessions over time, clients that
// die mid-request, targets that exit under a request, a full disk, a rebuild
// under a running nsxd. Each leaves nsxd as it was, with nothing behind.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '../../helper/common/client';
import { TerminalExit, TerminalOpen, TerminalOpenParams } from '../../helper/common/protocol';
import {
  Daemon,
  fdCount,
  holdNamespaces,
  nsx,
  ROOT,
  rootDir,
  sessionCgroupDir,
  startDaemon,
  waitFor,
} from '../support';

const rssMb = (pid: number) => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** Opens a session and waits for its exit code (which may arrive before the answer to the open). */
async function run(c: Client, params: TerminalOpenParams): Promise<number> {
  const exits = new Map<number, number>();
  let wake = () => {};
  const sub = c.conn.onNotification(TerminalExit, (p) => {
    exits.set(p.session, p.code);
    wake();
  });
  try {
    const { session } = await c.conn.sendRequest(TerminalOpen, params);
    while (!exits.has(session))
      await new Promise<void>((r) => {
        wake = r;
      });
    return exits.get(session)!;
  } finally {
    sub.dispose();
  }
}

/** The session cgroups this nsxd has now, if it has cgroups at all. */
function sessionCgroups(daemon: Daemon): number | undefined {
  const instance = sessionCgroupDir(daemon);
  if (!instance) return undefined;
  if (!existsSync(instance)) return 0;
  return readdirSync(instance).filter((name) => name.startsWith('session-')).length;
}

describe('reliability', () => {
  let daemon: Daemon;
  before(async () => {
    daemon = await startDaemon();
  });
  after(async () => {
    await daemon.destroy();
  });

  it('opens and closes 1,000 sessions with its fds, memory and cgroups flat', async () => {
    const c = await daemon.client();
    try {
      const pid = daemon.proc.pid!;
      for (let i = 0; i < 20; i++) await run(c, { command: ['true'], pty: { cols: 80, rows: 24 } });
      const fds = fdCount(pid);
      const rss = rssMb(pid);
      for (let i = 0; i < 1000; i++) {
        // Every other one on a pty, every third one in fresh namespaces: each path that holds fds.
        const params: TerminalOpenParams = {
          command: ['sh', '-c', `exit ${i % 7}`],
          ...(i % 2 ? { pty: { cols: 80, rows: 24 } } : {}),
          ...(i % 3 === 0 ? { types: ['uts', 'ipc'] } : { target: { pid: process.pid } }),
        };
        assert.equal(await run(c, params), i % 7, `session ${i}'s exit code`);
      }
      await waitFor(() => fdCount(pid) <= fds, 10_000, `nsxd's fds back to ${fds} (now ${fdCount(pid)})`);
      assert.ok(
        rssMb(pid) - rss < 64,
        `nsxd grew from ${rss.toFixed(0)} MB to ${rssMb(pid).toFixed(0)} MB over 1,000 sessions`,
      );
      const left = sessionCgroups(daemon);
      if (left !== undefined) await waitFor(() => sessionCgroups(daemon) === 0, 10_000, 'no session cgroup left');
      await waitFor(() => readdirSync(join(daemon.dir, 'sessions')).length === 0, 10_000, 'no session supervisor left');
    } finally {
      c.close();
    }
  });

  it('a client that dies right after asking for a session leaves no process behind', async () => {
    for (let i = 0; i < 5; i++) {
      const s = createConnection(daemon.socket);
      await new Promise((r) => s.once('connect', r));
      const send = (msg: object) => {
        const body = JSON.stringify({ jsonrpc: '2.0', ...msg });
        s.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      };
      send({ id: 1, method: 'initialize', params: { processId: null, capabilities: {} } });
      send({ method: 'initialized', params: {} });
      send({
        id: 2,
        method: 'terminal/open',
        params: { command: ['sleep', `${4400 + i}`], pty: { cols: 80, rows: 24 } },
      });
      s.destroy();
    }
    await new Promise((r) => setTimeout(r, 1500));
    await waitFor(
      () => spawnSync('pgrep', ['-f', '^sleep 440[0-4]$']).status !== 0,
      10_000,
      'no session of a dead client',
    );
  });

  it('a target that exits under a request gets a clear error and no session', async () => {
    const held = await holdNamespaces(['--uts']);
    const gone = held.pid;
    held.kill();
    await waitFor(() => !existsSync(`/proc/${gone}`), 5000, 'the target gone');
    const r = nsx(daemon, ['enter', String(gone), '--', 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /has exited|does not exist/);
  });

  it('a full disk for the pins directory: the pin is refused, clearly, and nothing of it stays', async () => {
    const dir = rootDir('nsx-full-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'nsx-full', dir]);
    execFileSync('chmod', ['755', dir]);
    const held = await holdNamespaces(['--uts']);
    let full: Daemon | undefined;
    try {
      full = await startDaemon({ dir });
      // Fill what is left, so the pin's record cannot be written.
      spawnSync('dd', ['if=/dev/zero', `of=${join(dir, 'filler')}`, 'bs=4k'], { stdio: 'ignore' });
      const r = nsx(full, ['pin', String(held.pid), 'uts', 'nsx-full-pin']);
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(r.stderr, /cannot record the pin uts\/nsx-full-pin, so it was not made: .*ENOSPC|no space/i);
      assert.equal(existsSync(join(dir, 'pins/uts/nsx-full-pin')), false, 'no pin file');
      assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes('nsx-full-pin'), 'no mount');
      writeFileSync(join(dir, 'filler'), '');
      assert.equal(
        nsx(full, ['pin', String(held.pid), 'uts', 'nsx-full-pin']).code,
        0,
        'with room again, the same name works',
      );
    } finally {
      held.kill();
      await full?.stop();
      // Its pins, then the tmpfs itself (destroy() would try to remove the mount point).
      spawnSync('umount', ['--recursive', '--lazy', dir]);
      spawnSync('rmdir', [dir]);
    }
  });

  it('a rebuild of dist/ under a running nsxd leaves it running: its native module is replaced, never rewritten in place', async () => {
    // koffi.node rewritten in place changed the code nsxd had mapped: it died of SIGSEGV at its next native call.
    execFileSync(process.execPath, ['esbuild.mjs'], { cwd: ROOT, stdio: 'ignore' });
    const r = nsx(daemon, ['pins']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(daemon.proc.exitCode, null);
    assert.equal(daemon.proc.signalCode, null);
  });
});
