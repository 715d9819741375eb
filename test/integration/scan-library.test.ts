// libnsxscan (native/scan.c, driven by sliceReader.ts) against
// processes.ts's own reader, on this machine's real /proc: processes that
// hold namespaces by fds (several to one namespace, several types, one past
// what a scan reads of a process), one whose children get a pid namespace
// of their own, and processes that exit while both read; and the library
// alone under the sanitizers (test/fixtures/scan-stress.c).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FDS_PER_PROCESS, RawProcess, RawScan, readProcesses } from '../../helper/daemon/discovery/processes';
import { listPids } from '../../helper/daemon/discovery/procfs';
import { ScanCache } from '../../helper/daemon/discovery/scanCache';
import { scanLibrary, readSlices } from '../../helper/daemon/discovery/sliceReader';
import { DIST, holdNamespaces, ROOT } from '../support';

/** A generator of reads run to its end, its promises awaited (as Scanner.read does, without the time slices). */
async function run(reading: Generator<Promise<void> | void | undefined, RawScan>): Promise<RawScan> {
  for (let step = reading.next(); ; step = reading.next()) {
    if (step.done) return step.value;
    if (step.value) await step.value;
  }
}

const byPid = (scan: RawScan) => new Map(scan.processes.map((p) => [p.pid, p]));
/** What a reader says of a process, its nsfds in one order. A kworker renames itself as it works: not its comm. */
const said = (p: RawProcess) => ({
  ...p,
  comm: p.ppid === 2 ? '' : p.comm,
  nsfds: [...p.nsfds].sort((a, b) => a[2] - b[2]),
});
const mismatch = (q: RawProcess, p: RawProcess) =>
  `process ${p.pid} (${p.comm}): libnsxscan ${JSON.stringify(said(q))}, processes.ts ${JSON.stringify(said(p))}`;

describe('libnsxscan reads what the TypeScript reader reads', () => {
  const held: { pid: number; kill(): void }[] = [];
  const lib = scanLibrary(join(DIST, 'libnsxscan.so'));
  before(async () => {
    // Three fds to one new net namespace, one to a new uts namespace, and one to the ipc namespace it did not leave (the host's).
    held.push(
      await holdNamespaces(
        ['--net', '--uts'],
        'exec 3</proc/self/ns/net 4</proc/self/ns/net 7</proc/self/ns/net 5</proc/self/ns/uts 6</proc/self/ns/ipc; exec sleep 600',
      ),
    );
    // Past FDS_PER_PROCESS: its last fd, to a namespace, is read by neither, and both count what they left.
    const many = `ulimit -n ${FDS_PER_PROCESS + 200}; for i in $(seq 10 ${FDS_PER_PROCESS + 100}); do eval "exec $i</dev/null"; done; exec ${FDS_PER_PROCESS + 150}</proc/self/ns/mnt; exec sleep 600`;
    held.push(await holdNamespaces(['--mount'], `exec bash -c '${many}'`));
    // unshare itself stays in the namespaces it made for its child (pid_for_children, time_for_children).
    held.push(await holdNamespaces(['--pid', '--time', '--fork'], 'exec sleep 600'));
  });
  after(() => held.forEach((h) => h.kill()));

  it('the same record for every process that did not change between the two reads', async () => {
    const both = async (pids: number[]) => [
      byPid(await run(readSlices(pids, new ScanCache(), undefined, lib))),
      byPid(await run(readProcesses(pids, new ScanCache()))),
    ];
    // This test's own process opens fds as it reads; a process that changed between the reads is read again.
    let pids = listPids().filter((pid) => pid !== process.pid);
    const [ours, theirs] = await both(pids);
    for (let round = 0; round < 3 && pids.length; round++) {
      const [c, ts] = round === 0 ? [ours, theirs] : await both(pids);
      pids = pids.filter((pid) => {
        const [q, p] = [c.get(pid), ts.get(pid)];
        if (!q || !p) return q !== p && round < 2; // exited between the reads, or a zombie now
        return JSON.stringify(said(q)) !== JSON.stringify(said(p)) && (round < 2 || assert.fail(mismatch(q, p)));
      });
    }
    assert.ok(ours.size > 50 && Math.abs(ours.size - theirs.size) < 20, `${ours.size} against ${theirs.size}`);
    const [net, many, sleeper] = held.map((h) => ours.get(h.pid)!);
    const unshare = ours.get(sleeper.ppid)!;
    assert.deepEqual(net.nsfds.map(([fd, type, , count]) => [fd, type, count]).sort(), [
      [3, 'net', 3],
      [5, 'uts', 1],
      [6, 'ipc', 1],
    ]);
    assert.equal(net.nsfds.find(([, type]) => type === 'net')![2], net.ns.net);
    assert.deepEqual(many.nsfds, []);
    assert.ok(many.fdsUnread! > 0); // how many depends on what the scan had left of its budget
    assert.equal(unshare.pidForChildren, sleeper.ns.pid);
    assert.equal(unshare.timeForChildren, sleeper.ns.time);
    assert.notEqual(unshare.ns.pid, sleeper.ns.pid);
  });

  it('keeps within what it is given, under ASan and UBSan, in slices and buffers of any size, processes coming and going', () => {
    const bin = join(mkdtempSync(join(tmpdir(), 'nsx-scan-')), 'scan-stress');
    const sanitized = ['-std=gnu11', '-g', '-O1', '-Wall', '-Wextra', '-Werror', '-fsanitize=address,undefined'];
    const sources = ['test/fixtures/scan-stress.c', 'native/scan.c'].map((f) => join(ROOT, f));
    execFileSync('cc', [...sanitized, '-fno-sanitize-recover=all', '-o', bin, ...sources]);
    const storm = spawn('sh', ['-c', 'for i in $(seq 2000); do sleep 0.0$((i % 10)) & done; wait'], {
      stdio: 'ignore',
    });
    try {
      const out = execFileSync(bin, ['5'], { encoding: 'utf8' });
      assert.match(out, /^[1-9]\d* slices$/m);
    } finally {
      storm.kill();
      rmSync(dirname(bin), { recursive: true, force: true });
    }
  });

  it('reads processes that exit while it reads, and leaves no fd open', async () => {
    const storm = spawn('sh', ['-c', 'for i in $(seq 400); do sleep 0.0$((i % 10)) & done; wait'], { stdio: 'ignore' });
    const fds = () => readdirSync('/proc/self/fd').length;
    const open = fds();
    try {
      for (let round = 0; round < 5; round++) {
        const scan = await run(readSlices(listPids(), new ScanCache(), undefined, lib));
        assert.ok(scan.processes.some((p) => p.pid === process.pid));
      }
    } finally {
      storm.kill();
    }
    assert.equal(fds(), open);
  });
});
