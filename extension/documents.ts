// Read-only documents: a namespace's details (served by namespaces/details)
// and a process's namespaces (two of them side by side make a comparison).
import * as vscode from 'vscode';
import { isNsType, NamespaceDetails, nsId, NsKey, NSTYPES } from '../helper/common/protocol';
import type { Connection } from './connection';
import type { Model } from './model';

export const DETAILS_SCHEME = 'nsx-details';
export const PROCESS_SCHEME = 'nsx-process';

export function detailsUri(key: NsKey): vscode.Uri {
  return vscode.Uri.from({ scheme: DETAILS_SCHEME, path: `/${key.type}-${key.inode}.txt` });
}

export function processUri(pid: number, comm: string): vscode.Uri {
  return vscode.Uri.from({
    scheme: PROCESS_SCHEME,
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

  constructor(
    private readonly connection: Connection,
    private readonly model: Model,
  ) {
    this.following = model.onDidChange(() => {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        for (const doc of vscode.workspace.textDocuments)
          if (doc.uri.scheme === DETAILS_SCHEME || doc.uri.scheme === PROCESS_SCHEME) this.changed.fire(doc.uri);
      }, FOLLOW_MS);
    });
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

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    return uri.scheme === DETAILS_SCHEME ? this.details(uri) : this.processNamespaces(uri);
  }

  private async details(uri: vscode.Uri): Promise<string> {
    const m = /^\/(\w+)-(\d+)\.txt$/.exec(uri.path);
    if (!m || !isNsType(m[1])) return 'Not a namespace.';
    const key = { type: m[1], inode: Number(m[2]) };
    try {
      const d = await this.connection.require().sendRequest(NamespaceDetails, key);
      return [
        `${nsId(key)}`,
        '',
        ...d.sections.flatMap((s) => [
          `── ${s.title} ${'─'.repeat(Math.max(2, 72 - s.title.length))}`,
          s.text.trimEnd(),
          '',
        ]),
      ].join('\n');
    } catch (err) {
      return `${nsId(key)}: ${(err as Error).message}`;
    }
  }

  private processNamespaces(uri: vscode.Uri): string {
    const pid = Number(uri.query);
    const p = this.model.process(pid);
    if (!p) return `Process ${pid} is gone.`;
    const lines = [
      `${p.comm} (${p.pid}) — ${p.cmdline.join(' ')}`,
      `user ${p.user} (uid ${p.uid}), parent ${p.ppid}`,
      '',
    ];
    for (const type of NSTYPES) {
      const inode = p.ns[type];
      if (inode === undefined) continue;
      const initial = this.model.initialInode(type) === inode ? '  (initial)' : '';
      lines.push(`${type.padEnd(7)} ${nsId({ type, inode })}${initial}`);
    }
    if (p.pidForChildren !== undefined) lines.push(`pid_for_children  pid:[${p.pidForChildren}]`);
    if (p.timeForChildren !== undefined) lines.push(`time_for_children time:[${p.timeForChildren}]`);
    return lines.join('\n') + '\n';
  }
}
