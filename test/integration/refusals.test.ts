// Every privileged request refuses what it must not do: malformed parameters,
// another connection's sessions, and callers outside the group, whatever they ask.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateNamespace,
  ListNamespaces,
  PinNamespace,
  PrintNamespaces,
  Subscribe,
  TerminalClose,
  TerminalInput,
  TerminalOpen,
  TerminalOpenParams,
  UnpinNamespace,
} from '../../helper/common/protocol';
import { createUser, Daemon, holdNamespaces, startDaemon, waitFor } from '../support';

describe('refusals', () => {
  let daemon: Daemon;
  let outsider: ReturnType<typeof createUser>;
  let target: Awaited<ReturnType<typeof holdNamespaces>>;
  before(async () => {
    daemon = await startDaemon();
    outsider = createUser();
    target = await holdNamespaces(['--uts']);
  });
  after(async () => {
    target.kill();
    await daemon.destroy();
    outsider.remove();
  });

  it('refuses malformed terminal/open requests before starting anything', async () => {
    const c = await daemon.client();
    try {
      const bad: [Record<string, unknown>, RegExp][] = [
        [{ types: ['nope'] }, /not a namespace type/],
        [{ types: [] }, /non-empty array/],
        [{ types: ['uts'], hostname: 'bad host!' }, /not a hostname/],
        [{ types: ['net'], hostname: 'ok' }, /needs a new uts namespace/],
        [{ target: { pid: target.pid }, types: ['uts'], freshProc: true }, /freshProc needs the pid namespace/],
        [{ target: { pid: -1 } }, /not a pid/],
        [{ target: {} }, /must name a pid, a pin, a namespace or a container/],
        [{ target: { pin: { type: 'net', name: '../x' } } }, /bad pin name/],
        [{ target: { namespace: { type: 'uts', inode: 'x' } } }, /not an inode number/],
        [{ target: { container: '../web' } }, /not a container name or id/],
        [{ target: { container: 42 } }, /not a container name or id/],
        [{ types: ['uts'], command: ['sh', 'a\0b'] }, /without NUL/],
        [{ types: ['uts'], command: [] }, /non-empty array/],
        [{ types: ['uts'], pty: { cols: 0, rows: 24 } }, /cols must be an integer/],
        [{ types: ['uts'], root: 'yes' }, /root must be true or false/],
        [{ types: ['uts'], persistent: 'yes' }, /persistent must be true or false/],
      ];
      for (const [params, error] of bad) {
        await assert.rejects(
          c.conn.sendRequest(TerminalOpen, params as TerminalOpenParams),
          error,
          JSON.stringify(params),
        );
      }
    } finally {
      c.close();
    }
    assert.doesNotMatch(daemon.log(), /action=terminal\/open [^\n]*result=ok/, 'no session was started');
    assert.match(
      daemon.log(),
      /action=terminal\/open [^\n]*target=invalid[^\n]*result=refused/,
      'refusals are audited',
    );
  });

  it("does not let one connection type into, or close, another's session", async () => {
    const owner = await daemon.client();
    const intruder = await daemon.client();
    try {
      const s = await owner.conn.sendRequest(TerminalOpen, { types: ['uts'], command: ['sleep', '1239'] });
      await assert.rejects(
        intruder.conn.sendRequest(TerminalInput, { session: s.session, data: Buffer.from('x').toString('base64') }),
        /no session/,
      );
      await intruder.conn.sendNotification(TerminalClose, { session: s.session });
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(spawnSync('pgrep', ['-f', 'sleep 1239']).status, 0, 'the session lives on');
    } finally {
      owner.close();
      intruder.close();
    }
    await waitFor(
      () => spawnSync('pgrep', ['-f', 'sleep 1239']).status !== 0,
      10_000,
      'the session gone with its owner',
    );
  });

  it('refuses malformed pin, create, unpin, subscribe and print requests', async () => {
    const c = await daemon.client();
    try {
      await assert.rejects(c.conn.sendRequest(PinNamespace, { type: 'uts', name: 'no-target' }), /by pid, or by inode/);
      await assert.rejects(
        c.conn.sendRequest(PinNamespace, { pid: target.pid, type: 'uts', name: 'x'.repeat(65) }),
        /bad pin name/,
      );
      await assert.rejects(c.conn.sendRequest(CreateNamespace, { type: 'net', name: 'a/b' }), /bad pin name/);
      await assert.rejects(
        c.conn.sendRequest(CreateNamespace, { type: 'bogus' as never, name: 'ok' }),
        /not a namespace type/,
      );
      await assert.rejects(c.conn.sendRequest(UnpinNamespace, { type: 'net', name: '..' }), /bad pin name/);
      await assert.rejects(c.conn.sendRequest(Subscribe, { intervalMs: 1 }), /intervalMs must be an integer/);
      await assert.rejects(
        c.conn.sendRequest(PrintNamespaces, { types: ['net', '../pins'] } as never),
        /not a namespace type: "\.\.\/pins"/,
      );
      await assert.rejects(
        c.conn.sendRequest(PrintNamespaces, { types: 'net' } as never),
        /types must be a non-empty array/,
      );
      await assert.rejects(c.conn.sendRequest(PrintNamespaces, { rescan: 1 } as never), /rescan must be true or false/);
      await assert.rejects(
        c.conn.sendRequest(PrintNamespaces, { columns: ['NS', '../x'] } as never),
        /unknown column "\.\.\/x"/,
      );
      await assert.rejects(
        c.conn.sendRequest(PrintNamespaces, { columns: [] } as never),
        /columns must be a non-empty array/,
      );
      await assert.rejects(
        c.conn.sendRequest(PrintNamespaces, { columns: Array(33).fill('NS') } as never),
        /at most 32/,
      );
      await assert.rejects(c.conn.sendRequest(PrintNamespaces, { raw: 'yes' } as never), /raw must be true or false/);
      await assert.rejects(
        c.conn.sendRequest(PrintNamespaces, { noHeadings: 1 } as never),
        /noHeadings must be true or false/,
      );
      await assert.rejects(
        c.conn.sendRequest(ListNamespaces, { rescan: 'yes' } as never),
        /rescan must be true or false/,
      );
      await assert.rejects(c.conn.sendRequest(ListNamespaces, [] as never), /params must be an object/);
    } finally {
      c.close();
    }
  });

  it('refuses a caller outside the group whatever it asks for, a shell included', () => {
    // Carrying the group's gid is not membership: nsxd asks the host's user database.
    const nsxJs = join(__dirname, '../../nsx.js');
    for (const args of [
      ['isolate', '--', 'id'],
      ['pin', '--new', 'net', 'sneaky'],
      ['enter', String(target.pid), '--', 'id'],
    ]) {
      const r = spawnSync(
        'setpriv',
        [
          '--reuid',
          outsider.name,
          '--regid',
          'nsx',
          '--clear-groups',
          process.execPath,
          nsxJs,
          '--socket',
          daemon.socket,
          ...args,
        ],
        { encoding: 'utf8' },
      );
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.stderr, /access denied: .* is not a member of the group "nsx"/);
    }
    assert.doesNotMatch(daemon.log(), /sneaky/);
  });
});
