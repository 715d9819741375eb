// The files area of the contract: a mount namespace's files, opened once as a
// handle (a container, a process, a pin or a mnt namespace; as the caller, or
// as root where the policy grants root shells), then looked at and changed
// by path inside that root. Paths are the container's own ("/etc/hostname");
// nsxd resolves every one inside the root, never on the host. A failure of
// the file system is FilesErrorCode with { errno, path } as its data.
import { RequestType } from 'vscode-jsonrpc';
import * as parse from './parse';

/** Where the files are: a running container, a process (its root), a mnt pin, or a mnt namespace by inode. */
export type FilesTarget = { container: string } | { pid: number } | { pin: string } | { mnt: number };

/** The most a files/read answers and a files/write takes at once (base64 keeps it inside one message). */
export const FILES_CHUNK = 512 * 1024;
/** The error code of a file-system failure; its data is FilesErrorData. */
export const FilesErrorCode = -32020;
export interface FilesErrorData {
  /** ENOENT, EACCES, EEXIST, EISDIR, ENOTDIR, EROFS, EPERM, ENOTEMPTY, ELOOP, EXDEV … */
  errno: string;
  path: string;
}

export interface FilesOpenParams {
  target: FilesTarget;
  /** Root's view, where the policy grants root shells; else the caller's own uid, gid and groups. */
  root?: boolean;
}
export interface FilesOpenResult {
  handle: number;
  /** What the root is, for a title: `web (podman)`, `pid 1234 nginx`, `pin blue`. */
  title: string;
  /** Who the files are seen as. */
  user: string;
  uid: number;
}
/** client → nsxd */
export const FilesOpen = new RequestType<FilesOpenParams, FilesOpenResult, void>('files/open');

export type FileKind = 'file' | 'directory' | 'symlink' | 'other';
export interface FileStat {
  kind: FileKind;
  /** A symlink's target's kind, resolved inside the root; absent if it leads nowhere. */
  target?: Exclude<FileKind, 'symlink'>;
  /** Bytes (of the target, for a symlink that resolves). */
  size: number;
  /** Milliseconds since the epoch. */
  mtime: number;
  ctime: number;
  /** st_mode: type and permission bits. */
  mode: number;
  uid: number;
  gid: number;
  /** A symlink's text. */
  link?: string;
}
export interface FileEntry extends FileStat {
  name: string;
  /**
   * The name is not UTF-8: `name` is a lossy rendering that names no file,
   * or another one. Clients show it, never act on it.
   */
  notUtf8?: boolean;
}

export interface FilesPathParams {
  handle: number;
  path: string;
}
/** client → nsxd: lstat, with a symlink's target's kind. */
export const FilesStat = new RequestType<FilesPathParams, FileStat, void>('files/stat');

export interface FilesReadDirectoryParams extends FilesPathParams {
  /** Entries to skip: the `next` of the page before. */
  start?: number;
}
export interface FilesReadDirectoryResult {
  entries: FileEntry[];
  /** More entries follow: ask again with start: next. */
  next?: number;
}
/** client → nsxd: one page (at most 1,024 entries). */
export const FilesReadDirectory = new RequestType<FilesReadDirectoryParams, FilesReadDirectoryResult, void>(
  'files/readDirectory',
);

export interface FilesReadParams extends FilesPathParams {
  offset: number;
  length: number;
}
export interface FilesReadResult {
  /** base64; shorter than asked for at the end of the file. */
  data: string;
}
/** client → nsxd: a chunk of a regular file (symlinks followed inside the root). */
export const FilesRead = new RequestType<FilesReadParams, FilesReadResult, void>('files/read');

export interface FilesWriteParams extends FilesPathParams {
  offset: number;
  /** base64, at most FILES_CHUNK bytes once decoded. */
  data: string;
  /** Make the file if it is not there (0666 under the umask 022: 0644, owned by who writes). */
  create?: boolean;
  /** Write into the file if it is there (in place: its owner and mode stay). */
  overwrite?: boolean;
  /** Empty it first: the first chunk of a whole file. */
  truncate?: boolean;
}
/** client → nsxd */
export const FilesWrite = new RequestType<FilesWriteParams, null, void>('files/write');

export interface FilesDeleteParams extends FilesPathParams {
  recursive?: boolean;
}
/** client → nsxd: never follows a symlink, never enters another mount. */
export const FilesDelete = new RequestType<FilesDeleteParams, null, void>('files/delete');

export interface FilesRenameParams {
  handle: number;
  from: string;
  to: string;
  overwrite?: boolean;
}
/** client → nsxd */
export const FilesRename = new RequestType<FilesRenameParams, null, void>('files/rename');
/** client → nsxd */
export const FilesCreateDirectory = new RequestType<FilesPathParams, null, void>('files/createDirectory');

