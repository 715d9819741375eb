// The files area: files/open and what is done through a handle. Each request
// is parsed (common/files.ts), authorised and audited here, and done by the
// handle's nsx-files helper (kernel/filesHelper.ts), which runs as the
// caller (or as root where the policy grants root shells) inside the root
// nsxd opened. A handle lives as long as its connection: the connection's
// end ends every helper it started.
import { MessageConnection, ResponseError } from 'vscode-jsonrpc/node';
import type { Caller } from '../access/access';
import { audit } from '../access/audit';
import type { Scanner } from '../discovery/scanner';
import { closeQuietly } from '../fds';
import {
  Answer,
  decodeEntry,
  decodePage,
  FilesHelper,
  Flag,
  HelperRequest,
  Op,
  TooManyRequests,
} from '../kernel/filesHelper';
import { filesIdentity, openFilesRoot } from '../kernel/filesRoot';
import type { Pins } from '../kernel/pins';
import type { Area } from '../rpc/server';
import {
  errnoSentence,
  FilesClose,
  FilesCreateDirectory,
  FilesDelete,
  FilesErrorCode,
  FilesErrorData,
  FilesOpen,
  FilesOpenParams,
  FilesOpenResult,
  FilesRead,
  FilesReadDirectory,
  FilesRename,
  FilesStat,
  FilesSymlink,
  FilesTarget,
  FilesWrite,
  parseFilesDelete,
  parseFilesHandle,
  parseFilesOpen,
  parseFilesPath,
  parseFilesRead,
  parseFilesReadDirectory,
  parseFilesRename,
  parseFilesSymlink,
  parseFilesWrite,
} from '../../common/files';
import { ErrorCodes } from '../../common/protocol';

/** Each handle is a helper process of the caller's: a connection holds few. */
const MAX_HANDLES_PER_CONNECTION = 16;

interface Handle {
  helper: FilesHelper;
  title: string;
  target: string;
  as: string;
}

function describe(t: FilesTarget): string {
  if ('pid' in t) return `pid:${t.pid}`;
  if ('pin' in t) return `pin:mnt/${t.pin}`;
  if ('mnt' in t) return `mnt:[${t.mnt}]`;
  return `container:${t.container}`;
}

/** An errno from the helper as the client's error: a sentence with the path, and { errno, path } for the editor. */
function failed(a: Answer, path: string, who: string): ResponseError<FilesErrorData> {
  const errno = a.errno!;
  const as = errno === 'EACCES' || errno === 'EPERM' ? ` (as ${who})` : '';
  return new ResponseError(FilesErrorCode, `${path}: ${errnoSentence(errno)}${as}`, { errno, path });
}

type AuditFields = Record<string, string | number | boolean | undefined>;

/** A connection's handles, and how a request reaches one. */
class Handles {
  readonly map = new Map<number, Handle>();
  private next = 1;
  /** Opens under way: they count against the limit, and one that lands after the connection closed is ended. */
  opening = 0;
  closed = false;

  constructor(readonly caller: Caller) {}

  get(id: number): Handle {
    const h = this.map.get(id);
    if (!h) throw new ResponseError(ErrorCodes.NotFound, `no files handle ${id} on this connection`);
    return h;
  }

  add(h: Handle): number {
    const id = this.next++;
    this.map.set(id, h);
    return id;
  }

  /** One request to the handle's helper; its errno as a FilesErrorCode error. */
  async run(id: number, req: HelperRequest): Promise<{ h: Handle; payload: Buffer }> {
    const h = this.get(id);
    const a = await h.helper.request(req).catch((err: Error) => {
      if (err instanceof TooManyRequests) throw new ResponseError(ErrorCodes.LimitExceeded, err.message);
      throw new ResponseError(ErrorCodes.Failed, `${h.title}: ${err.message}`);
    });
    if (a.errno) throw failed(a, req.path, h.as);
    return { h, payload: a.payload };
  }

  /** The audit line of a change. */
  changed(action: string, h: Handle, fields: AuditFields): void {
    const { uid, user } = this.caller;
    audit(action, { uid, user, target: h.target, as: h.as, ...fields, result: 'ok' });
  }

  closeAll(): void {
    this.closed = true;
    for (const h of this.map.values()) h.helper.close();
    this.map.clear();
  }
}

export function filesArea(scanner: Scanner, pins: Pins): Area {
  return (conn, caller, onClose) => {
    const handles = new Handles(caller);
    conn.onRequest(FilesOpen, (params) => openHandle(params, handles, scanner, pins));
    readRequests(conn, handles);
    changeRequests(conn, handles);
    conn.onRequest(FilesClose, (params) => {
      const p = parseFilesHandle(params);
      handles.get(p.handle).helper.close();
      handles.map.delete(p.handle);
      return null;
    });
    onClose(() => handles.closeAll());
  };
}

