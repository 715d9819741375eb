// Changes made inside a container show when the window regains focus: the
// folders the Explorer listed last (a bounded few) are listed again and
// compared, and what appeared, went or changed is told to VS Code as file
// events; open documents of nsx-files are told to look again too. (nsxd
// watches nothing for the editor: a folder listed is one request.)
import * as vscode from 'vscode';
import type { FileEntry } from '../../helper/common/files';

/** Folders remembered for the next look; the oldest listed are dropped first. */
const REMEMBERED = 64;

interface Listed {
  uri: vscode.Uri;
  /** name → mtime and kind */
  entries: Map<string, string>;
}

const fingerprint = (e: FileEntry) => `${e.kind}:${e.mtime}:${e.size}`;

export class FocusRefresh {
  private listed = new Map<string, Listed>();

  /** A folder the Explorer just listed, and what it held. */
  listedNow(uri: vscode.Uri, entries: FileEntry[]): void {
    const key = uri.toString();
    this.listed.delete(key);
    this.listed.set(key, { uri, entries: new Map(entries.map((e) => [e.name, fingerprint(e)])) });
    if (this.listed.size > REMEMBERED) this.listed.delete(this.listed.keys().next().value!);
  }

  /** Lists every remembered folder again with list (undefined: its host cannot be asked now); returns the events of what differs. */
  async changes(list: (uri: vscode.Uri) => Promise<FileEntry[] | undefined>): Promise<vscode.FileChangeEvent[]> {
    const events: vscode.FileChangeEvent[] = [];
    for (const doc of vscode.workspace.textDocuments)
      if (doc.uri.scheme === 'nsx-files') events.push({ type: vscode.FileChangeType.Changed, uri: doc.uri });
    for (const { uri, entries } of [...this.listed.values()]) {
      let now: FileEntry[] | undefined;
      try {
        now = await list(uri);
        if (!now) continue;
      } catch {
        this.listed.delete(uri.toString());
        events.push({ type: vscode.FileChangeType.Deleted, uri });
        continue;
      }
      const child = (name: string) => vscode.Uri.joinPath(uri, name);
      const seen = new Set<string>();
      for (const e of now) {
        seen.add(e.name);
        const before = entries.get(e.name);
        if (before === undefined) events.push({ type: vscode.FileChangeType.Created, uri: child(e.name) });
        else if (before !== fingerprint(e)) events.push({ type: vscode.FileChangeType.Changed, uri: child(e.name) });
      }
      for (const name of entries.keys())
        if (!seen.has(name)) events.push({ type: vscode.FileChangeType.Deleted, uri: child(name) });
      this.listedNow(uri, now);
    }
    return events;
  }
}