export interface FilesSymlinkParams extends FilesPathParams {
  /** The link's text, as it is: absolute ones resolve in the root, as everything does. */
  target: string;
}
/** client → nsxd: a symlink (nsx cp copies them as symlinks, as docker cp does). */
export const FilesSymlink = new RequestType<FilesSymlinkParams, null, void>('files/symlink');

export interface FilesHandleParams {
  handle: number;
}
/** client → nsxd: ends the handle's helper. A connection that closes ends all of its own. */
export const FilesClose = new RequestType<FilesHandleParams, null, void>('files/close');

// ---- parses (nsxd runs each on what a client sent) -------------------------

const CONTAINER_REF = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/;
const PIN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const PATH_MAX_BYTES = 4096;

export function parseFilesTarget(value: unknown): FilesTarget {
  const t = parse.object(value, 'target');
  if (t.pid !== undefined) return { pid: parse.pid(t.pid) };
  if (t.mnt !== undefined) return { mnt: parse.inode(t.mnt) };
  if (t.pin !== undefined) {
    if (typeof t.pin !== 'string' || !PIN_NAME.test(t.pin))
      throw parse.invalid(`not a pin name: ${JSON.stringify(t.pin)}`);
    return { pin: t.pin };
  }
  if (t.container !== undefined) {
    if (typeof t.container !== 'string' || !CONTAINER_REF.test(t.container))
      throw parse.invalid(`not a container name or id: ${JSON.stringify(t.container)}`);
    return { container: t.container };
  }
  throw parse.invalid('target must name a container, a pid, a pin or a mnt namespace');
}
export function parseFilesOpen(value: unknown): FilesOpenParams {
  const p = parse.object(value);
  return { target: parseFilesTarget(p.target), root: parse.bool(p.root, 'root') };
}
function handle(p: Record<string, unknown>): number {
  return parse.int(p.handle, 'handle', 1, Number.MAX_SAFE_INTEGER);
}
function path(value: unknown, what = 'path'): string {
  return parse.text(value, what, PATH_MAX_BYTES);
}
export function parseFilesHandle(value: unknown): FilesHandleParams {
  return { handle: handle(parse.object(value)) };
}
export function parseFilesPath(value: unknown): FilesPathParams {
  const p = parse.object(value);
  return { handle: handle(p), path: path(p.path) };
}
export function parseFilesReadDirectory(value: unknown): FilesReadDirectoryParams {
  const p = parse.object(value);
  return { ...parseFilesPath(p), start: p.start === undefined ? 0 : parse.int(p.start, 'start', 0, 0xffffffff) };
}
export function parseFilesRead(value: unknown): FilesReadParams {
  const p = parse.object(value);
  return {
    ...parseFilesPath(p),
    offset: parse.int(p.offset, 'offset', 0, Number.MAX_SAFE_INTEGER),
    length: parse.int(p.length, 'length', 0, FILES_CHUNK),
  };
}
export function parseFilesWrite(value: unknown): FilesWriteParams {
  const p = parse.object(value);
  const data = parse.text(p.data, 'data', Math.ceil(FILES_CHUNK / 3) * 4);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data)) throw parse.invalid('data must be base64');
  return {
    ...parseFilesPath(p),
    offset: parse.int(p.offset, 'offset', 0, Number.MAX_SAFE_INTEGER),
    data,
    create: parse.bool(p.create, 'create'),
    overwrite: parse.bool(p.overwrite, 'overwrite'),
    truncate: parse.bool(p.truncate, 'truncate'),
  };
}
export function parseFilesSymlink(value: unknown): FilesSymlinkParams {
  const p = parse.object(value);
  const target = path(p.target, 'target');
  if (!target) throw parse.invalid('target must not be empty');
  return { ...parseFilesPath(p), target };
}
export function parseFilesDelete(value: unknown): FilesDeleteParams {
  const p = parse.object(value);
  return { ...parseFilesPath(p), recursive: parse.bool(p.recursive, 'recursive') };
}
export function parseFilesRename(value: unknown): FilesRenameParams {
  const p = parse.object(value);
  return {
    handle: handle(p),
    from: path(p.from, 'from'),
    to: path(p.to, 'to'),
    overwrite: parse.bool(p.overwrite, 'overwrite'),
  };
}

/** What a file-system errno means, in words (after the path). */
export function errnoSentence(errno: string): string {
  const words: Record<string, string> = {
    ENOENT: 'no such file or folder',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    EEXIST: 'already exists',
    EISDIR: 'is a folder',
    ENOTDIR: 'not a folder',
    ENOTEMPTY: 'folder not empty',
    ELOOP: 'too many symlinks, or a link that would leave the root',
    EXDEV: 'leads outside the root, or across mounts',
    EBUSY: 'busy (a mount point, or the root itself)',
    EINVAL: 'not a regular file or folder',
    ENAMETOOLONG: 'name too long',
    ENOSPC: 'no space left on the device',
    EDQUOT: 'disk quota exceeded',
  };
  return words[errno] ?? errno;
}