async function openHandle(params: unknown, handles: Handles, scanner: Scanner, pins: Pins): Promise<FilesOpenResult> {
  const { caller } = handles;
  let target = 'invalid';
  handles.opening++;
  try {
    if (handles.map.size + handles.opening > MAX_HANDLES_PER_CONNECTION)
      throw new ResponseError(
        ErrorCodes.LimitExceeded,
        `at most ${MAX_HANDLES_PER_CONNECTION} files handles per connection`,
      );
    const req: FilesOpenParams = parseFilesOpen(params);
    target = describe(req.target);
    const h = await open(req, caller, scanner, pins, target);
    if (handles.closed) {
      h.helper.close();
      throw new ResponseError(ErrorCodes.Failed, 'the connection closed while the files opened');
    }
    const id = handles.add(h);
    audit(FilesOpen.method, { uid: caller.uid, user: caller.user, target, as: h.as, handle: id, result: 'ok' });
    return { handle: id, title: h.title, user: h.as, uid: h.as === 'root' ? 0 : caller.uid };
  } catch (err) {
    const reason = (err as Error).message;
    audit(FilesOpen.method, { uid: caller.uid, user: caller.user, target, result: 'refused', reason });
    throw err;
  } finally {
    handles.opening--;
  }
}

function readRequests(conn: MessageConnection, handles: Handles): void {
  conn.onRequest(FilesStat, async (params) => {
    const p = parseFilesPath(params);
    const { payload } = await handles.run(p.handle, { op: Op.stat, path: p.path });
    const { name: _name, ...stat } = decodeEntry(payload, 0).entry;
    return stat;
  });
  conn.onRequest(FilesReadDirectory, async (params) => {
    const p = parseFilesReadDirectory(params);
    return decodePage((await handles.run(p.handle, { op: Op.readdir, path: p.path, offset: p.start })).payload);
  });
  conn.onRequest(FilesRead, async (params) => {
    const p = parseFilesRead(params);
    const { payload } = await handles.run(p.handle, { op: Op.read, path: p.path, offset: p.offset, count: p.length });
    return { data: payload.toString('base64') };
  });
}

function changeRequests(conn: MessageConnection, handles: Handles): void {
  conn.onRequest(FilesWrite, async (params) => {
    const p = parseFilesWrite(params);
    const flags = (p.create ? Flag.create : 0) | (p.overwrite ? Flag.overwrite : 0) | (p.truncate ? Flag.truncate : 0);
    const data = Buffer.from(p.data, 'base64');
    const { h } = await handles.run(p.handle, { op: Op.write, path: p.path, flags, offset: p.offset, data });
    // One line per file written, not per chunk: the first chunk (offset 0) says it.
    if (p.offset === 0) handles.changed(FilesWrite.method, h, { path: p.path, truncate: p.truncate });
    return null;
  });
  conn.onRequest(FilesCreateDirectory, async (params) => {
    const p = parseFilesPath(params);
    const { h } = await handles.run(p.handle, { op: Op.mkdir, path: p.path });
    handles.changed(FilesCreateDirectory.method, h, { path: p.path });
    return null;
  });
  conn.onRequest(FilesDelete, async (params) => {
    const p = parseFilesDelete(params);
    const { h } = await handles.run(p.handle, { op: Op.delete, path: p.path, flags: p.recursive ? Flag.recursive : 0 });
    handles.changed(FilesDelete.method, h, { path: p.path, recursive: p.recursive });
    return null;
  });
  conn.onRequest(FilesSymlink, async (params) => {
    const p = parseFilesSymlink(params);
    const { h } = await handles.run(p.handle, { op: Op.symlink, path: p.path, path2: p.target });
    handles.changed(FilesSymlink.method, h, { path: p.path, to: p.target });
    return null;
  });
  conn.onRequest(FilesRename, async (params) => {
    const p = parseFilesRename(params);
    const req = { op: Op.rename, path: p.from, path2: p.to, flags: p.overwrite ? Flag.overwrite : 0 };
    handles.changed(FilesRename.method, (await handles.run(p.handle, req)).h, { path: p.from, to: p.to });
    return null;
  });
}

/** The root, checked, and the helper on it as whom the caller may be; nsxd keeps no fd of it. */
async function open(
  req: FilesOpenParams,
  caller: Caller,
  scanner: Scanner,
  pins: Pins,
  target: string,
): Promise<Handle> {
  if (req.root && !caller.rootShells && caller.uid !== 0)
    throw new ResponseError(
      ErrorCodes.AccessDenied,
      `${caller.user} may not see files as root: an admin grants it in /etc/nsx/nsxd.json ("rootShells")`,
    );
  const { asRoot, identity } = filesIdentity(req.root === true, caller);
  const where = await openFilesRoot(req.target, scanner, pins);
  try {
    const helper = await FilesHelper.start(where, identity).catch((err: Error) => {
      throw new ResponseError(ErrorCodes.Failed, `cannot open the files of ${where.title}: ${err.message}`);
    });
    return { helper, title: where.title, target, as: asRoot ? 'root' : caller.user };
  } finally {
    closeQuietly(where.rootFd ?? where.mntFd);
  }
}
