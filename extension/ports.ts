// Ports in the window: each net namespace's listening sockets (asked of
// nsxd when its row is expanded, kept a few seconds), and the forwards this
// window's user has open. A forward ends with the window's connection to
// nsxd (nsxd ends it), unless it was kept; on every (re)connect the list is
// asked again, and a forward that ends is dropped when nsxd says so. For
// another host, a forward listens here and its connections are carried
// there (carried.ts).
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { CarriedForwards } from './carried';
import type { Connection } from './connection';
import {
  Forward,
  ForwardClosed,
  ForwardParams,
  ForwardPort,
  ListForwards,
  ListPorts,
  NetPorts,
  PortsTarget,
  Unforward,
} from '../helper/common/ports';

/** How long a namespace's listing is shown before it is asked again (while its row stays open): the host's reads every fd. */
const FRESH_MS = 15_000;

interface Listing {
  at: number;
  ports?: NetPorts;
  error?: string;
  loading?: Promise<void>;
}

export class Ports implements vscode.Disposable {
  private readonly listings = new Map<number, Listing>();
  private forwardList: Forward[] = [];
  private readonly onDidChangeEmitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.onDidChangeEmitter.event;
  private readonly subscriptions: vscode.Disposable[] = [];
  /** Another host's: its forwards listen here. */
  private readonly carried: CarriedForwards | undefined;

  constructor(private readonly connection: Connection) {
    this.carried = connection.remote ? new CarriedForwards(connection) : undefined;
    this.subscriptions.push(
      connection.onDidConnect((client) => this.connected(client)),
      connection.onDidDisconnect(() => {
        // Its nsxd ends them with the connection: nothing listens here for them any more.
        this.carried?.endAll();
        this.forwardList = [];
        this.listings.clear();
        this.onDidChangeEmitter.fire();
      }),
    );
  }

  private connected(client: LanguageClient): void {
    this.subscriptions.push(
      client.onNotification(ForwardClosed, ({ id }) => {
        this.carried?.end(id);
        this.forwardList = this.forwardList.filter((f) => f.id !== id);
        this.onDidChangeEmitter.fire();
      }),
    );
    void this.reloadForwards();
  }

  async reloadForwards(): Promise<Forward[]> {
    try {
      const mine = this.connection.identity?.uid;
      // Root and admins see everyone's: the window shows its user's own.
      const list = (await this.connection.require().sendRequest(ListForwards)).filter((f) => f.uid === mine);
      this.forwardList = this.carried ? list.flatMap((f) => this.carried!.shown(f) ?? []) : list;
    } catch {
      this.forwardList = [];
    }
    this.onDidChangeEmitter.fire();
    return this.forwardList;
  }

  get forwards(): readonly Forward[] {
    return this.forwardList;
  }

  forwardsIn(netns: number): Forward[] {
    return this.forwardList.filter((f) => f.netns === netns);
  }

  /** What is known of a namespace's ports now; asks nsxd again when it is older than FRESH_MS. */
  listing(netns: number): Listing {
    let l = this.listings.get(netns);
    if (!l || (Date.now() - l.at > FRESH_MS && !l.loading)) {
      l = { at: l?.at ?? 0, ports: l?.ports, error: l?.error };
      this.listings.set(netns, l);
      l.loading = this.load(netns, l);
    }
    return l;
  }

  /** A namespace's listening sockets, fresh from nsxd. */
  async list(target: PortsTarget): Promise<NetPorts | undefined> {
    const result = await this.connection.require().sendRequest(ListPorts, { target, udp: false });
    return result.namespaces[0];
  }

  private async load(netns: number, l: Listing): Promise<void> {
    try {
      // Forwards opened elsewhere (nsx forward in a terminal) show up too.
      void this.reloadForwards();
      l.ports = await this.list({ namespace: { type: 'net', inode: netns } });
      l.error = l.ports?.unread;
    } catch (err) {
      l.error = (err as Error).message;
    }
    l.at = Date.now();
    l.loading = undefined;
    this.onDidChangeEmitter.fire();
  }

  async forward(params: ForwardParams): Promise<Forward> {
    const f = this.carried
      ? await this.carried.start(params)
      : await this.connection.require().sendRequest(ForwardPort, params);
    this.forwardList = [...this.forwardList.filter((x) => x.id !== f.id), f];
    this.onDidChangeEmitter.fire();
    return f;
  }

  async stop(id: number): Promise<void> {
    try {
      await this.connection.require().sendRequest(Unforward, { id });
    } finally {
      this.carried?.end(id);
    }
    this.forwardList = this.forwardList.filter((f) => f.id !== id);
    this.onDidChangeEmitter.fire();
  }

  dispose(): void {
    this.carried?.endAll();
    for (const s of this.subscriptions.splice(0)) s.dispose();
    this.onDidChangeEmitter.dispose();
  }
}
