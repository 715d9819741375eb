// `nsx list --json` from nsx's C front (native/cli-list.c): written from
// nsxd's answer byte for byte as the Node client writes it, or, when the
// answer is not as JSON.stringify writes one, handed to the Node client.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Daemon, holdNamespaces, NSX, NSX_JS, nsInode, startDaemon } from '../support';
import { asanBuild, fakeDaemon, front, HELLO } from './front';

const HELLO_RESULT = JSON.stringify(JSON.parse(HELLO.slice(HELLO.indexOf('{'))).result);

/** Answers each request of each connection: initialize with nsxd's hello, namespaces/list with RESULT's bytes. */
function answering(result: Buffer) {
  return (s: Socket) => {
    let got = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      for (let blank; (blank = got.indexOf('\r\n\r\n')) >= 0;) {
        const length = Number(/Content-Length: (\d+)/i.exec(got.subarray(0, blank).toString())![1]);
        if (got.length < blank + 4 + length) return;
        const request = JSON.parse(got.subarray(blank + 4, blank + 4 + length).toString());
        got = got.subarray(blank + 4 + length);
        if (request.id === undefined) continue;
        const body = Buffer.concat([
          Buffer.from(`{"jsonrpc":"2.0","id":${request.id},"result":`),
          request.method === 'initialize' ? Buffer.from(HELLO_RESULT) : result,
          Buffer.from('}'),
        ]);
        s.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
      }
    });
  };
}

/** What the front (BIN) and the Node client each write for ARGS from a fake nsxd that answers RESULT; how often each connected. */
async function both(bin: string, result: Buffer, args: string[]) {
  const fake = await fakeDaemon(answering(result));
  try {
    const c = await front(bin, ['--socket', fake.socket, 'list', '--json', ...args], {
      ASAN_OPTIONS: 'exitcode=86:detect_leaks=1',
    });
    const connections = fake.connections.length;
    // Not spawnSync: this process is the fake nsxd that answers it.
    const node = await front(process.execPath, [NSX_JS, '--socket', fake.socket, 'list', '--json', ...args]);
    return { c, connections, node };
  } finally {
    fake.close();
  }
}

const ns = { cgroup: 4026531835, ipc: 4026531839, mnt: 4026531841, net: 4026531840 };
/** An answer as nsxd writes one, with what a hostile process, container or engine may put in it. */
const HOSTILE = {
  namespaces: [
    {
      type: 'net',
      inode: 4026531840,
      pids: [1, 42, 999],
      holders: [{ kind: 'fd', pid: 42, fd: 3, comm: '\x1b[2J', count: 2 }],
      initial: true,
      pins: [],
      addresses: ['10.0.0.1', 'fd00::2'],
      nprocs: 99,
      processes: 'forged',
    },
    {
      type: 'uts',
      inode: 4026531838,
      pids: [],
      holders: [],
      initial: true,
      pins: [{ name: 'p\u202e', by: { uid: 0, user: 'root' }, paths: ['/run/nsx/pins/uts/p'] }],
      hostname: 'h\x1b[31m',
      container: { runtime: 'docker', id: 'abc', name: 'web' },
    },
    { type: 'pid', inode: 4026531836, pids: [7, 1], holders: [], initial: false, pins: [], owner: -4026531837 },
  ],
  processes: [
    { pid: 1, ppid: 0, comm: 'init', cmdline: ['/sbin/init'], uid: 0, user: 'root', ns },
    {
      pid: 42,
      ppid: 1,
      comm: 'x\x1b]0;owned\x07',
      cmdline: [
        'a\u009b2J nel\u0085 del\x7f',
        '\u202eevil\u202c \u061c\u200e\u200f\u2066\u2069 l\u2028s\u2029',
        '\ud800 lone, lone \udc00, \udbff\ud800, pair 𝄞 ✓ héllo',
        'q"uote\\back\n\t\r\b\f\x00\x01\x1f /',
        '',
      ],
      uid: 1000,
      user: 'm\u0085allory',
      ns,
    },
    { pid: 7, comm: 'partial' },
  ],
  containers: [
    {
      engine: 'docker',
      engineUid: 0,
      id: 'abc',
      name: 'we\u009bb',
      image: 'i',
      state: 'running',
      namespaces: [{ type: 'net', inode: 4026531840 }],
      source: 'api',
      deep: [[], {}, [1, [2, { a: null, b: true, c: false, '': 'empty key' }]]],
    },
  ],
  engines: [{ engine: 'docker', uid: 0, socket: '/run/docker.sock', answering: false, reason: 'no\x07' }],
  scanMs: 12,
};

