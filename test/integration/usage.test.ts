// nsx speaks like util-linux: a usage error is one line and exit status 2,
// and `nsx list` has lsns's NSFS column, -o/--output with lsns's column
// names, -n/--noheadings and -r/--raw, through the C front and the Node
// client alike.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Daemon, holdNamespaces, NSX_JS, nsInode, nsx, startDaemon } from '../support';

describe('nsx speaks like util-linux', () => {
  let daemon: Daemon;
  let held: Awaited<ReturnType<typeof holdNamespaces>>;
  const pin = `u${process.pid}`;
  before(async () => {
    daemon = await startDaemon();
    held = await holdNamespaces(['--net', '--uts']);
    assert.equal(nsx(daemon, ['pin', String(held.pid), 'net', pin]).code, 0);
  });
  after(async () => {
    nsx(daemon, ['unpin', 'net', pin]);
    held.kill();
    await daemon.destroy();
  });

  it('says a usage error in one line, where the help is, and exits 2', () => {
    const cases: [string[], RegExp][] = [
      [['list', '-t'], /^nsx: option -t needs a value$/],
      [['enter', '-1'], /^nsx: unknown option -1$/],
      [['enter', 'web', '--'], /^nsx: nothing to run after --: give a command, or leave -- out for a shell$/],
      [['list', '--json=yes'], /^nsx: option --json takes no value$/],
      [['list', '-o', 'NS,BOGUS'], /^nsx: unknown column "BOGUS" \(one of NS, TYPE, .*\)$/],
      [['frobnicate'], /^nsx: unknown command "frobnicate"$/],
    ];
    for (const [args, message] of cases) {
      const r = nsx(daemon, args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      const lines = r.stderr.trimEnd().split('\n');
      assert.deepEqual(lines.length, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(lines[0], message);
      assert.equal(lines[1], "Try 'nsx --help' for more information.");
      assert.equal(r.stdout, '');
    }
  });

  it('says of a namespace that is not there that it is not there, not that it went', () => {
    const r = nsx(daemon, ['details', 'net:123']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^nsx: there is no net:\[123\] now: no process, fd or mount holds it/);
  });

  it("shows where a namespace is bind-mounted (NSFS), and lays the table out as lsns's -o, -n and -r say", () => {
    const net = nsInode(held.pid, 'net');
    const header = nsx(daemon, ['list']).stdout.split('\n')[0];
    assert.match(header, /^ +NS TYPE +NPROCS +PID USER +NSFS +CONTAINER +COMMAND$/);
    const row = nsx(daemon, ['list', '-t', 'net'])
      .stdout.split('\n')
      .find((l) => l.trimStart().startsWith(`${net} `));
    assert.match(row ?? '', new RegExp(`/run/netns/${pin}`), 'its pin, where ip netns sees it');

    const picked = nsx(daemon, ['list', '-t', 'net', '-o', 'ns,nsfs,pid', '-n']);
    assert.equal(picked.code, 0, picked.stderr);
    const mine = picked.stdout.split('\n').find((l) => l.trimStart().startsWith(`${net} `));
    assert.ok(mine, picked.stdout);
    assert.match(mine, new RegExp(`^${net} \\S*/run/netns/${pin}\\S* +${held.pid}$`));
    assert.doesNotMatch(picked.stdout, /NSFS/, 'no headings');

    const added = nsx(daemon, ['list', '-t', 'uts', '-o', '+PPID']).stdout.split('\n')[0];
    assert.match(added, /NS TYPE +NPROCS +PID USER +NSFS +CONTAINER +COMMAND +PPID$/);

    const raw = nsx(daemon, ['list', '-t', 'net', '-r', '-o', 'NS,TYPE,COMMAND']);
    const rawRow = raw.stdout.split('\n').find((l) => l.startsWith(`${net} `));
    assert.equal(raw.stdout.split('\n')[0], 'NS TYPE COMMAND');
    assert.match(rawRow ?? '', new RegExp(`^${net} net \\S+$`), 'one space between cells, and none inside one');
    assert.match(rawRow!, /\\x20/, "the command's blanks written as \\x20");

    // The Node client lays it out the same as the C front.
    const node = spawnSync(
      process.execPath,
      [NSX_JS, '--socket', daemon.socket, 'list', '-t', 'net', '-o', 'ns,nsfs,pid', '-n'],
      { encoding: 'utf8' },
    );
    assert.equal(node.stdout, picked.stdout);
  });
});
