// nsx --host over ssh: three "hosts" on this machine (test/hosts.ts), each with
// its own namespaces, sshd and nsxd; a member who logs in with a key; a
// non-member; a host whose key is not the one known.
import assert from 'node:assert/strict';
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { FakeHost, makeHost, sshUser, userFile } from '../hosts';
import { createUser, NSX, waitFor } from '../support';

interface Login {
  name: string;
  home: string;
  remove(): void;
}

/** nsx run as USER with their own HOME (runuser keeps root's), so that their hosts.json is read. */
function nsxAs(user: Login, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync('runuser', ['-u', user.name, '--', 'env', `HOME=${user.home}`, ...envArgs(env), NSX, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

function envArgs(env: Record<string, string>): string[] {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

function hostsJson(hosts: FakeHost[], user: string): string {
  const sshOptions = { ServerAliveInterval: '1', ServerAliveCountMax: '3', ConnectTimeout: '3' };
  return JSON.stringify(hosts.map((h) => ({ name: h.name, ssh: `${user}@${h.ip}`, sshOptions })));
}

describe('nsx --host over ssh', { timeout: 240_000 }, () => {
  let a: FakeHost, b: FakeHost, c: FakeHost;
  let member: Login, outsider: Login;
  const made: (() => void)[] = [];

  before(async () => {
    a = await makeHost('h24a', 241, 'sleep 6001');
    made.push(a.destroy);
    b = await makeHost('h24b', 242, 'sleep 6002');
    made.push(b.destroy);
    c = await makeHost('h24c', 243, 'sleep 6003');
    made.push(c.destroy);
    for (const inGroup of [true, false]) {
      const u = createUser({ inGroup });
      made.push(u.remove);
      const { home } = sshUser(u.name);
      // B's key is not the one known for its address: ssh must refuse it.
      userFile(u.name, home, '.ssh/known_hosts', `${a.ip} ${a.hostKey}\n${b.ip} ${a.hostKey}\n${c.ip} ${c.hostKey}\n`);
      userFile(u.name, home, '.config/nsx/hosts.json', hostsJson([a, b, c], u.name));
      if (inGroup) member = { ...u, home };
      else outsider = { ...u, home };
    }
  });

  after(() => {
    for (const undo of made.reverse()) undo();
  });

  it("lists the host's own processes only, and says ssh's sentence for a host whose key changed", () => {
    const listed = nsxAs(member, ['--host', 'h24a', 'list']);
    assert.equal(listed.code, 0, listed.stderr + a.log());
    assert.match(listed.stdout, /sleep 6001/);
    assert.doesNotMatch(listed.stdout, /sleep 600[23]/);
    const third = nsxAs(member, ['--host', 'h24c', 'list']);
    assert.equal(third.code, 0, third.stderr + c.log());
    assert.match(third.stdout, /sleep 6003/);
    assert.doesNotMatch(third.stdout, /sleep 600[12]/);
    const refused = nsxAs(member, ['--host', 'h24b', 'list']);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^nsx: h24b \(ssh \S+@10\.24\.242\.2\) did not answer: .*Host key verification failed/,
    );
    // NSX_HOST names it too; once the right key is known, B answers with its own.
    userFile(member.name, member.home, '.ssh/known_hosts', [a, b, c].map((h) => `${h.ip} ${h.hostKey}\n`).join(''));
    const fromB = nsxAs(member, ['list'], { NSX_HOST: 'h24b' });
    assert.equal(fromB.code, 0, fromB.stderr + b.log());
    assert.match(fromB.stdout, /sleep 6002/);
    assert.doesNotMatch(fromB.stdout, /sleep 600[13]/);
  });

  it('is the ssh login user to the far nsxd: a member runs as themselves, a non-member is refused', () => {
    const id = nsxAs(member, ['--host', 'h24a', 'enter', String(a.innerPid(a.find('sleep 6001')!)), '--', 'id', '-un']);
    assert.equal(id.code, 0, id.stderr);
    assert.equal(id.stdout.trim(), member.name);
    const out = nsxAs(outsider, ['--host', 'h24a', 'list']);
    assert.equal(out.code, 1);
    assert.match(
      out.stderr,
      /h24a .* did not answer: nsx bridge: cannot reach nsxd at \/run\/nsx\/nsxd.sock: Permission denied/,
    );
  });

  it('captures there too: nsx --host h24a capture, pcapng on stdout', () => {
    const r = spawnSync(
      'runuser',
      [
        '-u',
        member.name,
        '--',
        'env',
        `HOME=${member.home}`,
        NSX,
        '--host',
        'h24a',
        'capture',
        'host',
        '-c',
        '2',
        '-w',
        '-',
      ],
      { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
    );
    assert.equal(r.status, 0, String(r.stderr));
    // A pcapng file starts with its Section Header Block.
    assert.equal(r.stdout.readUInt32LE(0), 0x0a0d0d0a);
  });

  it('a shell there answers again after its link dropped and came back', async () => {
    const target = String(a.innerPid(a.find('sleep 6001')!));
    const proc: ChildProcess = spawn(
      'runuser',
      ['-u', member.name, '--', 'env', `HOME=${member.home}`, NSX, '--host', 'h24a', 'enter', target, '--', 'sh'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => proc.once('exit', r));
    try {
      proc.stdin!.write('echo one-$((1+1))\n');
      await waitFor(() => out.includes('one-2'), 20_000, `the first answer (${err})`);
      execFileSync('ip', ['link', 'set', a.link, 'down']);
      await waitFor(() => /the link to h24a was lost/.test(err), 30_000, `the lost link said (${err})`);
      proc.stdin!.write('echo two-$((2+2))\n');
      execFileSync('ip', ['link', 'set', a.link, 'up']);
      await waitFor(() => out.includes('two-4'), 60_000, `the answer after the link came back (${err})`);
      assert.match(err, /h24a answers again/);
      proc.stdin!.end();
      assert.equal(await exited, 0, err);
    } finally {
      proc.kill('SIGKILL');
      spawnSync('ip', ['link', 'set', a.link, 'up']);
    }
  });
});
