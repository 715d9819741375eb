// The hosts of the Namespaces view: with nsx.hosts empty there is only this
// one (the view is as it always was, no host rows); with hosts there, one
// row per host, this one first when nsxd runs here, each with a connection,
// a model, the wiring and terminals of its own, so that a host that does not
// answer blocks none of the others. Another host's nsxd is reached through
// `nsx bridge` over ssh or kubectl exec (helper/common/bridge.ts).
import * as vscode from 'vscode';
import { openBridge } from '../helper/common/bridge';
import { HostEntry, parseHost } from '../helper/common/hosts';
import { Captures } from './captures';
import { Connection, RemoteLink } from './connection';
import { hostOfPart } from './hostUri';
import { Model } from './model';
import { NetModel } from './netModel';
import { Ports } from './ports';
import { TerminalSessions } from './terminal';
import type { Filter } from './tree/filter';
import { HostLike, HostNode, hostNodeOf } from './tree/hostNodes';
import { NamespacesProvider } from './tree/namespacesView';
import type { Node } from './tree/nodes';
import type { Pages } from './tree/paging';
import { ProcessesProvider } from './tree/processesView';

/** What a host is made of: the same parts for this one (made by extension.ts) and each other (made here). */
export interface HostParts {
  connection: Connection;
  model: Model;
  net: NetModel;
  terminals: TerminalSessions;
  ports: Ports;
  captures: Captures;
}

export class Host implements HostLike, HostParts, vscode.Disposable {
  readonly node = new HostNode(this);
  /** Its rows under its root, in the Namespaces view and in the Processes view. */
  provider: NamespacesProvider;
  processes: ProcessesProvider;
  readonly connection: Connection;
  readonly model: Model;
  readonly net: NetModel;
  readonly terminals: TerminalSessions;
  readonly ports: Ports;
  readonly captures: Captures;
  /** Its nsx.hosts entry; none for this host. */
  entry: HostEntry | undefined;
  disposables: vscode.Disposable[] = [];

  constructor(
    readonly name: string,
    readonly local: boolean,
    parts: HostParts,
    filter: Filter,
    pages: Pages,
  ) {
    this.connection = parts.connection;
    this.model = parts.model;
    this.net = parts.net;
    this.terminals = parts.terminals;
    this.ports = parts.ports;
    this.captures = parts.captures;
    this.provider = new NamespacesProvider(this.model, filter, pages, this.node);
    this.provider.net = this.net;
    this.provider.ports = this.ports;
    this.processes = new ProcessesProvider(this.model, filter, pages, this.node);
  }

  /** How a sentence names it: '' for this host, ` on NAME` for another. */
  get on(): string {
    return this.local ? '' : ` on ${this.name}`;
  }

  dispose(): void {
    if (this.local) return; // the extension's own parts, disposed of with it
    const parts = [this.terminals, this.captures, this.ports, this.net, this.model, this.provider, this.processes];
    for (const d of [...this.disposables, ...parts]) d.dispose();
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

export class Hosts implements vscode.Disposable {
  /** Empty when nsx.hosts names no host: the view then has no host rows. */
  list: Host[] = [];
  /** This host: its parts are the extension's own. */
  readonly here: Host;
  private readonly onDidChangeEmitter = new vscode.EventEmitter<void>();
  /** A host came, went, connected or failed: its row changed. */
  readonly onDidChange = this.onDidChangeEmitter.event;
  private readonly disposables: vscode.Disposable[] = [];
  /** The views shown (Namespaces, Processes): every other host's nsxd is asked for its model only while one is. */
  private readonly visible = new Set<string>();

  constructor(
    parts: HostParts,
    private readonly state: vscode.Memento,
    private readonly filter: Filter,
    private readonly pages: Pages,
  ) {
    this.here = new Host('local', true, parts, filter, pages);
    this.disposables.push(parts.connection.onDidChangeState(() => this.onDidChangeEmitter.fire()));
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
    this.list = remote.length ? [this.here, ...remote] : [];
    this.onDidChangeEmitter.fire();
    return problems;
  }

  private make(entry: HostEntry): Host {
    const connection = new Connection(this.here.connection.output, undefined, link(entry));
    const model = new Model(connection);
    const parts = {
      connection,
      model,
      net: new NetModel(connection),
      terminals: new TerminalSessions(connection, this.state, `nsx.sessions/${entry.name}`),
      ports: new Ports(connection),
      captures: new Captures(connection, entry.name),
    };
    const host = new Host(entry.name, false, parts, this.filter, this.pages);
    host.entry = entry;
    const changed = () => this.onDidChangeEmitter.fire();
    host.disposables = [
      connection.onDidChangeState(changed),
      model.onDidChange(changed),
      parts.net.onDidChange(changed),
      parts.ports.onDidChange(changed),
    ];
    for (const view of this.visible) model.setVisible(view, true);
    void connection.connect();
    parts.terminals.restore();
    return host;
  }

  /** A view (nsx.namespaces, nsx.processes) shown or hidden: every other host's nsxd is asked for its model only while one is. */
  setVisible(view: string, visible: boolean): void {
    if (visible) this.visible.add(view);
    else this.visible.delete(view);
    for (const h of this.list) if (!h.local) h.model.setVisible(view, visible);
  }

  /** The host a row is under; undefined for a row of a view without host rows. */
  of(node: unknown): Host | undefined {
    const h = hostNodeOf(node as Node | undefined);
    return h ? (h.host as Host) : undefined;
  }

  byName(name: string): Host | undefined {
    return this.list.find((h) => h.name === name);
  }

  /** Another host of nsx.hosts by its name (this one is never named so: a host of nsx.hosts may be called `local`). */
  other(name: string): Host | undefined {
    return this.list.find((h) => !h.local && h.name === name);
  }

  /** The host a URI's authority part names (extension/hostUri.ts): this one for '', else one of nsx.hosts, or a sentence. */
  forPart(part: string): Host {
    const name = hostOfPart(part);
    if (name === undefined) return this.here;
    const host = this.other(name);
    if (!host) throw new Error(`${name} is not in nsx.hosts (any more): add it there to see this again`);
    return host;
  }

  dispose(): void {
    for (const h of this.list) h.dispose();
    for (const d of this.disposables) d.dispose();
    this.onDidChangeEmitter.dispose();
  }
}
