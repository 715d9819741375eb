// The extension's copy of nsxd's namespace model: a snapshot kept current by
// namespaces/subscribe while one of our views is visible (nothing is polled
// otherwise), with changes coalesced into at most one event a MIN_REDRAW_MS.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import {
  applyNamespaceChange,
  Container,
  EngineApi,
  fromWire,
  ListNamespaces,
  Namespace,
  NamespacesChanged,
  NamespacesChangedNotification,
  nsId,
  NsKey,
  NsType,
  Process,
  Snapshot,
  Subscribe,
  Unsubscribe,
} from '../helper/common/protocol';
import { containerName } from '../helper/common/words';
import type { Connection } from './connection';

/**
 * Redraws at most this often; the first change after a quiet spell is drawn
 * at once. More than the 200 ms by which VS Code debounces a tree view's
 * refreshes (the first at once, each later one restarting the wait): redraws
 * closer together than that would put every one after the first off for as
 * long as changes keep coming, and a busy host's view would never move.
 */
const MIN_REDRAW_MS = 250;

export class Model implements vscode.Disposable {
  private namespaces = new Map<string, Namespace>();
  private processes = new Map<number, Process>();
  private containers: Container[] = [];
  private engines: EngineApi[] = [];
  private initial = new Map<NsType, number>();
  private visibleViews = new Set<string>();
  private subscribed = false;
  private pending: NodeJS.Timeout | undefined;
  private lastFired = 0;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly onDidChangeEmitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.onDidChangeEmitter.event;
  loaded = false;

  constructor(private readonly connection: Connection) {
    this.disposables.push(
      connection.onDidConnect((client) => {
        client.onNotification(NamespacesChangedNotification, (change) => this.apply(change));
        this.subscribed = false;
        void this.sync();
      }),
      connection.onDidDisconnect(() => {
        this.subscribed = false;
        this.replace({ namespaces: [], processes: [], containers: [], scanMs: 0 });
        this.loaded = false;
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('nsx.refreshInterval') && this.subscribed) {
          this.subscribed = false;
          void this.sync();
        }
      }),
    );
  }

  /** Views report their visibility: nsxd polls only while one of them is shown. */
  setVisible(view: string, visible: boolean): void {
    if (visible) this.visibleViews.add(view);
    else this.visibleViews.delete(view);
    void this.sync();
  }

  private async sync(): Promise<void> {
    if (!this.connection.connected) return;
    const client = this.connection.require();
    const want = this.visibleViews.size > 0;
    if (want && !this.subscribed) {
      this.subscribed = true;
      const intervalMs = vscode.workspace.getConfiguration('nsx').get<number>('refreshInterval', 2000);
      try {
        this.replace(fromWire(await client.sendRequest(Subscribe, { intervalMs })));
      } catch {
        this.subscribed = false;
      }
    } else if (!want && this.subscribed) {
      this.subscribed = false;
      await client.sendRequest(Unsubscribe).catch(() => undefined);
    }
  }

  /** A full rescan now (the Refresh command), whether or not a view is visible. */
  async rescan(): Promise<void> {
    const client: LanguageClient = this.connection.require();
    this.replace(fromWire(await client.sendRequest(ListNamespaces, { rescan: true })));
  }

  private replace(snapshot: Snapshot): void {
    this.namespaces = new Map(snapshot.namespaces.map((ns) => [nsId(ns), ns]));
    this.processes = new Map(snapshot.processes.map((p) => [p.pid, p]));
    this.containers = snapshot.containers ?? [];
    this.engines = snapshot.engines ?? [];
    this.loaded = true;
    this.computeInitial();
    this.fire(true);
  }

  private apply(change: NamespacesChanged): void {
    // Each change is to the one before it, the first to the snapshot subscribe answered with.
    for (const ns of change.added) this.namespaces.set(nsId(ns), ns);
    for (const ns of change.changed)
      this.namespaces.set(nsId(ns), applyNamespaceChange(this.namespaces.get(nsId(ns)), ns));
    for (const key of change.removed) this.namespaces.delete(nsId(key));
    for (const p of [...change.processesAdded, ...change.processesChanged]) this.processes.set(p.pid, p);
    for (const pid of change.processesRemoved) this.processes.delete(pid);
    if (change.containers) this.containers = change.containers;
    if (change.engines) this.engines = change.engines;
    this.computeInitial();
    this.fire(false);
  }

  private computeInitial(): void {
    this.initial.clear();
    for (const ns of this.namespaces.values()) if (ns.initial) this.initial.set(ns.type, ns.inode);
  }

  /** Throttled, not debounced: a host whose processes never stop changing would put a debounced redraw off for ever. */
  private fire(now: boolean): void {
    if (this.pending && !now) return;
    if (this.pending) clearTimeout(this.pending);
    const wait = now ? 0 : Math.max(0, this.lastFired + MIN_REDRAW_MS - Date.now());
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.lastFired = Date.now();
      this.onDidChangeEmitter.fire();
    }, wait);
  }

  allNamespaces(): Namespace[] {
    return [...this.namespaces.values()];
  }

  allProcesses(): Process[] {
    return [...this.processes.values()];
  }

  allContainers(): Container[] {
    return this.containers;
  }

  /** The engines' API sockets, and which answered when nsxd last asked. */
  allEngineApis(): EngineApi[] {
    return this.engines;
  }

  container(id: string): Container | undefined {
    return this.containers.find((c) => c.id === id);
  }

  /** The container a namespace belongs to, when its engine said so. */
  containerOf(ns: Namespace): Container | undefined {
    return (
      ns.container &&
      this.containers.find(
        (c) =>
          c.id.startsWith(ns.container!.id) && c.namespaces.some((k) => k.type === ns.type && k.inode === ns.inode),
      )
    );
  }

  /** The name of the container (or pod) a process is in, as its engine said: by its pid namespace, else its mount namespace. */
  containerNameOf(p: Process): string | undefined {
    for (const type of ['pid', 'mnt'] as const) {
      const inode = p.ns[type];
      const ns = inode !== undefined ? this.namespace({ type, inode }) : undefined;
      if (ns?.container && !ns.initial) return containerName(ns.container);
    }
    return undefined;
  }

  namespace(key: NsKey): Namespace | undefined {
    return this.namespaces.get(nsId(key));
  }

  process(pid: number): Process | undefined {
    return this.processes.get(pid);
  }

  /** The inode of the initial namespace of a type (PID 1's), to tell what differs from it. */
  initialInode(type: NsType): number | undefined {
    return this.initial.get(type);
  }

  dispose(): void {
    if (this.pending) clearTimeout(this.pending);
    for (const d of this.disposables) d.dispose();
    this.onDidChangeEmitter.dispose();
  }
}
