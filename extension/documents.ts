// Read-only documents: a namespace's details (served by namespaces/details)
// and a process's namespaces (two of them side by side make a comparison).
// The authority names the host (hostUri.ts; empty for this one): two hosts'
// net:[4026531840] are two documents, each read from its own host's nsxd.
import * as vscode from 'vscode';
import { isNsType, NamespaceDetails, nsId, NsKey, NSTYPES } from '../helper/common/protocol';
import type { Host, Hosts } from './hosts';
import { hostPart } from './hostUri';

export const DETAILS_SCHEME = 'nsx-details';
export const PROCESS_SCHEME = 'nsx-process';

/** HOST: the host whose namespace it is; this one's when undefined or local. */
export function detailsUri(key: NsKey, host?: Host): vscode.Uri {
  return vscode.Uri.from({
    scheme: DETAILS_SCHEME,
    authority: hostPart(host?.local === false ? host.name : undefined),
    path: `/${key.type}-${key.inode}.txt`,
  });
}

export function processUri(pid: number, comm: string, host?: Host): vscode.Uri {
  return vscode.Uri.from({
    scheme: PROCESS_SCHEME,
    authority: hostPart(host?.local === false ? host.name : undefined),
    path: `/${comm.replace(/[^\w.-]/g, '_')} (${pid}).txt`,
    query: String(pid),
  });
}

/** Open documents follow the model, at most this often: each details document is read inside its namespace. */
const FOLLOW_MS = 5000;

export class Documents implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private timer: NodeJS.Timeout | undefined;
  private readonly following: vscode.Disposable;
  /**
   * Each document's latest read: the next waits for it. VS Code shows each
   * read's text as it comes, and details are read inside the namespace, where
   * an earlier read (the model's follow) can finish after a later one (shown
   * again) and put back what the later one had replaced.
   */
  private readonly reading = new Map<string, Promise<string>>();

  constructor(private readonly hosts: Hosts) {
    const follow = () => {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        for (const doc of vscode.workspace.textDocuments)
          if (doc.uri.scheme === DETAILS_SCHEME || doc.uri.scheme === PROCESS_SCHEME) this.changed.fire(doc.uri);
      }, FOLLOW_MS);
    };
    // Another host's model changes, connects or goes: Hosts says so.
    this.following = vscode.Disposable.from(hosts.here.model.onDidChange(follow), hosts.onDidChange(follow));
  }

  /** Reads a document again now (it was opened before, and is shown again). */
  refresh(uri: vscode.Uri): void {
    this.changed.fire(uri);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.following.dispose();
    this.changed.dispose();
  }

  provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const key = uri.toString();
    const next = () => this.read(uri);
    const read = (this.reading.get(key) ?? Promise.resolve('')).then(next, next);
    this.reading.set(key, read);
    const done = () => this.reading.get(key) === read && this.reading.delete(key);
    read.then(done, done);
    return read;
  }

  private async read(uri: vscode.Uri): Promise<string> {
    let host: Host;
    try {
      host = this.hosts.forPart(uri.authority);
    } catch (err) {
      return `${(err as Error).message}.\n`;
    }
    return uri.scheme === DETAILS_SCHEME ? this.details(uri, host) : this.processNamespaces(uri, host);
  }

  private async details(uri: vscode.Uri, host: Host): Promise<string> {
    const m = /^\/(\w+)-(\d+)\.txt$/.exec(uri.path);
    if (!m || !isNsType(m[1])) return 'Not a namespace.';
    const key = { type: m[1], inode: Number(m[2]) };
    try {
      const d = await host.connection.require().sendRequest(NamespaceDetails, key);
      return [
        `${nsId(key)}${host.on}`,
        '',
        ...d.sections.flatMap((s) => [
          `── ${s.title} ${'─'.repeat(Math.max(2, 72 - s.title.length))}`,
          s.text.trimEnd(),
          '',
        ]),
      ].join('\n');
    } catch (err) {
      return `${nsId(key)}${host.on}: ${(err as Error).message}`;
    }
  }

  private processNamespaces(uri: vscode.Uri, host: Host): string {
    const pid = Number(uri.query);
    const model = host.model;
    const p = model.process(pid);
    if (!p) return `Process ${pid}${host.on} is gone.`;
    const lines = [
      `${p.comm} (${p.pid})${host.on} — ${p.cmdline.join(' ')}`,
      `user ${p.user} (uid ${p.uid}), parent ${p.ppid}`,
      '',
    ];
    for (const type of NSTYPES) {
      const inode = p.ns[type];
      if (inode === undefined) continue;
      const initial = model.initialInode(type) === inode ? '  (initial)' : '';
      lines.push(`${type.padEnd(7)} ${nsId({ type, inode })}${initial}`);
    }
    if (p.pidForChildren !== undefined) lines.push(`pid_for_children  pid:[${p.pidForChildren}]`);
    if (p.timeForChildren !== undefined) lines.push(`time_for_children time:[${p.timeForChildren}]`);
    return lines.join('\n') + '\n';
  }
}
