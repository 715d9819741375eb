// What a user's own container engine may say, and to whom: tried as an
// attacker would, with a fake rootless engine served by a user who is not
// even in the nsx group. Its words (a container that is really their plain
// host process, an environment of LD_PRELOAD and BASH_ENV, a working
// directory in their home, names with escape sequences, answers of megabytes)
// must never reach root's shell, another user's shell or root's terminal, nor
// make every member's list wait or nsxd grow.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Container } from '../../helper/common/protocol';
import { fakeEngine, FakeEngine } from '../fake-engine';
import { createUser, Daemon, descendants, nsx, removeDir, rootDir, startDaemon, waitFor } from '../support';

const tag = `nsxe${process.pid}`;
const hex = (c: string) => c.repeat(64);

function containers(daemon: Daemon): Container[] {
  const r = nsx(daemon, ['containers', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).containers;
}

/** A process of USER's that lives until killed: `runuser -u USER -- ARGV`, the last of the chain it starts. */
async function processOf(user: string, argv: string[]): Promise<{ pid: number; kill(): void }> {
  const proc = spawn('runuser', ['-u', user, '--', ...argv], { stdio: 'ignore' });
  const pid = await waitFor(
    () =>
      [proc.pid!, ...descendants(proc.pid!)].find((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'sleep'),
    10_000,
    `${user}'s sleep`,
  );
  return {
    pid,
    kill: () => {
      for (const p of [...descendants(proc.pid!), proc.pid!])
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
    },
  };
}

describe("a user's container engine speaks only for that user", () => {
  let daemon: Daemon;
  let mallory: ReturnType<typeof createUser>;
  let alice: ReturnType<typeof createUser>;
  let engines: FakeEngine[] = [];
  let held: { kill(): void }[] = [];
  let marks: string;
  let home: string;

  /** What ran of mallory's code, and as whom: empty while nothing did. */
  const pwned = () => (existsSync(join(marks, 'pwned')) ? readFileSync(join(marks, 'pwned'), 'utf8') : '');

  before(async () => {
    daemon = await startDaemon();
    mallory = createUser();
    alice = createUser({ inGroup: true });
    home = `/home/${mallory.name}`;
    marks = rootDir('nsx-marks-');
    chmodSync(marks, 0o1777);
    // Everything an environment can make a shell run: a preloaded library, rc files, a PATH of her own.
    const mark = join(marks, 'pwned');
    writeFileSync(
      join(home, 'evil.c'),
      `#include <stdio.h>\n#include <unistd.h>\n__attribute__((constructor)) static void pwn(void) { FILE *f = fopen("${mark}", "a"); if (f) { fprintf(f, "LD_PRELOAD as uid %d\\n", (int)getuid()); fclose(f); } }\n`,
    );
    execFileSync('cc', ['-shared', '-fPIC', '-o', join(home, 'evil.so'), join(home, 'evil.c')]);
    writeFileSync(join(home, 'rc.sh'), `echo "rc file as uid $(id -u)" >> ${mark}\n`);
    mkdirSync(join(home, 'bin'), { recursive: true });
    for (const tool of ['env', 'id', 'ls', 'cat'])
      writeFileSync(join(home, 'bin', tool), `#!/bin/sh\necho "${tool} from PATH as uid $(id -u)" >> ${mark}\n`, {
        mode: 0o755,
      });
    execFileSync('chown', ['-R', `${mallory.name}:`, home]);
    chmodSync(home, 0o755);
  });

  after(async () => {
    for (const e of engines) e.stop();
    for (const h of held) h.kill();
    await daemon?.destroy();
    mallory?.remove();
    alice?.remove();
    removeDir(marks);
  });

  const evil = () => [
    `LD_PRELOAD=${home}/evil.so`,
    `BASH_ENV=${home}/rc.sh`,
    `ENV=${home}/rc.sh`,
    `PROMPT_COMMAND=. ${home}/rc.sh`,
    `PATH=${home}/bin:/usr/bin:/bin`,
    'GREETING=from-mallory',
  ];

  it("an outsider's engine never names a plain host process of theirs, and sets nothing of root's shell", async () => {
    const plain = await processOf(mallory.name, ['sleep', '600']);
    // A container as rootless podman makes one: in a user (and mount) namespace she made.
    const boxed = await processOf(mallory.name, ['unshare', '--map-root-user', '--mount', 'sleep', '600']);
    held.push(plain, boxed);
    const engine = await fakeEngine(mallory, [
      { id: hex('a'), name: `${tag}-host`, pid: plain.pid, env: evil(), workingDir: home },
      { id: hex('b'), name: `${tag}-boxed`, pid: boxed.pid, env: evil(), workingDir: home },
    ]);
    engines.push(engine);
    const found = await waitFor(
      () => {
        const all = containers(daemon);
        const host = all.find((c) => c.name === `${tag}-host`);
        const box = all.find((c) => c.name === `${tag}-boxed`);
        return host && box?.pid !== undefined && { host, box };
      },
      20_000,
      "mallory's containers",
    );
    assert.equal(found.host.engineUid, mallory.uid);
    assert.equal(found.host.pid, undefined, 'a plain process of hers is no container of her engine');
    assert.equal(found.box.pid, boxed.pid, 'a process in her own user namespace is');

    const refused = nsx(daemon, ['enter', `${tag}-host`, '--', '/bin/bash', '-c', 'env; pwd']);
    assert.notEqual(refused.code, 0, refused.stdout);
    assert.match(
      refused.stderr,
      /says it is running, but its process is not in a user namespace its engine's user made/,
    );

    // Root's shell in her real "container": joined, but with none of her words.
    const r = nsx(daemon, ['enter', `${tag}-boxed`, '--', '/bin/bash', '-c', '/usr/bin/env; pwd']);
    assert.equal(r.code, 0, r.stderr);
    for (const word of ['LD_PRELOAD', 'BASH_ENV', 'ENV=', 'PROMPT_COMMAND', 'GREETING', home])
      assert.ok(!r.stdout.includes(word), `${word} reached root's shell:\n${r.stdout}`);
    assert.match(r.stdout, /^PATH=\/usr\/local\/sbin:\/usr\/local\/bin:\/usr\/sbin:\/usr\/bin:\/sbin:\/bin$/m);
    // Nor a member's shell: alice is not mallory.
    const a = nsx(daemon, ['enter', `${tag}-boxed`, '-t', 'net,uts,ipc', '--', '/bin/bash', '-c', 'env; pwd'], {
      user: alice.name,
    });
    assert.equal(a.code, 0, a.stderr);
    for (const word of ['LD_PRELOAD', 'BASH_ENV', 'GREETING', home])
      assert.ok(!a.stdout.includes(word), `${word} reached alice's shell:\n${a.stdout}`);
    assert.equal(pwned(), '', "none of mallory's code ran");
  });

  it("a member's own engine gives their own shell its environment and working directory, as docker exec does", async () => {
    const boxed = await processOf(alice.name, ['unshare', '--map-root-user', '--mount', 'sleep', '600']);
    held.push(boxed);
    engines.push(
      await fakeEngine(alice, [
        {
          id: hex('c'),
          name: `${tag}-alices`,
          pid: boxed.pid,
          env: ['GREETING=from-alice', 'PATH=/usr/bin:/bin'],
          workingDir: '/tmp',
        },
      ]),
    );
    await waitFor(
      () => containers(daemon).find((c) => c.name === `${tag}-alices`)?.pid !== undefined,
      20_000,
      "alice's container",
    );
    const own = nsx(daemon, ['enter', `${tag}-alices`, '--', '/bin/sh', '-c', 'echo $GREETING; pwd'], {
      user: alice.name,
    });
    assert.equal(own.code, 0, own.stderr);
    assert.equal(own.stdout, 'from-alice\n/tmp\n');
    const root = nsx(daemon, ['enter', `${tag}-alices`, '--', '/bin/sh', '-c', 'echo "[$GREETING]"']);
    assert.equal(root.code, 0, root.stderr);
    assert.equal(root.stdout, '[]\n', "root's shell takes no word of a user's engine");
  });

  it('refuses names with control characters, and shows the container by its id', async () => {
    const user = createUser();
    let engine: FakeEngine | undefined;
    try {
      engine = await fakeEngine(user, [
        { id: hex('d'), name: `${tag}-\x1b]0;owned\x07\u202eevil\nrow`, state: 'exited' },
      ]);
      const c = await waitFor(() => containers(daemon).find((x) => x.id === hex('d')), 20_000, 'the container');
      assert.equal(c.name, hex('d').slice(0, 12));
      const listed = nsx(daemon, ['containers']);
      assert.doesNotMatch(listed.stdout, /[\x1b\x07\u202e]/);
    } finally {
      engine?.stop();
      user.remove();
    }
  });

  it("a user's engine that hangs makes no list wait, and one that answers in megabytes does not grow nsxd", async (t) => {
    const slow = createUser();
    const big = createUser();
    const mine: FakeEngine[] = [];
    try {
      const hung = await fakeEngine(slow, [{ id: hex('e'), name: `${tag}-slow` }], { hang: true });
      mine.push(hung);
      // 64 containers with 4 MiB inspects each: 256 MiB if nsxd read and kept them all.
      const huge = await fakeEngine(
        big,
        Array.from({ length: 64 }, (_, i) => ({
          id: i.toString(16).padStart(64, '0'),
          name: `${tag}-big${i}`,
          pid: 1,
          padding: 4 * 1024 * 1024 - 512,
        })),
      );
      mine.push(huge);
      await waitFor(() => containers(daemon).some((c) => c.name === `${tag}-big0`), 20_000, 'the big engine listed');
      // The hung engine holds the request a list started; the next list answers all the same, from what is known.
      const asked = () => hung.requests().filter((p) => p.startsWith('/v4.0.0/libpod/containers/json')).length;
      let proven = false;
      for (let attempt = 0; attempt < 3 && !proven; attempt++) {
        const n = asked();
        await waitFor(
          () => {
            nsx(daemon, ['containers', '--json']);
            return asked() > n;
          },
          20_000,
          'the hung engine asked again',
        );
        const listed = nsx(daemon, ['list', '--json']);
        const answered = Date.now();
        assert.equal(listed.code, 0, listed.stderr);
        // Each request of the list is given up once, in order: the n+1th's end is that of the one just made.
        const gaveUp = await waitFor(() => hung.aborted()[n], 10_000, 'nsxd to give up on the hung engine');
        proven = gaveUp.at > answered;
      }
      // And the list says which API did not answer, and why.
      const apis = await waitFor(
        () => {
          const engines = JSON.parse(nsx(daemon, ['list', '--json']).stdout).engines as
            { socket: string; uid: number; answering: boolean; reason?: string }[] | undefined;
          return engines?.find((e) => e.socket === hung.socket && !e.answering);
        },
        10_000,
        'the hung API said not to answer',
      );
      assert.equal(apis.uid, slow.uid);
      assert.match(apis.reason ?? '', /no answer within 2000 ms/);
      assert.ok(proven, 'every list answered only after nsxd gave up on the hung engine: it waited for it');
      for (let i = 0; i < 3; i++) {
        const r = nsx(daemon, ['list', '--json', '--rescan']);
        assert.equal(r.code, 0, `list --rescan: ${r.stderr}`);
        await new Promise((r) => setTimeout(r, 2100));
      }
      const peak =
        Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${daemon.proc.pid}/status`, 'utf8'))![1]) / 1024;
      assert.ok(peak < 160, `nsxd peaked at ${peak.toFixed(0)} MiB`);
      // Counted at the engine: the test's nsxd is the only one that asks it.
      const inspects = huge.requests().filter((p) => p.startsWith('/containers/')).length;
      const lists = huge.requests().filter((p) => p.startsWith('/v4.0.0/libpod/containers/json')).length;
      assert.ok(inspects <= 8 * lists, `${inspects} inspects in ${lists} refreshes: each refresh stops at its budget`);
      t.diagnostic(`nsxd peaked at ${peak.toFixed(0)} MiB; ${inspects} inspects of 4 MiB in ${lists} refreshes`);
    } finally {
      for (const e of mine) e.stop();
      slow.remove();
      big.remove();
    }
  });
});
