// The extension's copy of every network namespace's wiring: asked for with
// net/subscribe the first time a view shows it (interfaces in the tree, the
// Network view), kept by net/changed, and let go when none of them is shown;
// redraws coalesced like the model's.
import * as vscode from 'vscode';
import {
  applyNetChange,
  NetChangedNotification,
  NetList,
  NetNamespace,
  SubscribeNet,
  UnsubscribeNet,
} from '../helper/common/net';
import type { Connection } from './connection';

const MIN_REDRAW_MS = 250;

export class NetModel implements vscode.Disposable {
  private list: NetList | undefined;
  private subscribing = false;
  /** Bumped whenever what a subscription in flight asked for no longer holds. */
  private generation = 0;
  private pending: NodeJS.Timeout | undefined;
  /** The views that show the wiring now: the tree, the Network view. */
  private readonly visible = new Set<string>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly onDidChangeEmitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.onDidChangeEmitter.event;

  constructor(private readonly connection: Connection) {
    this.disposables.push(
      connection.onDidConnect((client) => {
        client.onNotification(NetChangedNotification, (change) => {
          if (!this.list) return;
          this.list = applyNetChange(this.list, change);
          this.changed();
        });
        this.list = undefined;
        this.subscribing = false;
        this.generation++;
      }),
      connection.onDidDisconnect(() => {
        this.list = undefined;
        this.subscribing = false;
      }),
    );
  }

  /** The whole list, or undefined while it is first asked for (a redraw follows when it lands). */
  current(): NetList | undefined {
    if (!this.list) void this.subscribe();
    return this.list;
  }

  namespace(inode: number): NetNamespace | undefined {
    return this.current()?.namespaces.find((ns) => ns.inode === inode);
  }

  private async subscribe(): Promise<void> {
    if (this.subscribing || !this.connection.connected) return;
    this.subscribing = true;
    const generation = ++this.generation;
    try {
      const list = await this.connection.require().sendRequest(SubscribeNet);
      if (generation !== this.generation) return; // hidden or reconnected meanwhile
      this.list = list;
      this.changed();
    } catch {
      this.subscribing = false; // asked again at the next redraw
    }
  }

  /** A view shown or hidden: with none shown, nsxd may let nsx-net, and every namespace it holds, go. */
  setVisible(view: string, visible: boolean): void {
    if (visible) this.visible.add(view);
    else this.visible.delete(view);
    if (this.visible.size > 0 || (!this.list && !this.subscribing) || !this.connection.connected) return;
    this.list = undefined;
    this.subscribing = false;
    this.generation++;
    void this.connection
      .require()
      .sendRequest(UnsubscribeNet)
      .catch(() => undefined);
  }

  private changed(): void {
    this.pending ??= setTimeout(() => {
      this.pending = undefined;
      this.onDidChangeEmitter.fire();
    }, MIN_REDRAW_MS);
  }

  dispose(): void {
    clearTimeout(this.pending);
    for (const d of this.disposables) d.dispose();
    this.onDidChangeEmitter.dispose();
  }
}
