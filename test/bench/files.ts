// npm run bench:files: a container's files through nsxd, side by side with
// what people would run otherwise, in one run on one machine, as ratios:
//   list a 1,000-entry folder: `nsx ls` (a whole CLI run) and files/readDirectory
//     (what the editor's provider sends) vs `podman exec … ls -l` and a plain
//     `ls -l` of /proc/PID/root on the host
//   read a 10 MB file: `nsx cp` and files/read in chunks vs `podman cp` and a
//     plain `cp` of /proc/PID/root on the host
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesOpen } from '../../helper/common/files';
import { RemoteFiles } from '../../helper/common/filesClient';
import { podman } from '../engines';
import { importFilesImage, removeFilesContainer, runFilesContainer } from '../files-image';
import { Daemon, NSX, onStopped, startDaemon } from '../support';

const RUNS = Number(process.env.NSX_BENCH_RUNS ?? 7);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function time(fn: () => unknown): Promise<number> {
  const times: number[] = [];
  await fn(); // warm: caches, the image's layers, nsxd's first container lookup
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(times);
}

function run(cmd: string[]): void {
  const r = spawnSync(cmd[0], cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')}: ${r.stderr}`);
}

async function main(): Promise<void> {
  const engine = await podman();
  if (typeof engine === 'string') throw new Error(engine);
  importFilesImage();
  const name = `f23-bench-${process.pid}`;
  const pid = runFilesContainer(name);
  let daemon: Daemon | undefined;
  const out = mkdtempSync(join(tmpdir(), 'f23-bench-'));
  const cleanUp = () => {
    removeFilesContainer(name);
    rmSync(out, { recursive: true, force: true });
    engine.stop();
  };
  onStopped(() => {
    daemon?.abandon();
    cleanUp();
  });
  daemon = await startDaemon();
  const client = await daemon.client();
  try {
    const { handle } = await client.conn.sendRequest(FilesOpen, { target: { container: name } });
    const files = new RemoteFiles((type, params) => client.conn.sendRequest(type, params), handle);
    const nsx = (...args: string[]) => run([NSX, '--socket', daemon.socket, ...args]);
    const rows: [string, number][] = [
      ['list 1,000 entries: nsx ls', await time(() => nsx('ls', `${name}:/data`))],
      ['list 1,000 entries: files/readDirectory', await time(() => files.list('/data'))],
      [
        'list 1,000 entries: podman exec ls -l',
        await time(() => run(['podman', 'exec', name, '/bin/busybox', 'ls', '-l', '/data'])),
      ],
      ['list 1,000 entries: host ls -l /proc/PID/root', await time(() => run(['ls', '-l', `/proc/${pid}/root/data`]))],
      ['read 10 MB: nsx cp', await time(() => nsx('cp', `${name}:/data/ten-mb`, join(out, 'a')))],
      ['read 10 MB: files/read', await time(() => files.readAll('/data/ten-mb'))],
      ['read 10 MB: podman cp', await time(() => run(['podman', 'cp', `${name}:/data/ten-mb`, join(out, 'b')]))],
      [
        'read 10 MB: host cp /proc/PID/root',
        await time(() => run(['cp', `/proc/${pid}/root/data/ten-mb`, join(out, 'c')])),
      ],
    ];
    if (statSync(join(out, 'a')).size !== 10 * 1024 * 1024) throw new Error('nsx cp copied the wrong size');
    const base = (what: string) => rows.find(([w]) => w.startsWith(what) && /podman/.test(w))![1];
    console.log(`files bench (${RUNS} runs each, median; ratio against podman's way):`);
    for (const [what, msv] of rows) {
      const ratio = msv / base(what.split(':')[0]);
      console.log(`  ${what.padEnd(48)} ${msv.toFixed(1).padStart(8)} ms  ${ratio.toFixed(2)}×`);
    }
  } finally {
    client.close();
    await daemon.destroy();
    cleanUp();
  }
}

main().catch((err) => {
  console.error(`bench:files: ${(err as Error).message}`);
  process.exitCode = 1;
});
