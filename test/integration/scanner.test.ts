// Full scans of this machine's real /proc through the Scanner, as nsxd
// makes them: a scan that finds a few processes changed and nothing else
// patches the model it has (stateDiff.ts, applyPatch), and what it makes is
// what a build of the same state makes: a process that starts in new
// namespaces, and exits leaving one bind-mounted, then unmounted.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import type { Snapshot } from '../../helper/common/protocol';
import type { ProcState } from '../../helper/daemon/discovery/processes';
import { readNsLink } from '../../helper/daemon/discovery/procfs';
import { ScanCache } from '../../helper/daemon/discovery/scanCache';
import { Scanner } from '../../helper/daemon/discovery/scanner';
import { scanLibrary } from '../../helper/daemon/discovery/sliceReader';
import { buildModel, Model } from '../../helper/daemon/discovery/snapshot';
import { DIST, waitFor } from '../support';

const userName = (uid: number) => `u${uid}`;
const mountAt = () => undefined;

const canonical = (s: Snapshot) => ({
  ...s,
  scanMs: 0,
  namespaces: [...s.namespaces].sort((a, b) => a.inode - b.inode),
  processes: [...s.processes].sort((a, b) => a.pid - b.pid),
});

/** The model a build of the scanner's state makes, from nothing kept. */
function rebuilt(scanner: Scanner): Snapshot {
  const state = scanner['state'] as ProcState;
  const self = readNsLink('/proc/self/ns/mnt')![1];
  const ctx = { userName, mountAt, selfMntns: self, containers: [], engines: [] };
  return buildModel(state, ctx, Date.now(), new ScanCache()).snapshot;
}

const inode = (pid: number, type: string) => Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/${type}`))![1]);

it('patches the model when a full scan finds a few processes changed, and it is what a build makes', async () => {
  const scanner = new Scanner({ userName, mountAt }, undefined, scanLibrary(join(DIST, 'libnsxscan.so')));
  const first: Model = await scanner.scan();
  const holder = spawn('unshare', ['--uts', '--net', '--', 'sleep', '3611'], { stdio: 'ignore' });
  try {
    await waitFor(() => {
      try {
        return inode(holder.pid!, 'uts') !== inode(process.pid, 'uts');
      } catch {
        return false;
      }
    });
    const uts = inode(holder.pid!, 'uts');
    const patched = await scanner.scan();
    assert.equal(patched, first, 'the same model, patched in place');
    assert.deepEqual(patched.byInode.get(uts)?.pids, [holder.pid]);
    assert.deepEqual(canonical(patched.snapshot), canonical(rebuilt(scanner)));

    // Bound to a file in this mount namespace (nsxd's own, here), it outlives its process: a holder the patch finds.
    const dir = mkdtempSync(join(tmpdir(), 'nsx-scanner-'));
    const file = join(dir, 'net');
    const net = inode(holder.pid!, 'net');
    try {
      writeFileSync(file, '');
      execFileSync('mount', ['--bind', `/proc/${holder.pid}/ns/net`, file]);
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
      const held = await scanner.scan();
      assert.equal(held, first);
      assert.equal(held.byInode.get(uts), undefined, 'its uts namespace went with it');
      assert.equal(
        held.snapshot.processes.find((p) => p.pid === holder.pid),
        undefined,
      );
      assert.deepEqual(
        held.byInode.get(net)?.holders.map((h) => h.kind === 'mount' && h.path),
        [file],
        'its net namespace, held by the mount',
      );
      assert.deepEqual(canonical(held.snapshot), canonical(rebuilt(scanner)));
      execFileSync('umount', [file]);
      const after = await scanner.scan();
      assert.equal(after, first);
      assert.equal(after.byInode.get(net), undefined, 'unmounted, it is gone');
      assert.deepEqual(canonical(after.snapshot), canonical(rebuilt(scanner)));
    } finally {
      spawnSync('umount', [file]);
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    holder.kill('SIGKILL');
  }
});
