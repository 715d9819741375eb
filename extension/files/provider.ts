// A mount namespace's files in the editor and the Explorer: a
// FileSystemProvider on the scheme nsx-files, whose authority names the
// root (container.web, pid.1234, pin.blue, mnt.4026532201) and, for another
// host's, that host (pid.1234~h24vb) so that a reload finds it again. Every
// call goes to that host's nsxd's files/* on a handle opened once per root
// and connection; nsxd's helper sees the files as this user (there: as the
// ssh login user).
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { FilesOpen, FilesTarget, FileStat } from '../../helper/common/files';
import { chunksOf, filesErrno, RemoteFiles } from '../../helper/common/filesClient';
import { ErrorCodes } from '../../helper/common/protocol';
import type { Host, Hosts } from '../hosts';
import { hostPart } from '../hostUri';
import { FocusRefresh } from './refresh';

export const FILES_SCHEME = 'nsx-files';
/** The editor reads no bigger file whole: Download… takes it to the host in chunks. */
export const EDITOR_MAX_BYTES = 50 * 1024 * 1024;

/**
 * The authority of a root: KIND.VALUE (container.web, pid.1234, pin.blue,
 * mnt.4026532201), after `root@` for root's view (where the policy grants
 * it), and `~HOST` after it for another host's (hostUri.ts: a name, or
 * `~HEX`; no value holds a `~`). VS Code treats authorities as
 * case-insensitive: a name with an upper-case letter goes hex-encoded
 * (container-x.HEX).
 */
export function filesAuthority(target: FilesTarget, root = false, host?: string): string {
  const as = root ? 'root@' : '';
  const on = host === undefined ? '' : `~${hostPart(host)}`;
  if ('pid' in target) return `${as}pid.${target.pid}${on}`;
  if ('mnt' in target) return `${as}mnt.${target.mnt}${on}`;
  const [kind, name] = 'pin' in target ? ['pin', target.pin] : ['container', target.container];
  return /[A-Z]/.test(name) ? `${as}${kind}-x.${Buffer.from(name).toString('hex')}${on}` : `${as}${kind}.${name}${on}`;
}

/** The authority's host part: '' for this host's roots (hostUri.ts). */
export function hostPartOf(authority: string): string {
  const tilde = authority.indexOf('~');
  return tilde < 0 ? '' : authority.slice(tilde + 1);
}

export function rootOf(authority: string): { target: FilesTarget; root: boolean } {
  const tilde = authority.indexOf('~');
  const local = tilde < 0 ? authority : authority.slice(0, tilde);
  const root = local.startsWith('root@');
  const rest = root ? local.slice(5) : local;
  const dot = rest.indexOf('.');
  const [kind, value] = [rest.slice(0, dot), rest.slice(dot + 1)];
  const name = kind.endsWith('-x') ? Buffer.from(value, 'hex').toString() : value;
  if (kind === 'pid' && /^\d+$/.test(value)) return { target: { pid: Number(value) }, root };
  if (kind === 'mnt' && /^\d+$/.test(value)) return { target: { mnt: Number(value) }, root };
  if (kind === 'pin' || kind === 'pin-x') return { target: { pin: name }, root };
  if (kind === 'container' || kind === 'container-x') return { target: { container: name }, root };
  throw vscode.FileSystemError.Unavailable(`${authority} names no container, process, pin or mnt namespace`);
}

/** HOST: another host's name; this host's root when undefined. */
export function filesUri(target: FilesTarget, path = '/', root = false, host?: string): vscode.Uri {
  return vscode.Uri.from({ scheme: FILES_SCHEME, authority: filesAuthority(target, root, host), path });
}

/** nsxd's errno as the editor's FileSystemError, with the sentence that names the path. */
function asFsError(err: unknown, uri: vscode.Uri): Error {
  const errno = filesErrno(err);
  const message = (err as Error).message;
  if (errno === 'ENOENT') return vscode.FileSystemError.FileNotFound(uri);
  if (errno === 'EEXIST') return vscode.FileSystemError.FileExists(uri);
  if (errno === 'EISDIR') return vscode.FileSystemError.FileIsADirectory(uri);
  if (errno === 'ENOTDIR') return vscode.FileSystemError.FileNotADirectory(uri);
  if (errno === 'EACCES' || errno === 'EPERM' || errno === 'EROFS')
    return vscode.FileSystemError.NoPermissions(message);
  return vscode.FileSystemError.Unavailable(message);
}

function fileType(s: FileStat): vscode.FileType {
  const base = (k: string | undefined) =>
    k === 'file' ? vscode.FileType.File : k === 'directory' ? vscode.FileType.Directory : vscode.FileType.Unknown;
  return s.kind === 'symlink' ? vscode.FileType.SymbolicLink | base(s.target) : base(s.kind);
}

