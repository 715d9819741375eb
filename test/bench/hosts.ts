// npm run bench:hosts: nsx --host over ssh against plain ssh, on one link,
// in one run. A "host" of test/hosts.ts (its own namespaces, sshd, nsxd) on
// a veth; a user with a key; ssh's ControlMaster warm for both.
//   nsx --host h24a list    vs  ssh (same options, same master) h24a lsns
//   a keystroke's round trip: nsx --host h24a enter PID -- cat (pipes) vs ssh -tt h24a cat
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { makeHost, sshUser, userFile } from '../hosts';
import { createUser, NSX, onStopped } from '../support';
import { controlDirOf, sshArgvFor } from './hostsSsh';

const ROUNDS = 30;

function timed(argv: string[]): { ms: number; ok: boolean; out: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 60_000 });
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, ok: r.status === 0, out: r.stderr };
}

/** Median milliseconds from writing a line to seeing it come back, over ROUNDS lines. */
async function roundTrips(proc: ChildProcess): Promise<number> {
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  const times: number[] = [];
  const seen = (m: string) =>
    new Promise<void>((r) => {
      const check = () => (out.includes(m) ? r() : setTimeout(check, 0));
      check();
    });
  await new Promise((r) => setTimeout(r, 1500)); // started, and the shell's prompt (if any) out of the way
  for (let i = 0; i < ROUNDS; i++) {
    const mark = `k${i}z`;
    const t0 = process.hrtime.bigint();
    proc.stdin!.write(`${mark}\n`);
    await seen(mark);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  proc.kill('SIGTERM');
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

async function main(): Promise<void> {
  const host = await makeHost('h24a', 249, 'sleep 6009');
  const user = createUser({ inGroup: true });
  onStopped(() => {
    user.remove();
    host.destroy();
  });
  try {
    const { home } = sshUser(user.name);
    userFile(user.name, home, '.ssh/known_hosts', `${host.ip} ${host.hostKey}\n`);
    userFile(
      user.name,
      home,
      '.config/nsx/hosts.json',
      JSON.stringify([{ name: 'h24a', ssh: `${user.name}@${host.ip}` }]),
    );
    const as = (argv: string[]) => ['runuser', '-u', user.name, '--', 'env', `HOME=${home}`, ...argv];
    const ssh = (cmd: string[], tty = false) => as(sshArgvFor(`${user.name}@${host.ip}`, controlDirOf(home), cmd, tty));
    timed(as([NSX, '--host', 'h24a', 'list'])); // warms the ControlMaster (and the page cache)
    const nsxList = timed(as([NSX, '--host', 'h24a', 'list']));
    const sshLsns = timed(ssh(['lsns']));
    if (!nsxList.ok || !sshLsns.ok) throw new Error(`a run failed: ${nsxList.out} ${sshLsns.out}`);
    const pid = String(host.innerPid(host.find('sleep 6009')!));
    const overBridge = await roundTrips(
      spawn(
        as([NSX, '--host', 'h24a', 'enter', pid, '--', 'cat'])[0],
        as([NSX, '--host', 'h24a', 'enter', pid, '--', 'cat']).slice(1),
      ),
    );
    const sshArgv = ssh(['cat'], true);
    const overSsh = await roundTrips(spawn(sshArgv[0], sshArgv.slice(1)));
    const row = (what: string, ms: number, base: number, vs: string) =>
      `${what.padEnd(46)} ${ms.toFixed(1).padStart(8)} ms   ${(ms / base).toFixed(2)}× ${vs}`;
    console.log(row('nsx --host h24a list (ssh, warm master)', nsxList.ms, sshLsns.ms, 'ssh h24a lsns'));
    console.log(row('ssh h24a lsns (same master)', sshLsns.ms, sshLsns.ms, ''));
    console.log(row(`keystroke round trip, bridge (median of ${ROUNDS})`, overBridge, overSsh, 'ssh -tt'));
    console.log(row(`keystroke round trip, ssh -tt (median of ${ROUNDS})`, overSsh, overSsh, ''));
  } finally {
    user.remove();
    host.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