/** Canonical answers: each the front writes itself. */
const CANONICAL: [string, unknown][] = [
  ['hostile strings, a pid of no process, forged members', HOSTILE],
  ['no engines, no containers member', { ...HOSTILE, engines: undefined, containers: undefined }],
  ['nothing at all', { namespaces: [], processes: [], containers: [] }],
  [
    // Bigger than the front's 64 KiB buffers: an argument of 100 KB, and hundreds of namespaces.
    'a big host',
    {
      ...HOSTILE,
      namespaces: Array.from({ length: 400 }, (_, i) => ({ ...HOSTILE.namespaces[i % 3], inode: 4026540000 + i })),
      processes: [
        ...HOSTILE.processes,
        ...Array.from({ length: 300 }, (_, i) => ({
          ...HOSTILE.processes[0],
          pid: 1000 + i,
          cmdline: ['x'.repeat(i)],
        })),
        { ...HOSTILE.processes[1], pid: 999, cmdline: ['y\u0085'.repeat(50_000)] },
      ],
    },
  ],
];

const text = (value: unknown) => Buffer.from(JSON.stringify(value));
const hostile = JSON.stringify(HOSTILE);
/** A string of an overlong CSI and a lone continuation byte, which Node reads as U+FFFD each. */
const BAD = Buffer.from([0x22, 0xc0, 0x9b, 0x80, 0x22]);
const withTail = (what: string) => Buffer.from(hostile.replace('"scanMs":12', what));

/** Answers that are not as JSON.stringify writes them: each goes to the Node client. */
const HANDED: [string, Buffer][] = [
  ['spaces', Buffer.from(JSON.stringify(HOSTILE, null, 1))],
  ['an escape stringify does not write', Buffer.from(hostile.replace('"init"', '"in\\u0069t"'))],
  ['an escaped slash', Buffer.from(hostile.replace('"/sbin/init"', '"\\/sbin\\/init"'))],
  ['uppercase hex', Buffer.from(hostile.replace('\\u001b', '\\u001B'))],
  ['a surrogate pair escaped', Buffer.from(hostile.replace('"init"', '"\\ud834\\udd1e"'))],
  ['a fraction', withTail('"scanMs":1.0')],
  ['an exponent', withTail('"scanMs":1e3')],
  ['minus zero', withTail('"scanMs":-0')],
  ['sixteen digits', withTail('"scanMs":1234567890123456')],
  ['a key twice', Buffer.from(hostile.replace('"pid":7,', '"pid":7,"pid":8,'))],
  ['a key that is an array index', withTail('"scanMs":12,"containers2":{"1":2,"a":3}')],
  ['a pid twice', Buffer.from(hostile.replace('"pid":7,', '"pid":1,'))],
  ['a pid that is a string', Buffer.from(hostile.replace('"pid":7,', '"pid":"7",'))],
  [
    'bytes that are not UTF-8',
    Buffer.concat(hostile.split('"init"').flatMap((part, i) => (i ? [BAD, Buffer.from(part)] : [Buffer.from(part)]))),
  ],
  ['a scan cut', text({ ...HOSTILE, cut: { processes: 2, fds: 1234, pids: [1, 42] } })],
];

