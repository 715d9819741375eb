// nsx ls and nsx cp: a mount namespace's files from the command line, like
// `docker cp` but for any container, process or namespace, and with nothing
// run inside it (no tar, no shell). TARGET:PATH names a file there: TARGET
// is a container's name or id, a PID, pin:NAME (a mnt pin) or mnt:INODE.
import { UsageError } from './usage';
import { targetAndPath, targetWord } from './words';
import {
  createReadStream,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { closeSync, fchmodSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { MessageConnection } from 'vscode-jsonrpc/node';
import { FileEntry, FilesOpen, FilesTarget, FileStat } from '../common/files';
import { filesErrno, RemoteFiles } from '../common/filesClient';
import { field, jsonText, printable } from '../common/format';

export interface Remote {
  target: FilesTarget;
  path: string;
}

/** TARGET:PATH (words.ts: web:/etc, 1234:/, pin:NAME:/, mnt:INODE:/), or undefined for a host path. */
export function remoteOf(arg: string): Remote | undefined {
  const split = targetAndPath(arg);
  if (!split) return undefined;
  const t = targetWord(split.word);
  const target: FilesTarget | undefined =
    'pid' in t
      ? t
      : 'pin' in t
        ? { pin: t.pin }
        : 'namespace' in t && t.namespace.type === 'mnt'
          ? { mnt: t.namespace.inode }
          : 'container' in t
            ? t
            : 'name' in t
              ? { container: t.name }
              : undefined;
  if (!target)
    throw new UsageError(`${split.word} names no mount namespace: give a container, a PID, pin:NAME or mnt:INODE`);
  return { target, path: split.path };
}

async function openRemote(conn: MessageConnection, target: FilesTarget, root: boolean): Promise<RemoteFiles> {
  const { handle } = await conn.sendRequest(FilesOpen, { target, ...(root ? { root } : {}) });
  return new RemoteFiles((type, params) => conn.sendRequest(type, params), handle);
}

function modeString(s: FileStat): string {
  const type = { file: '-', directory: 'd', symlink: 'l', other: '?' }[s.kind];
  const rwx = (bits: number, special: boolean, ch: string) =>
    `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${special ? (bits & 1 ? ch : ch.toUpperCase()) : bits & 1 ? 'x' : '-'}`;
  const m = s.mode;
  return (
    type + rwx(m >> 6, (m & 0o4000) !== 0, 's') + rwx(m >> 3, (m & 0o2000) !== 0, 's') + rwx(m, (m & 0o1000) !== 0, 't')
  );
}

/** ls -l's row, with numeric owners (names inside are the container's, which nsxd never looks up). */
function row(e: FileEntry, json: boolean): string {
  if (json) return JSON.stringify(e);
  const when = new Date(e.mtime).toISOString().slice(0, 16).replace('T', ' ');
  const link = (e.kind === 'symlink' ? ` -> ${field(e.link ?? '')}` : '') + (e.notUtf8 ? '  (name not UTF-8)' : '');
  return `${modeString(e)} ${String(e.uid).padStart(5)} ${String(e.gid).padStart(5)} ${String(e.size).padStart(10)} ${when} ${field(e.name)}${link}`;
}

export async function ls(
  conn: MessageConnection,
  arg: string,
  opts: { json?: boolean; root?: boolean },
): Promise<number> {
  const remote = remoteOf(arg);
  if (!remote) throw new Error(`ls wants TARGET:PATH, as web:/etc or 1234:/ (not ${printable(arg)})`);
  const files = await openRemote(conn, remote.target, opts.root === true);
  const st = await files.stat(remote.path);
  const folder = st.kind === 'directory' || st.target === 'directory';
  const entries = folder
    ? (await files.list(remote.path)).sort((a, b) => (a.name < b.name ? -1 : 1))
    : [{ ...st, name: basename(remote.path) }];
  const text = opts.json ? jsonText({ entries }) : entries.map((e) => row(e, false)).join('\n');
  process.stdout.write(text + (text ? '\n' : ''));
  return 0;
}

/** Where a copy lands: into dest if it is a folder (or ends in /), else at dest itself. */
function landing(dest: string, isDir: boolean | undefined, name: string): string {
  return isDir || dest.endsWith('/') ? join(dest, name) : dest;
}

async function download(files: RemoteFiles, from: string, to: string, st: FileStat, fresh: boolean): Promise<number> {
  if (st.kind === 'symlink' && fresh) {
    // Inside a copied folder a symlink stays a symlink, as docker cp copies it; nothing is written through it.
    symlinkSync(st.link ?? '', to);
    return 1;
  }
  if (st.kind === 'directory' || st.target === 'directory') {
    mkdirSync(to, { recursive: !fresh, mode: st.mode & 0o777 });
    let n = 0;
    for (const e of await files.list(from)) {
      if (e.notUtf8)
        process.stderr.write(`nsx: skipped ${printable(e.name)} in ${printable(from)}: its name is not UTF-8\n`);
      else n += await download(files, `${from.replace(/\/$/, '')}/${e.name}`, join(to, e.name), e, true);
    }
    return n;
  }
  if (st.kind === 'other' || (st.kind === 'symlink' && !st.target)) {
    process.stderr.write(`nsx: skipped ${printable(from)}: not a regular file, folder or symlink\n`);
    return 0;
  }
  // Inside a new folder nothing is there yet: never written through whatever appeared meanwhile.
  // A secret stays one: a new file gets the mode it has there (0600 stays 0600), less any set-id bit.
  let made = fresh;
  try {
    statSync(to);
  } catch {
    made = true;
  }
  const fd = openSync(to, fresh ? 'wx' : 'w', 0o600);
  if (made) fchmodSync(fd, st.mode & 0o777);
  try {
    await files.download(from, (chunk) => void writeSync(fd, chunk));
  } finally {
    closeSync(fd);
  }
  return 1;
}

async function* readChunks(path: string): AsyncIterable<Buffer> {
  for await (const chunk of createReadStream(path, { highWaterMark: 512 * 1024 })) yield chunk as Buffer;
}

async function upload(files: RemoteFiles, from: string, to: string): Promise<number> {
  const st = lstatSync(from);
  if (st.isSymbolicLink()) {
    // Copied as a symlink, its text as it is (as docker cp does); inside, it resolves in the container's root.
    await files.symlink(to, readlinkSync(from));
    return 1;
  }
  if (st.isDirectory()) {
    await files.createDirectory(to).catch((err) => {
      if (filesErrno(err) !== 'EEXIST') throw err;
    });
    let n = 0;
    for (const name of readdirSync(from))
      n += await upload(files, join(from, name), `${to.replace(/\/$/, '')}/${name}`);
    return n;
  }
  if (!st.isFile()) {
    process.stderr.write(`nsx: skipped ${printable(from)}: not a regular file or folder\n`);
    return 0;
  }
  await files.upload(to, readChunks(from), { create: true, overwrite: true });
  return 1;
}

async function remoteKind(files: RemoteFiles, path: string): Promise<FileStat | undefined> {
  try {
    return await files.stat(path);
  } catch (err) {
    if (filesErrno(err) === 'ENOENT') return undefined;
    throw err;
  }
}

export async function cp(
  conn: MessageConnection,
  src: string,
  dest: string,
  opts: { root?: boolean },
): Promise<number> {
  const [from, to] = [remoteOf(src), remoteOf(dest)];
  if (!!from === !!to)
    throw new Error(
      'cp copies between TARGET:PATH and a host path: nsx cp web:/etc/hostname . or nsx cp ./app.conf web:/etc/app/',
    );
  if (from) {
    const files = await openRemote(conn, from.target, opts.root === true);
    const st = await files.stat(from.path);
    let here: boolean | undefined;
    try {
      here = statSync(dest).isDirectory();
    } catch {
      here = undefined;
    }
    const into = landing(dest, here, basename(from.path.replace(/\/+$/, '')) || 'root');
    await download(files, from.path, into, st, false);
    return 0;
  }
  const files = await openRemote(conn, to!.target, opts.root === true);
  const there = await remoteKind(files, to!.path);
  const dir = there?.kind === 'directory' || there?.target === 'directory';
  await upload(files, src, landing(to!.path, dir, basename(src.replace(/\/+$/, ''))));
  return 0;
}
