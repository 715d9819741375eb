// The files area's parses (what a client may send), the helper's answer
// frames as nsxd decodes them, and nsx cp's reading of TARGET:PATH.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { remoteOf } from '../../helper/cli/files';
import {
  FILES_CHUNK,
  parseFilesOpen,
  parseFilesPath,
  parseFilesRead,
  parseFilesRename,
  parseFilesWrite,
} from '../../helper/common/files';
import { decodeEntry, decodePage } from '../../helper/daemon/kernel/filesHelper';

function entry(mode: number, name: string, link = '', targetMode = 0): Buffer {
  const head = Buffer.alloc(48);
  head.writeUInt32LE(mode, 0);
  head.writeUInt32LE(1000, 4);
  head.writeUInt32LE(100, 8);
  head.writeUInt32LE(targetMode, 12);
  head.writeBigUInt64LE(42n, 16);
  head.writeBigInt64LE(1_700_000_000_123_456_789n, 24);
  head.writeBigInt64LE(1_700_000_000_000_000_000n, 32);
  head.writeUInt16LE(Buffer.byteLength(name), 40);
  head.writeUInt16LE(Buffer.byteLength(link), 42);
  return Buffer.concat([head, Buffer.from(name), Buffer.from(link)]);
}

describe('files: parses', () => {
  it('takes a container, a pid, a pin or a mnt inode, and nothing else', () => {
    assert.deepEqual(parseFilesOpen({ target: { container: 'web' } }), { target: { container: 'web' }, root: false });
    assert.deepEqual(parseFilesOpen({ target: { pid: 12 }, root: true }), { target: { pid: 12 }, root: true });
    assert.deepEqual(parseFilesOpen({ target: { pin: 'blue' } }).target, { pin: 'blue' });
    assert.deepEqual(parseFilesOpen({ target: { mnt: 4026531841 } }).target, { mnt: 4026531841 });
    for (const target of [{}, { container: '../x' }, { pin: 'a/b' }, { pid: 0 }, { mnt: -1 }, { container: 'a\nb' }])
      assert.throws(() => parseFilesOpen({ target }), /must|not a/, JSON.stringify(target));
  });
  it('refuses a path with NUL or over 4,096 bytes, a chunk over 512 KiB, data that is not base64', () => {
    assert.throws(() => parseFilesPath({ handle: 1, path: 'a\0b' }), /without NUL/);
    assert.throws(() => parseFilesPath({ handle: 1, path: 'a'.repeat(4097) }), /at most 4096/);
    assert.throws(() => parseFilesRead({ handle: 1, path: '/', offset: 0, length: FILES_CHUNK + 1 }), /length/);
    assert.throws(() => parseFilesWrite({ handle: 1, path: '/x', offset: 0, data: 'not base64!' }), /base64/);
    const big = Buffer.alloc(FILES_CHUNK + 3).toString('base64');
    assert.throws(() => parseFilesWrite({ handle: 1, path: '/x', offset: 0, data: big }), /at most/);
    assert.deepEqual(parseFilesRename({ handle: 2, from: '/a', to: '/b' }), {
      handle: 2,
      from: '/a',
      to: '/b',
      overwrite: false,
    });
  });
});

describe('files: the helper answers', () => {
  it('decodes a stat and a symlink with its target kind', () => {
    const { entry: e } = decodeEntry(entry(0o100640, 'app.conf'), 0);
    assert.deepEqual(e, {
      name: 'app.conf',
      kind: 'file',
      size: 42,
      mtime: 1_700_000_000_123,
      ctime: 1_700_000_000_000,
      mode: 0o100640,
      uid: 1000,
      gid: 100,
    });
    const l = decodeEntry(entry(0o120777, 'abs', '/etc', 0o040755), 0).entry;
    assert.deepEqual([l.kind, l.target, l.link], ['symlink', 'directory', '/etc']);
    const latin1 = entry(0o100644, 'x');
    latin1[48] = 0xff;
    assert.equal(decodeEntry(latin1, 0).entry.notUtf8, true, 'a name that is not UTF-8 is marked');
    assert.equal(decodeEntry(entry(0o100644, 'é'), 0).entry.notUtf8, undefined);
    const dangling = decodeEntry(entry(0o120777, 'gone', '/nowhere'), 0).entry;
    assert.equal(dangling.target, undefined);
  });
  it('decodes a page and where the next starts', () => {
    const next = Buffer.alloc(4);
    next.writeUInt32LE(1024, 0);
    const page = decodePage(Buffer.concat([next, entry(0o100644, 'a'), entry(0o040755, 'b')]));
    assert.deepEqual(
      page.entries.map((e) => [e.name, e.kind]),
      [
        ['a', 'file'],
        ['b', 'directory'],
      ],
    );
    assert.equal(page.next, 1024);
    assert.equal(decodePage(Buffer.alloc(4)).next, undefined);
  });
});

describe('nsx cp: TARGET:PATH', () => {
  it('reads a container, a pid, a pin, a mnt inode; a path with a slash before any colon is the host', () => {
    assert.deepEqual(remoteOf('web:/etc/hostname'), { target: { container: 'web' }, path: '/etc/hostname' });
    assert.deepEqual(remoteOf('1234:/'), { target: { pid: 1234 }, path: '/' });
    assert.deepEqual(remoteOf('pin:blue:/etc'), { target: { pin: 'blue' }, path: '/etc' });
    assert.deepEqual(remoteOf('mnt:4026531841:/'), { target: { mnt: 4026531841 }, path: '/' });
    assert.deepEqual(remoteOf('container:web:etc:x'), { target: { container: 'web' }, path: 'etc:x' });
    assert.deepEqual(remoteOf('web:etc:x'), { target: { container: 'web' }, path: 'etc:x' });
    assert.throws(() => remoteOf('net:4026531840:/'), /names no mount namespace/);
    assert.deepEqual(remoteOf('web:'), { target: { container: 'web' }, path: '/' });
    for (const host of ['./web:/x', '/tmp/a:b', 'file.txt', ':x']) assert.equal(remoteOf(host), undefined, host);
  });
});
