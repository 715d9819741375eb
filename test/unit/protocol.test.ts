// The one parse nsxd runs on each message a client sends: what passes comes
// out typed and trimmed to what the contract allows; what fails says why.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  fromWire,
  HOSTNAME,
  isolateDefault,
  parseCreate,
  parseDetails,
  parseList,
  parsePin,
  parsePrint,
  parseSubscribe,
  parseTerminalAck,
  parseTerminalInput,
  parseTerminalOpen,
  parseTerminalResize,
  parseUnpin,
  PIN_NAME,
  Process,
  Snapshot,
  toWire,
} from '../../helper/common/protocol';

const invalid = (re: RegExp) => (err: unknown) =>
  (err as { code?: number }).code === -32602 && re.test((err as Error).message);

describe('protocol: pins', () => {
  it('parses a pin by pid or by inode, and refuses one by neither', () => {
    assert.deepEqual(parsePin({ pid: 42, type: 'net', name: 'web-net' }), { pid: 42, type: 'net', name: 'web-net' });
    assert.deepEqual(parsePin({ inode: 4026531840, type: 'uts', name: 'a' }), {
      inode: 4026531840,
      type: 'uts',
      name: 'a',
    });
    assert.throws(() => parsePin({ type: 'uts', name: 'a' }), invalid(/by pid, or by inode/));
  });

  it('refuses pin names that are paths, hidden, upper case or too long', () => {
    for (const name of ['../etc', 'a/b', '.hidden', 'Web', '', 'x'.repeat(65), 'a\nb', 42]) {
      assert.throws(() => parsePin({ pid: 1, type: 'uts', name }), invalid(/bad pin name/), JSON.stringify(name));
    }
    assert.ok(PIN_NAME.test('x'.repeat(64)));
  });

  it('refuses unknown types, bad pids and inodes', () => {
    assert.throws(() => parsePin({ pid: 1, type: 'NET', name: 'a' }), invalid(/not a namespace type/));
    for (const pid of [0, -1, 1.5, '1', 2 ** 31])
      assert.throws(() => parsePin({ pid, type: 'uts', name: 'a' }), invalid(/not a pid/), String(pid));
    assert.throws(() => parseDetails({ type: 'net', inode: -5 }), invalid(/not an inode number/));
    assert.throws(() => parseDetails(null), invalid(/params must be an object/));
  });

  it('never creates a pid namespace to be held by a pin alone', () => {
    assert.deepEqual(parseCreate({ type: 'net', name: 'lab' }), { type: 'net', name: 'lab' });
    assert.throws(() => parseCreate({ type: 'pid', name: 'lab' }), invalid(/cannot outlive its first process/));
  });

  it('takes force only as a boolean, false unless given', () => {
    assert.deepEqual(parseUnpin({ type: 'net', name: 'a' }), { type: 'net', name: 'a', force: false });
    assert.equal(parseUnpin({ type: 'net', name: 'a', force: true }).force, true);
    assert.throws(() => parseUnpin({ type: 'net', name: 'a', force: 'yes' }), invalid(/force must be true or false/));
  });
});

