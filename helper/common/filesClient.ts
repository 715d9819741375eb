// A files handle as a client uses it: whole files read and written in chunks
// (a few in flight, so the round trips overlap), whole folders listed page by
// page. nsx, the extension and the tests share it; each gives its own way to
// send a request (a MessageConnection's, a LanguageClient's).
import type { RequestType } from 'vscode-jsonrpc';
import {
  FILES_CHUNK,
  FileEntry,
  FilesClose,
  FilesCreateDirectory,
  FilesDelete,
  FilesRename,
  FilesErrorCode,
  FilesErrorData,
  FilesRead,
  FilesReadDirectory,
  FilesReadDirectoryResult,
  FilesStat,
  FilesSymlink,
  FileStat,
  FilesWrite,
} from './files';

export type Send = <P, R>(type: RequestType<P, R, void>, params: P) => Promise<R>;

/** Chunks in flight at once, each way. */
const WINDOW = 4;

/** The errno of a files error (ENOENT …), or undefined for any other failure. */
export function filesErrno(err: unknown): string | undefined {
  const e = err as { code?: number; data?: FilesErrorData };
  return e?.code === FilesErrorCode ? e.data?.errno : undefined;
}

export class RemoteFiles {
  constructor(
    private readonly send: Send,
    readonly handle: number,
  ) {}

  stat(path: string): Promise<FileStat> {
    return this.send(FilesStat, { handle: this.handle, path });
  }

  async list(path: string): Promise<FileEntry[]> {
    const all: FileEntry[] = [];
    let start: number | undefined = 0;
    while (start !== undefined) {
      const page: FilesReadDirectoryResult = await this.send(FilesReadDirectory, { handle: this.handle, path, start });
      all.push(...page.entries);
      start = page.next;
    }
    return all;
  }

  /** The file at path, from offset 0 until a short chunk, each chunk to sink in order. */
  async download(path: string, sink: (chunk: Buffer) => void | Promise<void>): Promise<number> {
    let asked = 0;
    let total = 0;
    let done = false;
    const inFlight: Promise<Buffer>[] = [];
    const ask = () => {
      const offset = asked;
      asked += FILES_CHUNK;
      inFlight.push(
        this.send(FilesRead, { handle: this.handle, path, offset, length: FILES_CHUNK }).then((r) =>
          Buffer.from(r.data, 'base64'),
        ),
      );
    };
    for (let i = 0; i < WINDOW; i++) ask();
    try {
      while (!done) {
        const chunk = await inFlight.shift()!;
        if (chunk.length) await sink(chunk);
        total += chunk.length;
        if (chunk.length < FILES_CHUNK) done = true;
        else ask();
      }
    } finally {
      // Those asked past the end answer empty: waited for, so that no request is still being written when the
      // caller closes its connection; a failure of theirs is no one's.
      await Promise.all(inFlight.map((p) => p.catch(() => undefined)));
    }
    return total;
  }

  /** The whole file; more than max bytes (a file that grows while it is read) is an error, not memory. */
  async readAll(path: string, max = Infinity): Promise<Buffer> {
    const parts: Buffer[] = [];
    let total = 0;
    await this.download(path, (c) => {
      total += c.length;
      if (total > max) throw new Error(`${path} grew past ${max} bytes while it was read`);
      parts.push(c);
    });
    return Buffer.concat(parts);
  }

  /**
   * Writes a whole file from chunks: the first one creates or empties it
   * (create/overwrite as asked), the rest follow at their offsets.
   */
  async upload(
    path: string,
    chunks: AsyncIterable<Buffer> | Iterable<Buffer>,
    opts: { create: boolean; overwrite: boolean },
  ): Promise<number> {
    let offset = 0;
    const inFlight: Promise<unknown>[] = [];
    const write = (data: Buffer, first: boolean) =>
      this.send(FilesWrite, {
        handle: this.handle,
        path,
        offset: offset,
        data: data.toString('base64'),
        ...(first ? { create: opts.create, overwrite: opts.overwrite, truncate: true } : { overwrite: true }),
      });
    // The first chunk alone: it decides whether the file may be made or emptied.
    let first = true;
    try {
      for await (const whole of chunks) {
        for (let at = 0; at < whole.length || (first && at === 0); at += FILES_CHUNK) {
          const data = whole.subarray(at, at + FILES_CHUNK);
          if (first) await write(data, true);
          else inFlight.push(write(data, false));
          first = false;
          offset += data.length;
          if (inFlight.length >= WINDOW) await inFlight.shift();
        }
      }
      if (first) await write(Buffer.alloc(0), true);
      await Promise.all(inFlight);
    } finally {
      await Promise.all(inFlight.map((p) => p.catch(() => undefined)));
    }
    return offset;
  }

  createDirectory(path: string): Promise<null> {
    return this.send(FilesCreateDirectory, { handle: this.handle, path });
  }

  delete(path: string, recursive: boolean): Promise<null> {
    return this.send(FilesDelete, { handle: this.handle, path, recursive });
  }

  rename(from: string, to: string, overwrite: boolean): Promise<null> {
    return this.send(FilesRename, { handle: this.handle, from, to, overwrite });
  }

  symlink(path: string, target: string): Promise<null> {
    return this.send(FilesSymlink, { handle: this.handle, path, target });
  }

  close(): Promise<null> {
    return this.send(FilesClose, { handle: this.handle });
  }
}

/** Chunks of at most FILES_CHUNK bytes of a buffer. */
export function* chunksOf(data: Uint8Array): Iterable<Buffer> {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  for (let at = 0; at < b.length; at += FILES_CHUNK) yield b.subarray(at, at + FILES_CHUNK);
}