describe('nsx list --json, from the C front', () => {
  let daemon: Daemon;
  let held: Awaited<ReturnType<typeof holdNamespaces>>;
  let asan: ReturnType<typeof asanBuild>;
  before(async () => {
    daemon = await startDaemon();
    held = await holdNamespaces(['--net', '--uts'], `exec bash -c 'exec -a "$0" sleep 3600' 'sleep \x1b]0;x\x07 ✓'`);
    asan = asanBuild();
  });
  after(async () => {
    held.kill();
    await daemon.destroy();
    asan.remove();
  });

  it('writes the bytes the Node client writes, from the same answer, by itself', async () => {
    for (const bin of [NSX, asan.bin])
      for (const [what, value] of CANONICAL)
        for (const args of [[], ['-t', 'net,uts'], ['--type=pid', '--rescan']]) {
          const label = `${bin === NSX ? 'nsx' : 'nsx (ASAN)'} ${args.join(' ')}: ${what}`;
          const { c, connections, node } = await both(bin, text(value), args);
          assert.doesNotMatch(c.stderr, /AddressSanitizer|LeakSanitizer/, label);
          assert.equal(c.code, 0, `${label}: ${c.stderr}`);
          assert.equal(connections, 1, `${label}: answered by the front`);
          assert.equal(node.code, 0, `${label}: ${node.stderr}`);
          assert.ok(c.stdout.equals(node.stdout), `${label}: the same bytes`);
          assert.equal(c.stderr, node.stderr, label);
          assert.doesNotMatch(
            c.stdout.toString(),
            /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/u,
            `${label}: nothing a terminal acts on`,
          );
        }
  });

  it('hands an answer that is not as JSON.stringify writes one to the Node client', async () => {
    for (const bin of [NSX, asan.bin])
      for (const [what, result] of HANDED) {
        const label = `${bin === NSX ? 'nsx' : 'nsx (ASAN)'}: ${what}`;
        const { c, connections, node } = await both(bin, result, []);
        assert.doesNotMatch(c.stderr, /AddressSanitizer|LeakSanitizer/, label);
        assert.equal(connections, 2, `${label}: the front asked, then the Node client`);
        assert.equal(c.code, node.code, `${label}: ${c.stderr}`);
        assert.ok(c.stdout.equals(node.stdout), `${label}: the same bytes`);
        assert.equal(c.stderr, node.stderr, label);
      }
  });

  // A busy host's list is megabytes: more than spawnSync keeps by default, past which it kills the child.
  const BIG = { maxBuffer: 1 << 30 };

  it("writes a real nsxd's namespaces as the Node client does, without the Node client beside it", () => {
    // A copy of the front with no nsx.js beside it: a hand-off would fail.
    const dir = mkdtempSync(join(tmpdir(), 'nsx-alone-'));
    try {
      copyFileSync(NSX, join(dir, 'nsx'));
      const alone = spawnSync(join(dir, 'nsx'), ['--socket', daemon.socket, 'list', '--json', '-t', 'net'], BIG);
      const node = spawnSync(process.execPath, [NSX_JS, '--socket', daemon.socket, 'list', '--json', '-t', 'net'], BIG);
      assert.equal(alone.status, 0, alone.stderr.toString());
      const net = nsInode(held.pid, 'net');
      type Listed = { namespaces: { inode: number; processes: { pid: number; cmdline: string[] }[] }[] };
      const ours = (out: Buffer) => (JSON.parse(out.toString()) as Listed).namespaces.find((n) => n.inode === net);
      assert.deepEqual(ours(alone.stdout), ours(node.stdout));
      assert.equal(ours(alone.stdout)?.processes[0].pid, held.pid);
      assert.ok(alone.stdout.includes('"sleep \\u001b]0;x\\u0007 ✓"'), 'escaped as JSON, UTF-8 whole');
      assert.ok(!alone.stdout.includes('\x1b'), 'no escape character reaches the terminal');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
