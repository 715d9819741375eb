// nsx's C front (native/nsx.c, and the files native/programs.json lists with
// it): `nsx list` answered without starting Node, in the very words of the
// Node client, which gets every other command line and every failure.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { printable } from '../../helper/common/format';
import { PROTOCOL_VERSION } from '../../helper/common/protocol';
import { createUser, Daemon, holdNamespaces, NSX, NSX_JS, nsInode, nsx, startDaemon, waitFor } from '../support';
import { asanBuild, fakeDaemon, frame, frameBytes, front, HELLO } from './front';

/** The same command line through the Node client alone. */
function nsxJs(socket: string, args: string[]) {
  // A busy host's list is megabytes: more than spawnSync keeps by default, past which it kills the child.
  const r = spawnSync(process.execPath, [NSX_JS, '--socket', socket, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const NAME = 'sleep \x1b]0;owned\x07 héllo ✓ 𝄞';
/**
 * The front reads into 64 KiB first: a message (ASCII) that ends exactly where
 * that buffer does, its last character repeated (a space after a colon), so
 * that a read past its end is one past the allocation, as AddressSanitizer sees.
 */
function filling(start: string, framed = true): string {
  const pad = (length: number) => start.padEnd(length, start.endsWith(':') ? ' ' : start.at(-1));
  if (!framed) return pad(65536);
  for (let length = 65536 - 25; ; length++) {
    const header = `Content-Length: ${length}\r\n\r\n`;
    if (header.length + length === 65536) return header + pad(length);
  }
}

/** Answers no client should believe: each must leave the front without a crash, a read out of bounds or a word printed. */
const MALFORMED = [
  'Content-Length: 99999999999999\r\n\r\n{',
  'Content-Length: 20\r\n\r\n{"jsonrpc":"2.0","id',
  frame('{"jsonrpc":"2.0","deep":' + '['.repeat(1_000_000)),
  frame('{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"3"}}'),
  frame('{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":3}}') +
    frame('{"jsonrpc":"2.0","id":2,"result":{"text":"unterminated \\u12'),
  frame('{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":3}}') +
    frame('{"jsonrpc":"2.0","id":2,"result":{"text":42}}'),
  frame('{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":3}}') +
    frame('{"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"no"}}'),
  'x'.repeat(5000),
  // Headers: digits to the end of what was sent and no blank line; no value; huge, negative, twice.
  filling('Content-Length: 9', false),
  filling('Content-Length:\r\n\r\n1', false),
  'Content-Length: 1073741824\r\n\r\n{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":3}}',
  'Content-Length: 99999999999999999999999999999\r\n\r\n{',
  'Content-Length: -18446744073709551615\r\n\r\n{',
  'Content-Length: 2\r\nContent-Length: 57\r\n\r\n{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":3}}',
  // Bodies that end, exactly where the buffer does, in a number or before a value.
  filling('{"jsonrpc":"2.0","id":1'),
  filling('{"jsonrpc":"2.0","id":'),
  filling('{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":3'),
  filling('{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":'),
  // The table's string cut short: mid-string, mid-escape, between the halves of a surrogate pair.
  HELLO + frame('{"jsonrpc":"2.0","id":2,"result":{"text":"NS TYPE'),
  HELLO + frame('{"jsonrpc":"2.0","id":2,"result":{"text":"NS TYPE\\'),
  HELLO + frame('{"jsonrpc":"2.0","id":2,"result":{"text":"NS TYPE\\ud834\\u'),
  HELLO + filling('{"jsonrpc":"2.0","id":2,"result":{"text":"NS TYPE'),
];

describe('nsx, the C front of the CLI', () => {
  let daemon: Daemon;
  let held: Awaited<ReturnType<typeof holdNamespaces>>;
  before(async () => {
    daemon = await startDaemon();
    // A process whose cmdline a terminal must not act on, and whose non-ASCII must come through whole.
    held = await holdNamespaces(['--net', '--uts'], `exec bash -c 'exec -a "$0" sleep 3600' '${NAME}'`);
  });
  after(async () => {
    held.kill();
    await daemon.destroy();
  });

  it('prints the table the Node client prints, with -t as nsxd spells types', () => {
    const net = nsInode(held.pid, 'net');
    const row = (out: string) => out.split('\n').find((l) => l.startsWith(`${net} `));
    const front = nsx(daemon, ['list', '-t', 'net,uts']);
    const node = nsxJs(daemon.socket, ['list', '-t', 'net,uts']);
    assert.equal(front.code, 0, front.stderr);
    assert.equal(front.stdout.split('\n')[0], node.stdout.split('\n')[0], 'the same header');
    assert.ok(row(front.stdout), front.stdout);
    assert.equal(row(front.stdout), row(node.stdout));
    assert.match(row(front.stdout)!, /sleep \\x1b\]0;owned\\x07 héllo ✓ 𝄞 3600$/, 'escapes made visible, UTF-8 whole');
    assert.ok(!/\x1b/.test(front.stdout), 'no escape character reaches the terminal');
    assert.ok(
      front.stdout
        .split('\n')
        .slice(1, -1)
        .every((l) => / (net|uts) /.test(l)),
      'only the types asked',
    );
  });

  it('hands every other command line to the Node client, and it answers as always', () => {
    for (const args of [
      ['list', '-t', 'NET,Mount'],
      ['list', '-n'],
      ['pins'],
      ['--version'],
      ['list', '-t', 'bogus'],
      ['frobnicate'],
      ['list', 'extra'],
    ]) {
      const front = nsx(daemon, args);
      const node = nsxJs(daemon.socket, args);
      assert.equal(front.code, node.code, `${args.join(' ')}: ${front.stderr}`);
      assert.equal(front.stderr, node.stderr, args.join(' '));
      if (args[0] !== 'list' || front.code !== 0) assert.equal(front.stdout, node.stdout, args.join(' '));
    }
    assert.match(nsx(daemon, ['list', '-t', 'NET,Mount']).stdout, /^\d+ net /m);
    const net = nsInode(held.pid, 'net');
    const json = (
      JSON.parse(nsx(daemon, ['list', '--json', '--type=net']).stdout).namespaces as {
        inode: number;
        processes: { cmdline: string[] }[];
      }[]
    ).find((n) => n.inode === net);
    assert.equal(json?.processes[0].cmdline[0], NAME, '--json, from the front');
    assert.match(nsx(daemon, ['list', '-t', 'bogus']).stderr, /unknown namespace type "bogus"/);
  });

  it('says what the Node client says when nsxd is not there', () => {
    const front = nsx('/tmp/nowhere/nsxd.sock', ['list']);
    assert.equal(front.code, 1);
    assert.equal(front.stderr, nsxJs('/tmp/nowhere/nsxd.sock', ['list']).stderr);
    assert.match(front.stderr, /nsxd is not running/);
  });

  it('leaves a reader that stops early (nsx list --json | head) without an error', () => {
    const r = spawnSync(
      'bash',
      ['-o', 'pipefail', '-c', `'${NSX}' --socket '${daemon.socket}' list --json | head -c 1`],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '{');
    assert.equal(r.stderr, '');
  });

  it('says in one line, in the same words from the C front and the Node client, that its output could not be written', () => {
    for (const args of [['list'], ['list', '--json']]) {
      const r = spawnSync('bash', ['-c', `'${NSX}' --socket '${daemon.socket}' ${args.join(' ')} > /dev/full`], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 1, args.join(' '));
      assert.equal(r.stderr, 'nsx: writing the output: No space left on device\n', args.join(' '));
    }
  });

  it('hands an nsxd of another protocol to the Node client, which names it, and keeps no socket open across the hand-off', async () => {
    const hungUpFirst: boolean[] = [];
    const fake = await fakeDaemon((s, n) => {
      if (n > 1) hungUpFirst.push(fake.connections[0].readableEnded || fake.connections[0].destroyed);
      s.once('data', () =>
        s.write(
          frame(
            JSON.stringify({
              jsonrpc: '2.0',
              id: n === 1 ? 1 : 0,
              result: {
                capabilities: {},
                serverInfo: { name: 'nsxd', version: '0.0.1' },
                protocolVersion: 1,
                identity: { uid: 0, user: 'root', role: 'admin', rootShells: true, nstypes: [] },
              },
            }),
          ),
        ),
      );
      s.on('end', () => s.end());
    });
    try {
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const p = spawn(NSX, ['--socket', fake.socket, 'list'], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        p.stderr.on('data', (d) => {
          stderr += d;
        });
        p.on('close', (code) => resolve({ code, stderr }));
      });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`nsxd 0\\.0\\.1 speaks protocol 1, this client ${PROTOCOL_VERSION}`));
      assert.equal(fake.connections.length, 2, 'the front asked, then the Node client');
      assert.deepEqual(
        hungUpFirst,
        [true],
        "the front's socket was closed on exec (close-on-exec), not inherited by Node",
      );
    } finally {
      fake.close();
    }
  });

  it('survives any malformed answer: no crash, nothing printed, the Node client reports it', async () => {
    const asan = asanBuild();
    try {
      const runs = [NSX, asan.bin].flatMap((bin) =>
        [['list'], ['list', '--json']].flatMap((args) => MALFORMED.map((answer) => ({ bin, args, answer }))),
      );
      for (const { bin, args, answer } of runs) {
        const what = `${bin === NSX ? 'nsx' : 'nsx (ASAN)'} ${args.join(' ')}: ${JSON.stringify(answer.slice(0, 60))}`;
        // The front gets the malformed answer; the Node client after it, a hang-up.
        const fake = await fakeDaemon((s, n) => {
          if (n === 1) s.once('data', () => s.end(answer));
          else s.destroy();
        });
        try {
          // AddressSanitizer's own status, so that a report is never taken for the Node client's 1.
          const r = await front(bin, ['--socket', fake.socket, ...args], {
            ASAN_OPTIONS: 'exitcode=86:detect_leaks=1',
          });
          assert.doesNotMatch(r.stderr, /AddressSanitizer|LeakSanitizer/, what);
          assert.equal(r.signal, null, `${what}: killed by ${r.signal}`);
          assert.equal(r.stdout.toString(), '', what);
          // Not the status 0 of a request left unanswered for ever, as vscode-jsonrpc would leave it.
          assert.equal(r.code, 1, `${what}: ${r.stderr}`);
          assert.match(
            r.stderr,
            /^nsx: nsxd at .* closed the connection before answering; it may be stopping: try again\n$/,
            what,
          );
          assert.equal(fake.connections.length, 2, `${what}: handed to the Node client`);
        } finally {
          fake.close();
        }
      }
    } finally {
      asan.remove();
    }
  });

  it("makes visible what a terminal would act on in nsxd's table, however it was encoded, as the Node client does", async () => {
    // ESC, CSI, OSC, CR, RLO, C1 CSI, NUL, DEL, NEL, ALM, LRM, RLM, LS, PS, LRI, PDI; tab and newline are layout.
    const text =
      'NS\tTYPE\n\x1b[2J\x1b]0;owned\x07\x1b[31m\r\u202eevil\u202c\u009b2J\x00\x7f\u0085\u061c\u200e\u200f\u2028\u2029\u2066\u2069 héllo ✓ 𝄞\n';
    const ascii = (s: string) =>
      s.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    const bodies = [
      // As nsxd writes JSON (C0 escaped, the rest raw UTF-8), and all of it as \uXXXX escapes, surrogate pairs included.
      Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 2, result: { text } })),
      Buffer.from(`{"jsonrpc":"2.0","id":2,"result":{"text":"${ascii(JSON.stringify(text).slice(1, -1))}"}}`),
      // Lone surrogates, and invalid UTF-8: a lone C1 byte, overlong ESC and CSI, a surrogate, cut sequences.
      Buffer.from(
        '{"jsonrpc":"2.0","id":2,"result":{"text":"\\ud800x\\udc00\\ud834 \x01\x02 \x9b\xc0\x9b\xe0\x82\x9b\xed\xa0\x80\xc2 \xe2\x80 \xf4\x90\x80\x80 \xff\xc2\x9b end"}}',
        'latin1',
      ),
    ];
    for (const body of bodies) {
      const fake = await fakeDaemon((s, n) => {
        if (n === 1)
          s.once('data', () => {
            s.write(HELLO);
            s.once('data', () => s.end(frameBytes(body)));
          });
        else s.destroy();
      });
      try {
        const r = await front(NSX, ['--socket', fake.socket, 'list']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(fake.connections.length, 1, 'answered by the front');
        assert.ok(
          !/[\x00-\x08\x0b-\x1f\x7f]/.test(r.stdout.toString('latin1')),
          `no raw C0 or DEL: ${JSON.stringify(r.stdout.toString('latin1'))}`,
        );
        const out = new TextDecoder('utf-8', { fatal: true }).decode(r.stdout);
        assert.ok(
          !/[\x80-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/.test(out),
          `no C1 or bidi control: ${JSON.stringify(out)}`,
        );
        // What the Node client prints: its UTF-8 decoded as TextDecoder does, and lone surrogates written as U+FFFD
        // (the raw C0 bytes, which JSON.parse would refuse, as escapes).
        const decoded = body.includes('\x01')
          ? JSON.parse(body.toString('utf8').replace(/[\x01\x02]/g, (c) => `\\u000${c.charCodeAt(0)}`)).result.text
          : text;
        assert.equal(out, Buffer.from(printable(decoded)).toString('utf8'), 'what the Node client prints');
      } finally {
        fake.close();
      }
    }
  });

  it('believes only a root nsxd: a server of another user on --socket or NSX_SOCKET is refused, and nothing it says printed', async () => {
    const user = createUser();
    const dir = mkdtempSync(join(tmpdir(), 'nsx-impostor-'));
    chownSync(dir, user.uid, 0);
    chmodSync(dir, 0o700);
    const socket = join(dir, 'nsxd.sock');
    // Answers every request, whatever its id, as nsxd would, with a table of its own.
    const impostor = `
      const hello = ${JSON.stringify(JSON.parse(HELLO.slice(HELLO.indexOf('{'))).result)};
      require('net').createServer((s) => s.on('data', (d) => {
        for (const [, id] of String(d).matchAll(/"id":(\\d+)/g)) {
          const body = JSON.stringify({ jsonrpc: '2.0', id: Number(id), result: { ...hello, text: 'FORGED 4026531840 net\\n' } });
          s.write('Content-Length: ' + Buffer.byteLength(body) + '\\r\\n\\r\\n' + body);
        }
      })).listen(process.argv[1], () => console.log('listening'));`;
    const proc = spawn('runuser', ['-u', user.name, '--', process.execPath, '-e', impostor, socket], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        proc.stdout.on('data', (d) => {
          if (String(d).includes('listening')) resolve();
        });
        proc.once('exit', (code) => reject(new Error(`the impostor exited with ${code}`)));
      });
      for (const [args, env] of [
        [['--socket', socket, 'list'], {}],
        [['list', '-t', 'net'], { NSX_SOCKET: socket }],
      ] as const) {
        const r = await front(NSX, [...args], env);
        assert.doesNotMatch(r.stdout.toString(), /FORGED/, args.join(' '));
        assert.equal(r.stdout.toString(), '', args.join(' '));
        assert.equal(r.code, 1, args.join(' '));
        assert.match(r.stderr, new RegExp(`^nsx: .*${socket}.* uid ${user.uid}, not root`), args.join(' '));
      }
    } finally {
      // Its node (runuser's child) gone before the user is removed: userdel refuses a user who still has a process.
      spawnSync('pkill', ['-KILL', '-u', user.name]);
      await waitFor(() => spawnSync('pgrep', ['-u', user.name]).status === 1, 10_000, 'the impostor to exit');
      user.remove();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