describe('protocol: terminals', () => {
  it('parses each kind of target', () => {
    assert.deepEqual(parseTerminalOpen({ target: { pid: 7, inodes: { net: 9 } } }).target, {
      pid: 7,
      inodes: { net: 9 },
    });
    assert.deepEqual(parseTerminalOpen({ target: { pin: { type: 'net', name: 'lab' } } }).target, {
      pin: { type: 'net', name: 'lab' },
    });
    assert.deepEqual(parseTerminalOpen({ target: { namespace: { type: 'mnt', inode: 3 } } }).target, {
      namespace: { type: 'mnt', inode: 3 },
    });
    assert.throws(() => parseTerminalOpen({ target: {} }), invalid(/a pid, a pin, a namespace or a container/));
    assert.throws(
      () => parseTerminalOpen({ target: { pid: 7, inodes: { bogus: 1 } } }),
      invalid(/not a namespace type/),
    );
  });

  it('keeps only the environment a client may set', () => {
    const r = parseTerminalOpen({
      env: { TERM: 'xterm', LANG: 'C.UTF-8', LC_ALL: 'C', LD_PRELOAD: '/tmp/evil.so', PATH: '/tmp' },
    });
    assert.deepEqual(r.env, { TERM: 'xterm', LANG: 'C.UTF-8', LC_ALL: 'C' });
    assert.throws(() => parseTerminalOpen({ env: { TERM: 'a\0b' } }), invalid(/without NUL/));
  });

  it('takes hostnames by one rule', () => {
    for (const h of ['web', 'web-1.example.org', 'a'.repeat(63)])
      assert.equal(parseTerminalOpen({ hostname: h }).hostname, h);
    for (const h of ['-web', 'web-', 'a..b', 'a'.repeat(64), 'we b', 'a_b', `${'a'.repeat(60)}.`.repeat(5)]) {
      assert.equal(HOSTNAME.test(h), false, h);
      assert.throws(() => parseTerminalOpen({ hostname: h }), invalid(/hostname/), h);
    }
  });

  it('bounds commands and pty sizes', () => {
    assert.deepEqual(parseTerminalOpen({ command: ['sh', '-c', 'true'], pty: { cols: 80, rows: 24 } }).command, [
      'sh',
      '-c',
      'true',
    ]);
    assert.throws(() => parseTerminalOpen({ command: [] }), invalid(/non-empty array/));
    assert.throws(() => parseTerminalOpen({ command: Array(257).fill('x') }), invalid(/at most 256/));
    assert.throws(() => parseTerminalOpen({ command: [42] }), invalid(/command\[0\]/));
    assert.throws(
      () => parseTerminalOpen({ pty: { cols: 0, rows: 24 } }),
      invalid(/cols must be an integer from 1 to 1000/),
    );
    assert.throws(() => parseTerminalOpen({ types: [] }), invalid(/non-empty array/));
    assert.deepEqual(parseTerminalOpen({ types: ['net', 'net', 'uts'] }).types, ['net', 'uts']);
  });

  it('parses the messages about an open session', () => {
    assert.deepEqual(parseTerminalInput({ session: 3, data: 'aGk=' }), { session: 3, data: 'aGk=' });
    assert.throws(() => parseTerminalInput({ session: 0, data: '' }), invalid(/session must be an integer/));
    assert.deepEqual(parseTerminalResize({ session: 3, cols: 100, rows: 30 }), { session: 3, cols: 100, rows: 30 });
    assert.throws(() => parseTerminalResize({ session: 3, cols: 100000, rows: 30 }), invalid(/cols/));
    assert.throws(() => parseTerminalAck({ session: 3, bytes: -1 }), invalid(/bytes/));
  });

  it('isolates in every namespace but time by default', () => {
    assert.deepEqual(isolateDefault(['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts']), [
      'cgroup',
      'ipc',
      'mnt',
      'net',
      'pid',
      'user',
      'uts',
    ]);
  });

  it('subscribes every 2 s unless told, never faster than every 0.5 s', () => {
    assert.deepEqual(parseSubscribe(undefined), { intervalMs: 2000 });
    assert.deepEqual(parseSubscribe({ intervalMs: 750 }), { intervalMs: 750 });
    assert.throws(() => parseSubscribe({ intervalMs: 10 }), invalid(/intervalMs/));
  });

  it('prints the table of the types asked, each once, or of all', () => {
    assert.deepEqual(parsePrint(undefined), { rescan: false });
    assert.deepEqual(parsePrint({ types: ['net', 'pid', 'net'], rescan: true }), {
      rescan: true,
      types: ['net', 'pid'],
    });
    assert.deepEqual(parseList({ rescan: true }), { rescan: true });
    assert.throws(() => parseList({ rescan: 'yes' }), invalid(/rescan must be true or false/));
    assert.throws(() => parsePrint({ rescan: 1 }), invalid(/rescan must be true or false/));
    assert.throws(() => parsePrint({ types: ['NET'] }), invalid(/not a namespace type: "NET"/));
    assert.throws(() => parsePrint({ types: [] }), invalid(/non-empty array/));
    assert.throws(() => parsePrint([]), invalid(/params must be an object/));
  });
});

describe('protocol: a snapshot as it is sent', () => {
  const host = { cgroup: 4026531835, mnt: 4026531841, net: 4026531840, pid: 4026531836, uts: 4026531838 };
  const box = { ...host, net: 4026532201, uts: 4026532202 };
  const proc = (pid: number, ns: Process['ns'], more: Partial<Process> = {}): Process => ({
    pid,
    ppid: 1,
    comm: 'sh',
    cmdline: ['sh'],
    uid: 0,
    user: 'root',
    ns,
    ...more,
  });
  const snapshot: Snapshot = {
    namespaces: [{ type: 'net', inode: 4026532201, pids: [7, 8], holders: [], initial: false, pins: [] }],
    processes: [proc(1, host), proc(7, box, { pidForChildren: 4026532300 }), proc(8, box), proc(9, host)],
    containers: [],
    engines: [],
    scanMs: 12,
  };

  it('writes each set of namespaces once, and reads back the snapshot it was made from', () => {
    const wire = toWire(snapshot);
    assert.deepEqual(wire.nsSets, [host, box]);
    assert.deepEqual(
      wire.processes.map((p) => p.ns),
      [0, 1, 1, 0],
    );
    assert.equal(wire.processes[1].pidForChildren, 4026532300);
    assert.deepEqual(snapshot.processes[1].ns, box, 'the model it came from is left as it was');
    const back = fromWire(JSON.parse(JSON.stringify(wire)));
    assert.deepEqual(back, snapshot);
    assert.equal(back.processes[1].ns, back.processes[2].ns, 'processes of one set share one object');
    assert.equal('nsSets' in back, false);
  });

  it('gives a process whose set is not there no namespaces, whatever the answer held', () => {
    const wire = JSON.parse(JSON.stringify(toWire(snapshot)));
    wire.processes[0].ns = 5;
    wire.processes[1].ns = '__proto__';
    wire.processes[2].ns = 0.5;
    wire.processes[3].ns = { net: 1 };
    for (const nsSets of [wire.nsSets, undefined, 'sets', [null, [1], 3]]) {
      const back = fromWire({ ...JSON.parse(JSON.stringify(wire)), nsSets });
      assert.deepEqual(
        back.processes.map((p) => p.ns),
        [{}, {}, {}, {}],
      );
    }
  });
});
