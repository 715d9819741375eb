// Long lists come a page at a time, so a tree over thousands of processes
// renders only what is looked at; a "Show more" row loads the next page.
import * as vscode from 'vscode';
import { MoreNode, Node } from './nodes';

export class Pages {
  private shown = new Map<string, number>();

  /** The first pages of items under parent, with a MoreNode when some are left. */
  slice<T>(parent: Node | undefined, items: T[], make: (item: T) => Node): Node[] {
    const size = vscode.workspace.getConfiguration('nsx').get<number>('pageSize', 200);
    // Never fewer than a page, whatever the page size was when more were asked for.
    const limit = Math.max(this.shown.get(parent?.id ?? '') ?? 0, size);
    const nodes = items.slice(0, limit).map(make);
    if (items.length > limit) nodes.push(new MoreNode(parent, items.length - limit));
    return nodes;
  }

  /** Shows under parent as many pages as it takes to reach the item at index (for a reveal past the first page). */
  reach(parent: Node | undefined, index: number): void {
    const size = vscode.workspace.getConfiguration('nsx').get<number>('pageSize', 200);
    const key = parent?.id ?? '';
    const needed = (Math.floor(index / size) + 1) * size;
    if ((this.shown.get(key) ?? size) < needed) this.shown.set(key, needed);
  }

  more(node: MoreNode): void {
    const size = vscode.workspace.getConfiguration('nsx').get<number>('pageSize', 200);
    const key = node.parent?.id ?? '';
    this.shown.set(key, Math.max(this.shown.get(key) ?? 0, size) + size);
  }
}
