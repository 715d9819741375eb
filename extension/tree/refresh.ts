// The one place the views are redrawn, and what they say above their items.
// They redraw when the model changes (nsxd pushed a diff, or a rescan
// landed), when the filter changes, and when a command changes what they show
// (grouping, paging); nsxd is subscribed to only while a view is visible.
import * as vscode from 'vscode';
import type { Connection } from '../connection';
import type { Model } from '../model';
import type { Filter } from './filter';
import type { Node } from './nodes';
import type { NodeProvider } from './provider';

export class RefreshManager implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[];

  constructor(
    private readonly model: Model,
    private readonly filter: Filter,
    private readonly connection: Connection,
    private readonly views: { id: string; view: vscode.TreeView<Node>; provider: NodeProvider }[],
  ) {
    this.disposables = [
      model.onDidChange(() => this.redraw()),
      filter.onDidChange(() => {
        this.describe();
        this.redraw();
      }),
      connection.onDidChangeState(() => this.describe()),
      ...views.map(({ id, view }) => view.onDidChangeVisibility((e) => model.setVisible(id, e.visible))),
    ];
    for (const { id, view } of views) model.setVisible(id, view.visible);
  }

  redraw(): void {
    for (const { provider } of this.views) provider.redraw();
  }

  /** A full scan now, for what a command just changed (a pin, an unpin): the views show it without waiting for the next diff. */
  rescan(): Promise<void> {
    return this.model.rescan();
  }

  /**
   * The message says what the filter hides. While nsxd is not reachable there
   * is none: a view with a message shows no welcome content, and the welcome
   * content is what has the buttons (start nsxd, install it, retry).
   */
  private describe(): void {
    const message = this.connection.connected && this.filter.active ? `Filtered: ${this.filter.summary}` : undefined;
    for (const { view } of this.views) view.message = message;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