export class FilesProvider implements vscode.FileSystemProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.changed.event;
  /** A handle per root, on the connection of its host it was opened on: another connection opens it again. */
  private handles = new Map<string, { client: LanguageClient; files: Promise<RemoteFiles> }>();
  private readonly subscriptions: vscode.Disposable[];
  private readonly focus = new FocusRefresh();

  constructor(private readonly hosts: Hosts) {
    this.subscriptions = [
      // Changes made inside show when the window comes back: what is open is read again.
      vscode.window.onDidChangeWindowState((s) => {
        if (s.focused) void this.refreshOpen().catch(() => undefined);
      }),
    ];
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
    this.changed.dispose();
  }

  /** What changed inside while the window was elsewhere, as file events. */
  async refreshOpen(): Promise<void> {
    // A folder of a host that does not answer now is left as it was, not said to be gone.
    const events = await this.focus.changes((uri) =>
      this.hostOf(uri).connection.connected ? this.on(uri, (f) => f.list(uri.path)) : Promise.resolve(undefined),
    );
    if (events.length) this.changed.fire(events);
  }

  /** The host whose root uri is in: this one, or one of nsx.hosts (or a sentence, if it is not there any more). */
  private hostOf(uri: vscode.Uri): Host {
    try {
      return this.hosts.forPart(hostPartOf(uri.authority));
    } catch (err) {
      throw vscode.FileSystemError.Unavailable((err as Error).message);
    }
  }

  /** The handle of uri's root, opened once per connection to its host. */
  files(uri: vscode.Uri): Promise<RemoteFiles> {
    const client = this.hostOf(uri).connection.require();
    let h = this.handles.get(uri.authority);
    if (h?.client !== client) {
      const { target, root } = rootOf(uri.authority);
      const files = client
        .sendRequest(FilesOpen, { target, ...(root ? { root } : {}) })
        .then(({ handle }) => new RemoteFiles((type, params) => client.sendRequest(type, params), handle));
      files.catch(() => {
        if (this.handles.get(uri.authority)?.files === files) this.handles.delete(uri.authority);
      });
      h = { client, files };
      this.handles.set(uri.authority, h);
    }
    return h.files;
  }

  /** Runs fn on uri's handle; a handle nsxd no longer knows (it restarted) is opened again once. */
  private async on<T>(uri: vscode.Uri, fn: (f: RemoteFiles) => Promise<T>): Promise<T> {
    try {
      try {
        return await fn(await this.files(uri));
      } catch (err) {
        if ((err as { code?: number }).code !== ErrorCodes.NotFound) throw err;
        this.handles.delete(uri.authority);
        return await fn(await this.files(uri));
      }
    } catch (err) {
      throw asFsError(err, uri);
    }
  }

  watch(): vscode.Disposable {
    return new vscode.Disposable(() => undefined);
  }

  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    const s = await this.on(uri, (f) => f.stat(uri.path));
    return { type: fileType(s), size: s.size, mtime: s.mtime, ctime: s.ctime };
  }

  async readDirectory(uri: vscode.Uri): Promise<[string, vscode.FileType][]> {
    const entries = await this.on(uri, (f) => f.list(uri.path));
    this.focus.listedNow(uri, entries);
    // A name that is not UTF-8 would reach no file, or another one, through a URI: not shown.
    return entries.filter((e) => !e.notUtf8).map((e) => [e.name, fileType(e)]);
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    const s = await this.on(uri, (f) => f.stat(uri.path));
    if (s.size > EDITOR_MAX_BYTES)
      throw vscode.FileSystemError.Unavailable(
        `${uri.path} is ${(s.size / 1024 / 1024).toFixed(0)} MiB, more than the editor opens (50 MiB): use Download… on it in the Explorer`,
      );
    return this.on(uri, (f) => f.readAll(uri.path, EDITOR_MAX_BYTES));
  }

  async writeFile(uri: vscode.Uri, content: Uint8Array, opts: { create: boolean; overwrite: boolean }): Promise<void> {
    await this.on(uri, (f) => f.upload(uri.path, chunksOf(content), opts));
    this.changed.fire([{ type: vscode.FileChangeType.Changed, uri }]);
  }

  async createDirectory(uri: vscode.Uri): Promise<void> {
    await this.on(uri, (f) => f.createDirectory(uri.path));
    this.changed.fire([{ type: vscode.FileChangeType.Created, uri }]);
  }

  async delete(uri: vscode.Uri, opts: { recursive: boolean }): Promise<void> {
    await this.on(uri, (f) => f.delete(uri.path, opts.recursive));
    this.changed.fire([{ type: vscode.FileChangeType.Deleted, uri }]);
  }

  async rename(from: vscode.Uri, to: vscode.Uri, opts: { overwrite: boolean }): Promise<void> {
    if (from.authority !== to.authority)
      throw vscode.FileSystemError.NoPermissions(
        'a file moves only within one container or namespace: copy it instead',
      );
    await this.on(from, (f) => f.rename(from.path, to.path, opts.overwrite));
    this.changed.fire([
      { type: vscode.FileChangeType.Deleted, uri: from },
      { type: vscode.FileChangeType.Created, uri: to },
    ]);
  }
}
