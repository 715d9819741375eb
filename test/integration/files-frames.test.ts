// nsx-files against whatever nsxd could ever send it, and worse: built with
// AddressSanitizer and UndefinedBehaviorSanitizer from the files
// native/programs.json lists, it takes thousands of frames of random
// operations, flags, offsets, counts and hostile paths (too long, with NUL,
// "..", symlinks out, magic links), then frames whose lengths lie. It must
// neither fault nor act outside its root; it may only answer or hang up.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT } from '../support';

const O_PATH = 0o10000000;
const OUTSIDE = `f23-outside-${process.pid}`;

function frame(op: number, flags: number, path: Buffer, path2: Buffer, offset: bigint, count: number, data: Buffer) {
  const head = Buffer.alloc(32);
  head.writeUInt32LE(path.length + path2.length + data.length, 0);
  head.writeUInt8(op, 4);
  head.writeUInt8(flags, 5);
  head.writeUInt32LE(path.length, 8);
  head.writeUInt32LE(path2.length, 12);
  head.writeBigUInt64LE(offset, 16);
  head.writeUInt32LE(count, 24);
  return Buffer.concat([head, path, path2, data]);
}

describe('nsx-files frames (f23)', () => {
  let dir = '';
  let bin = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'f23-frames-'));
    const programs = JSON.parse(readFileSync(join(ROOT, 'native/programs.json'), 'utf8')) as Record<string, string[]>;
    bin = join(dir, 'nsx-files');
    execFileSync('cc', [
      '-std=gnu11',
      '-g',
      '-O1',
      '-fsanitize=address,undefined',
      '-fno-omit-frame-pointer',
      '-o',
      bin,
      ...programs['nsx-files'].map((f) => join(ROOT, `native/${f}.c`)),
    ]);
    const root = join(dir, 'root');
    mkdirSync(join(root, 'a/b'), { recursive: true });
    writeFileSync(join(root, 'a/file'), 'inside');
    symlinkSync('/tmp', join(root, 'abs'));
    symlinkSync('../../../../../../tmp', join(root, 'a/up'));
    symlinkSync('/proc/self/root/tmp', join(root, 'magic'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    rmSync(join('/tmp', OUTSIDE), { recursive: true, force: true });
  });

  const serve = (input: Buffer) => {
    const fd = openSync(join(dir, 'root'), O_PATH | constants.O_DIRECTORY);
    try {
      return spawnSync(bin, ['--root-fd', '3', '--uid', '0', '--gid', '0', '--groups', '0'], {
        input,
        stdio: ['pipe', 'pipe', 'pipe', fd],
        env: { ASAN_OPTIONS: 'detect_leaks=0', UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1' },
        maxBuffer: 1 << 30,
        timeout: 120_000,
      });
    } finally {
      closeSync(fd);
    }
  };

  it('answers thousands of random frames with hostile paths, never faulting, never acting outside its root', () => {
    const paths = [
      '/',
      '',
      '.',
      '..',
      '/..',
      'a/b/',
      'a//b///',
      `abs/${OUTSIDE}`,
      `a/up/${OUTSIDE}`,
      `magic/${OUTSIDE}`,
      `/../../../../tmp/${OUTSIDE}`,
      'a/file',
      'a/b/new',
      'x'.repeat(5000),
      '/'.repeat(4096),
      'a/'.repeat(2000),
    ].map((p) => Buffer.from(p));
    paths.push(Buffer.from('a\0b'), Buffer.from([0xff, 0xfe]));
    let seed = 23;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const offsets = [0n, 1n, 4096n, 2n ** 40n, 2n ** 63n - 1n, 2n ** 64n - 1n];
    const counts = [0, 1, 2 ** 20, 2 ** 20 + 1, 2 ** 32 - 1];
    const frames: Buffer[] = [];
    for (let i = 0; i < 3000; i++) {
      const op = rand(10);
      const data = op === 4 ? Buffer.alloc([0, 1, 100, 5000][rand(4)], 'y') : Buffer.alloc(0);
      const path2 = op === 7 ? paths[rand(paths.length)] : Buffer.alloc(0);
      frames.push(frame(op, rand(16), paths[rand(paths.length)], path2, offsets[rand(6)], counts[rand(5)], data));
    }
    const r = serve(Buffer.concat(frames));
    assert.equal(r.status, 0, `${r.signal ?? ''} ${String(r.stderr).slice(-3000)}`);
    assert.doesNotMatch(String(r.stderr), /ERROR: AddressSanitizer|runtime error/);
    assert.ok(!existsSync(join('/tmp', OUTSIDE)), 'nothing was made outside the root');
  });

  it('hangs up on a frame whose lengths lie, without reading or writing past its buffers', () => {
    const path = Buffer.from('a/file');
    for (const lie of [0, 3, 40, 2 ** 31, 2 ** 32 - 1]) {
      const f = frame(3, 0, path, Buffer.alloc(0), 0n, 100, Buffer.alloc(0));
      f.writeUInt32LE(lie, 0);
      const r = serve(Buffer.concat([f, Buffer.alloc(64, 'j')]));
      assert.ok(
        r.status === 0 || r.status === 1,
        `len ${lie}: ${r.signal ?? r.status} ${String(r.stderr).slice(-2000)}`,
      );
      assert.doesNotMatch(String(r.stderr), /ERROR: AddressSanitizer|runtime error/);
    }
    const beyond = frame(1, 0, Buffer.from('a'), Buffer.from('b'.repeat(10)), 0n, 0, Buffer.alloc(0));
    beyond.writeUInt32LE(5, 0);
    assert.equal(serve(beyond).status, 1, 'paths longer than the frame: it hangs up');
  });
});
