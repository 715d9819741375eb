// The extension's copy of how every network namespace is wired: net/subscribe
// while something shows it (the Network view), kept current by net/changed,
// dropped when nothing does. Like the namespace model (model.ts), nothing is
// asked of nsxd while no one looks.
import * as vscode from 'vscode';
import {
  applyNetChange,
  ListNet,
  NetChangedNotification,
  NetList,
  SubscribeNet,
  UnsubscribeNet,
} from '../../helper/common/net';
import type { Connection } from '../connection';

export class Wiring implements vscode.Disposable {
  private wanted = new Set<string>();
  private subscribed = false;
  private current: NetList | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly onDidChangeEmitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.onDidChangeEmitter.event;

  constructor(private readonly connection: Connection) {
    this.disposables.push(
      connection.onDidConnect((client) => {
        client.onNotification(NetChangedNotification, (change) => {
          if (!this.current) return;
          this.current = applyNetChange(this.current, change);
          this.onDidChangeEmitter.fire();
        });
        this.subscribed = false;
        void this.sync();
      }),
      connection.onDidDisconnect(() => {
        this.subscribed = false;
        this.current = undefined;
        this.onDidChangeEmitter.fire();
      }),
    );
  }

  /** The wiring as last heard, or undefined while nsxd has not said (or is not there). */
  get list(): NetList | undefined {
    return this.current;
  }

  /** A viewer says whether it shows the wiring: nsxd is asked for it only while one does. */
  want(viewer: string, wanted: boolean): void {
    if (wanted) this.wanted.add(viewer);
    else this.wanted.delete(viewer);
    void this.sync();
  }

  /** Reads it all again now (counters move without a change to report). */
  async reread(): Promise<NetList | undefined> {
    if (!this.connection.connected) return undefined;
    this.current = await this.connection.require().sendRequest(ListNet, {});
    this.onDidChangeEmitter.fire();
    return this.current;
  }

  private async sync(): Promise<void> {
    if (!this.connection.connected) return;
    const client = this.connection.require();
    const want = this.wanted.size > 0;
    if (want && !this.subscribed) {
      this.subscribed = true;
      try {
        this.current = await client.sendRequest(SubscribeNet);
        this.onDidChangeEmitter.fire();
      } catch {
        this.subscribed = false;
      }
    } else if (!want && this.subscribed) {
      this.subscribed = false;
      this.current = undefined;
      await client.sendRequest(UnsubscribeNet).catch(() => undefined);
    }
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    this.onDidChangeEmitter.dispose();
  }
}
