// Full scans of this machine's real /proc through the Scanner, as nsxd
// makes them: a scan that finds a few processes changed and nothing else
// patches the model it has (stateDiff.ts, applyPatch), and what it makes is
// what a build of the same state makes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
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

    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    const after = await scanner.scan();
    assert.equal(after, first);
    assert.equal(after.byInode.get(uts), undefined, 'its namespaces went with it');
    assert.equal(
      after.snapshot.processes.find((p) => p.pid === holder.pid),
      undefined,
    );
    assert.deepEqual(canonical(after.snapshot), canonical(rebuilt(scanner)));
  } finally {
    holder.kill('SIGKILL');
  }
});
