// The hosts of the Namespaces view: with nsx.hosts empty there is only this
// one (the view is as it always was, no host rows); with hosts there, one
// row per host, this one first when nsxd runs here, each with a connection,
// a model, the wiring and terminals of its own, so that a host that does not
// answer blocks none of the others. Another host's nsxd is reached through
// `nsx bridge` over ssh or kubectl exec (helper/common/bridge.ts).
import * as vscode from 'vscode';
import { openBridge } from '../helper/common/bridge';
import { HostEntry, parseHost } from '../helper/common/hosts';
import { Connection, RemoteLink } from './connection';
import { Model } from './model';
import { NetModel } from './netModel';
import { TerminalSessions } from './terminal';
import type { Filter } from './tree/filter';
import { HostLike, HostNode, hostNodeOf } from './tree/hostNodes';
import { NamespacesProvider } from './tree/namespacesView';
import type { Node } from './tree/nodes';
import type { Pages } from './tree/paging';

export class Host implements HostLike, vscode.Disposable {
  readonly node = new HostNode(this);
  provider: NamespacesProvider;
  /** Its nsx.hosts entry; none for this host. */
  entry: HostEntry | undefined;
  disposables: vscode.Disposable[] = [];

  constructor(
    readonly name: string,
    readonly local: boolean,
    readonly connection: Connection,
    readonly model: Model,
    readonly net: NetModel,
    readonly terminals: TerminalSessions,
    filter: Filter,
    pages: Pages,
  ) {
    this.provider = new NamespacesProvider(model, filter, pages, this.node);
    this.provider.net = net;
  }

  dispose(): void {
    if (this.local) return; // the extension's own parts, disposed of with it
    for (const d of [...this.disposables, this.terminals, this.net, this.model, this.provider]) d.dispose();
    void this.connection.dispose();
  }
}

/** A host of nsx.hosts as the connection's stream factory wants it: `nsx bridge` there, started anew for each attempt. */
function link(entry: HostEntry): RemoteLink {
  return {
    name: entry.name,
    open: async () => {
      const b = await openBridge(entry);
      const exited = new Promise((resolve) => {
        if (b.child.exitCode !== null || b.child.signalCode !== null) resolve(undefined);
        else b.child.once('exit', resolve);
      });
      return { stream: b.stream, why: b.why, said: b.said, kill: () => b.child.kill('SIGTERM'), exited };
    },
  };
}

export interface LocalParts {
  connection: Connection;
  model: Model;
  net: NetModel;
  terminals: TerminalSessions;
}

export class Hosts implements vscode.Disposable {
  /** Empty when nsx.hosts names no host: the view then has no host rows. */
  list: Host[] = [];
  private readonly local: Host;
  private readonly onDidChangeEmitter = new vscode.EventEmitter<void>();
  /** A host came, went, connected or failed: its row changed. */
  readonly onDidChange = this.onDidChangeEmitter.event;
  private readonly disposables: vscode.Disposable[] = [];
  private visible = false;

  constructor(
    parts: LocalParts,
    private readonly state: vscode.Memento,
    private readonly filter: Filter,
    private readonly pages: Pages,
  ) {
    const { connection, model, net, terminals } = parts;
    this.local = new Host('local', true, connection, model, net, terminals, filter, pages);
    this.disposables.push(connection.onDidChangeState(() => this.onDidChangeEmitter.fire()));
  }

  /** Reads nsx.hosts again: a host whose entry is unchanged keeps its connection (and its terminals). */
  load(): string[] {
    const raw = vscode.workspace.getConfiguration('nsx').get<unknown[]>('hosts', []) ?? [];
    const problems: string[] = [];
    const entries: HostEntry[] = [];
    for (const r of Array.isArray(raw) ? raw : []) {
      try {
        entries.push(parseHost(r, 'nsx.hosts'));
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
    const old = new Map(this.list.filter((h) => !h.local).map((h) => [h.name, h]));
    const remote = entries.map((e) => {
      const kept = old.get(e.name);
      if (kept && JSON.stringify(kept.entry) === JSON.stringify(e)) {
        old.delete(e.name);
        return kept;
      }
      return this.make(e);
    });
    for (const h of old.values()) h.dispose();
    // This host first (its row says when nsxd does not run here); with no other host, no host rows at all.
    this.list = remote.length ? [this.local, ...remote] : [];
    this.onDidChangeEmitter.fire();
    return problems;
  }

  private make(entry: HostEntry): Host {
    const connection = new Connection(this.local.connection.output, undefined, link(entry));
    const model = new Model(connection);
    const net = new NetModel(connection);
    const terminals = new TerminalSessions(connection, this.state, `nsx.sessions/${entry.name}`);
    const host = new Host(entry.name, false, connection, model, net, terminals, this.filter, this.pages);
    host.entry = entry;
    host.disposables = [
      connection.onDidChangeState(() => this.onDidChangeEmitter.fire()),
      model.onDidChange(() => this.onDidChangeEmitter.fire()),
      net.onDidChange(() => this.onDidChangeEmitter.fire()),
    ];
    model.setVisible('nsx.namespaces', this.visible);
    void connection.connect();
    terminals.restore();
    return host;
  }

  /** The Namespaces view shown or hidden: every other host's nsxd is asked for its model only while it is shown. */
  setVisible(visible: boolean): void {
    this.visible = visible;
    for (const h of this.list) if (!h.local) h.model.setVisible('nsx.namespaces', visible);
  }

  /** The host a row is under; undefined for a row of a view without host rows. */
  of(node: unknown): Host | undefined {
    const h = hostNodeOf(node as Node | undefined);
    return h ? (h.host as Host) : undefined;
  }

  byName(name: string): Host | undefined {
    return this.list.find((h) => h.name === name);
  }

  dispose(): void {
    for (const h of this.list) h.dispose();
    for (const d of this.disposables) d.dispose();
    this.onDidChangeEmitter.dispose();
  }
}
