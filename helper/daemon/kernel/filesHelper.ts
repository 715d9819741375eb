// dist/nsx-files, the single-threaded helper that serves one root's files as
// one user (native/nsx-files.c): started with the root fd (or the mount
// namespace's fd) nsxd opened and checked, and the user's ids nsxd resolved
// on the host. Its frames (native/files.h) in the host's byte order, one
// answer per request, in order. It ends when its stdin closes.
import { ChildProcess, spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { FileEntry, FileKind, FileStat } from '../../common/files';
import type { LaunchIdentity } from './launcher';
import { checkProgram, FILES_HELPER } from './programs';

export const Op = { stat: 1, readdir: 2, read: 3, write: 4, mkdir: 5, delete: 6, rename: 7, symlink: 8 } as const;
export const Flag = { create: 1, overwrite: 2, truncate: 4, recursive: 8 } as const;
const REQ_HEADER = 32;
const RES_HEADER = 8;
const ENTRY_HEADER = 48;
/** No answer is bigger than a chunk and its header; a bigger length means the helper is not ours. */
const MAX_ANSWER = 1024 * 1024 + 4096;

export interface Answer {
  /** 0, or the errno's name. */
  errno: string | undefined;
  payload: Buffer;
}

export interface HelperRequest {
  op: number;
  flags?: number;
  path: string;
  path2?: string;
  offset?: number;
  count?: number;
  data?: Buffer;
}

// The first name of each number: EAGAIN, not its alias EWOULDBLOCK.
/**
 * What one handle may have waiting: requests, and the bytes they carry or ask
 * for (a write's data, a read's length), which nsxd holds for the client. A
 * client that does not wait for answers is refused past them, not buffered for.
 */
export const MAX_IN_FLIGHT = 64;
export const MAX_IN_FLIGHT_BYTES = 8 * 1024 * 1024;
export class TooManyRequests extends Error {
  constructor() {
    super(
      `at most ${MAX_IN_FLIGHT} requests and ${MAX_IN_FLIGHT_BYTES >> 20} MiB wait on a files handle: wait for answers before sending more`,
    );
  }
}

const ERRNO_NAMES = new Map<number, string>(
  Object.entries(constants.errno)
    .reverse()
    .map(([k, v]) => [v, k]),
);

export class FilesHelper {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private waiting: ((a: Answer | Error) => void)[] = [];
  private ended: Error | undefined;
  private inFlightBytes = 0;

  private constructor(private readonly child: ChildProcess) {
    const out = child.stdout as Readable;
    out.on('data', (chunk: Buffer) => this.take(chunk));
    out.on('error', () => undefined);
    (child.stdin as Writable).on('error', () => undefined);
    child.once('exit', (code, signal) => this.end(new Error(`the files helper ended (${signal ?? code})`)));
    child.once('error', (err) => this.end(err));
  }

  /** Starts it on rootFd or mntFd (inherited, then nsxd may close its copy) and waits for its first answer. */
  static async start(where: { rootFd?: number; mntFd?: number }, who: LaunchIdentity): Promise<FilesHelper> {
    checkProgram(FILES_HELPER);
    const fd = (where.rootFd ?? where.mntFd)!;
    const args = [where.rootFd !== undefined ? '--root-fd' : '--mnt-fd', '3'];
    args.push('--uid', String(who.uid), '--gid', String(who.gid), '--groups', who.groups.join(','));
    const child = spawn(FILES_HELPER, args, { stdio: ['pipe', 'pipe', 'ignore', fd], env: {} });
    const helper = new FilesHelper(child);
    const first = await helper.next();
    if (first.errno) {
      helper.close();
      throw new Error(first.payload.toString('utf8') || first.errno);
    }
    return helper;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Sends one request; answers come in the order asked. */
  request(req: HelperRequest): Promise<Answer> {
    if (this.ended) return Promise.reject(this.ended);
    const bytes = (req.data?.length ?? 0) + (req.count ?? 0);
    if (this.waiting.length >= MAX_IN_FLIGHT || this.inFlightBytes + bytes > MAX_IN_FLIGHT_BYTES)
      return Promise.reject(new TooManyRequests());
    this.inFlightBytes += bytes;
    const path = Buffer.from(req.path);
    const path2 = Buffer.from(req.path2 ?? '');
    const data = req.data ?? Buffer.alloc(0);
    const head = Buffer.alloc(REQ_HEADER);
    head.writeUInt32LE(path.length + path2.length + data.length, 0);
    head.writeUInt8(req.op, 4);
    head.writeUInt8(req.flags ?? 0, 5);
    head.writeUInt32LE(path.length, 8);
    head.writeUInt32LE(path2.length, 12);
    head.writeBigUInt64LE(BigInt(req.offset ?? 0), 16);
    head.writeUInt32LE(req.count ?? 0, 24);
    (this.child.stdin as Writable).write(Buffer.concat([head, path, path2, data]));
    return this.next().finally(() => {
      this.inFlightBytes -= bytes;
    });
  }

  /** Ends it: stdin closed (it exits), and killed in case it is stuck in a lookup. */
  close(): void {
    this.end(new Error('the files handle is closed'));
    this.child.stdin?.destroy();
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }

  private next(): Promise<Answer> {
    return new Promise((resolve, reject) => {
      this.waiting.push((a) => (a instanceof Error ? reject(a) : resolve(a)));
      this.take(Buffer.alloc(0));
    });
  }

  private end(err: Error): void {
    this.ended ??= err;
    for (const w of this.waiting.splice(0)) w(this.ended);
  }

  /** What is buffered, as one buffer: joined once per answer, not once per pipe read. */
  private flatten(): Buffer {
    if (this.buffered.length !== 1) this.buffered = [Buffer.concat(this.buffered)];
    return this.buffered[0];
  }

  private take(chunk: Buffer): void {
    if (chunk.length) {
      this.buffered.push(chunk);
      this.bufferedBytes += chunk.length;
    }
    while (this.waiting.length && this.bufferedBytes >= RES_HEADER) {
      const head = this.buffered[0].length >= RES_HEADER ? this.buffered[0] : this.flatten();
      const len = head.readUInt32LE(0);
      if (len > MAX_ANSWER) {
        this.close();
        return;
      }
      if (this.bufferedBytes < RES_HEADER + len) return;
      const all = this.flatten();
      const err = all.readInt32LE(4);
      const payload = all.subarray(RES_HEADER, RES_HEADER + len);
      const rest = all.subarray(RES_HEADER + len);
      this.buffered = rest.length ? [rest] : [];
      this.bufferedBytes = rest.length;
      this.waiting.shift()!({ errno: err ? (ERRNO_NAMES.get(err) ?? `errno ${err}`) : undefined, payload });
    }
  }
}

function kind(mode: number): FileKind {
  const type = mode & 0o170000;
  return type === 0o100000 ? 'file' : type === 0o040000 ? 'directory' : type === 0o120000 ? 'symlink' : 'other';
}

/** One struct files_entry at at: the stat, its name, and where the next begins. */
export function decodeEntry(buf: Buffer, at: number): { entry: FileEntry; end: number } {
  const mode = buf.readUInt32LE(at);
  const targetMode = buf.readUInt32LE(at + 12);
  const nameLen = buf.readUInt16LE(at + 40);
  const linkLen = buf.readUInt16LE(at + 42);
  const raw = buf.subarray(at + ENTRY_HEADER, at + ENTRY_HEADER + nameLen);
  const name = raw.toString('utf8');
  const link = buf.toString('utf8', at + ENTRY_HEADER + nameLen, at + ENTRY_HEADER + nameLen + linkLen);
  const stat: FileStat = {
    kind: kind(mode),
    size: Number(buf.readBigUInt64LE(at + 16)),
    mtime: Math.floor(Number(buf.readBigInt64LE(at + 24)) / 1e6),
    ctime: Math.floor(Number(buf.readBigInt64LE(at + 32)) / 1e6),
    mode,
    uid: buf.readUInt32LE(at + 4),
    gid: buf.readUInt32LE(at + 8),
  };
  if (stat.kind === 'symlink') {
    stat.link = link;
    if (targetMode) stat.target = kind(targetMode) as Exclude<FileKind, 'symlink'>;
  }
  const entry: FileEntry = { name, ...stat, ...(Buffer.from(name).equals(raw) ? {} : { notUtf8: true }) };
  return { entry, end: at + ENTRY_HEADER + nameLen + linkLen };
}

/** A readdir page: a uint32 (where the next page starts, 0 for none), then entries. */
export function decodePage(buf: Buffer): { entries: FileEntry[]; next?: number } {
  const next = buf.readUInt32LE(0);
  const entries: FileEntry[] = [];
  for (let at = 4; at < buf.length;) {
    const { entry, end } = decodeEntry(buf, at);
    entries.push(entry);
    at = end;
  }
  return next ? { entries, next } : { entries };
}
