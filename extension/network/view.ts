// The Network view: an editor panel with the picture of how every network
// namespace of one host is wired (graph.ts draws it, webview/main.ts shows
// it); its title says which host when nsx.hosts names others, and it shows
// another when opened from that host's row (or switched from its title bar).
// A click selects the namespace in the tree and shows its details; a
// right-click offers what can be done there, through VS Code's own context
// menu, on that host.
import { hostname } from 'node:os';
import * as vscode from 'vscode';
import { NsKey } from '../../helper/common/protocol';
import type { Context } from '../commands/context';
import type { Host } from '../hosts';
import { namespaceName } from '../tree/labels';
import { NamespaceNode } from '../tree/nodes';
import { ReadNetCounters, NetCounters } from '../../helper/common/net';
import { buildGraph, rates } from './graph';
import type { FromView, ToView, ViewContext, ViewOptions } from './webview/messages';

/** How often the counters are read while the view is shown, for the rates on its wires. */
const RATE_INTERVAL_MS = 2000;

export class NetworkView implements vscode.Disposable {
  static readonly viewType = 'nsx.network';
  private panel: vscode.WebviewPanel | undefined;
  private options: ViewOptions = { showLoopback: false, showIsolated: false };
  private ready = false;
  private linkRates = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  /** The host whose wiring it shows. */
  private shown: Host;
  private following: vscode.Disposable;

  constructor(private readonly ctx: Pick<Context, 'extension' | 'hosts' | 'namespaces' | 'namespacesView'>) {
    this.shown = ctx.hosts.here;
    this.following = this.follow(this.shown);
    this.disposables.push(
      ctx.hosts.onDidChange(() => {
        // A host taken out of nsx.hosts: this one's wiring instead.
        if (!this.shown.local && !ctx.hosts.list.includes(this.shown)) this.use(ctx.hosts.here);
        else if (this.panel) this.panel.title = this.title();
      }),
    );
  }

  /** The host shown. */
  get host(): Host {
    return this.shown;
  }

  private follow(host: Host): vscode.Disposable {
    return vscode.Disposable.from(
      host.net.onDidChange(() => this.draw()),
      host.model.onDidChange(() => this.draw()),
    );
  }

  /** Opens the view, or brings it forward; with a host, that host's wiring; with a namespace, shows that one. */
  show(host?: Host, inode?: number): void {
    if (host) this.use(host);
    if (!this.panel) this.open();
    else this.panel.reveal(undefined, false);
    if (inode !== undefined) this.post({ type: 'focus', inode });
  }

  /** Shows HOST's wiring from now on: its nsxd is asked for it, the one before no longer. */
  private use(host: Host): void {
    if (host === this.shown) return;
    if (this.panel) this.watch(this.shown, false);
    this.following.dispose();
    this.shown = host;
    this.following = this.follow(host);
    if (!this.panel) return;
    this.watch(host, true);
    this.panel.title = this.title();
    this.stopRates();
    if (this.panel.visible) this.startRates();
    this.draw();
  }

  private watch(host: Host, visible: boolean): void {
    host.net.setVisible(NetworkView.viewType, visible);
    host.model.setVisible(NetworkView.viewType, visible);
  }

  /** `Network`, or with other hosts configured `Network — HOST`. */
  private title(): string {
    if (!this.ctx.hosts.list.length) return 'Network';
    const name = this.shown.local ? (this.shown.connection.server?.host?.hostname ?? hostname()) : this.shown.name;
    return `Network — ${name.replace(/[\x00-\x1f\x7f]/g, '?')}`;
  }

  private open(): void {
    const media = vscode.Uri.joinPath(this.ctx.extension.extensionUri, 'media');
    const dist = vscode.Uri.joinPath(this.ctx.extension.extensionUri, 'dist');
    const panel = vscode.window.createWebviewPanel(NetworkView.viewType, this.title(), vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: [media, dist],
    });
    panel.iconPath = vscode.Uri.joinPath(media, 'namespaces.svg');
    panel.webview.html = page(panel.webview, media, dist);
    this.panel = panel;
    this.ready = false;
    this.watch(this.shown, true);
    panel.onDidDispose(() => {
      this.panel = undefined;
      this.stopRates();
      this.watch(this.shown, false);
    });
    panel.webview.onDidReceiveMessage((m: FromView) => void this.received(m));
    panel.onDidChangeViewState(() => {
      if (panel.visible) this.startRates();
      else {
        this.ready = false;
        this.stopRates();
      }
    });
    this.startRates();
  }

  private async received(m: FromView): Promise<void> {
    if (m.type === 'ready') {
      this.ready = true;
      this.draw();
    } else if (m.type === 'options') {
      this.options = m.options;
      this.draw();
    } else if (m.type === 'select') {
      await this.select(m.inode);
    }
  }

  /** Shows a namespace where the rest of the product does: its row in the tree, and its details. */
  async select(inode: number): Promise<void> {
    const key: NsKey = { type: 'net', inode };
    const node = this.rowOf(key);
    if (node) await this.ctx.namespacesView.reveal(node, { select: true, focus: false, expand: false });
    await vscode.commands.executeCommand('nsx.showDetails', node ?? new NamespaceNode(this.shown.node, key, false));
  }

  /** The namespace a right-click on the picture was on, as the tree's commands take it (on the host shown). */
  nodeOf(context: ViewContext | undefined): NamespaceNode | undefined {
    if (context?.inode === undefined) return undefined;
    const key: NsKey = { type: 'net', inode: context.inode };
    // Under its host's row, so that a command run on it acts on that host (commands/index.ts).
    return this.rowOf(key) ?? new NamespaceNode(this.shown.node, key, false);
  }

  /** The namespace's row in the tree, under the host shown. */
  private rowOf(key: NsKey): NamespaceNode | undefined {
    return this.shown.local ? this.ctx.namespaces.nodeFor(key) : this.shown.provider.nodeFor(key);
  }

  private draw(): void {
    // A hidden panel's page is gone (no retained context): it asks again with 'ready' when shown.
    if (!this.panel?.visible || !this.ready) return;
    const { net, model, connection } = this.shown;
    const list = net.current();
    if (!list) {
      const where = this.shown.local ? 'nsxd' : `${this.shown.name}'s nsxd`;
      this.post({ type: 'status', text: connection.connected ? 'Reading the wiring…' : `Not connected to ${where}.` });
      return;
    }
    const graph = buildGraph(list, {
      nameOf: (inode) => {
        const ns = model.namespace({ type: 'net', inode });
        const first = ns?.pids.length ? model.process(Math.min(...ns.pids)) : undefined;
        return (ns && namespaceName(ns, first)) ?? `net:[${inode}]`;
      },
      hostInode: model.initialInode('net'),
      processName: (pid) => {
        const p = model.process(pid);
        return p ? `${p.comm} (${pid})` : `pid ${pid}`;
      },
      ...this.options,
      rates: this.linkRates,
    });
    this.post({ type: 'graph', graph });
  }

  private post(message: ToView): void {
    void this.panel?.webview.postMessage(message);
  }

  /** Counters move without a change for nsxd to report: while the view is shown, they are read every few seconds. */
  private startRates(): void {
    if (this.timer) return;
    let before: { counters: NetCounters[]; at: number } | undefined;
    const host = this.shown;
    this.timer = setInterval(() => {
      if (!host.connection.connected) return;
      void host.connection
        .require()
        .sendRequest(ReadNetCounters, {})
        .then(
          ({ namespaces: counters }) => {
            if (host !== this.shown) return;
            const at = Date.now();
            const list = host.net.current();
            if (before && list) this.linkRates = rates(list, before.counters, counters, (at - before.at) / 1000);
            before = { counters, at };
            this.draw();
          },
          () => undefined,
        );
    }, RATE_INTERVAL_MS);
  }

  private stopRates(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.linkRates = new Map();
  }

  dispose(): void {
    this.stopRates();
    this.panel?.dispose();
    this.following.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

/**
 * The page: its script and style from the extension's own files, nothing
 * inline (a strict CSP). Cytoscape adds a style element of its own unless one
 * with its id is there: the stylesheet carries that id and its one rule.
 */
function page(webview: vscode.Webview, media: vscode.Uri, dist: vscode.Uri): string {
  const src = (base: vscode.Uri, file: string): string =>
    webview.asWebviewUri(vscode.Uri.joinPath(base, file)).toString();
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `style-src ${webview.cspSource}`,
    `font-src ${webview.cspSource}`,
    `script-src ${webview.cspSource}`,
    `connect-src ${webview.cspSource}`,
    'worker-src blob:',
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="${src(media, 'network.css')}" id="__________cytoscape_stylesheet">
<title>Network</title>
</head>
<body data-elk-worker="${src(dist, 'elk-worker.js')}">
<header>
  <input id="search" type="search" placeholder="Find a namespace, interface or address" aria-label="Find a namespace, interface or address">
  <label><input id="loopback" type="checkbox"> Loopback</label>
  <label><input id="isolated" type="checkbox"> Isolated</label>
  <span id="status" role="status"></span>
</header>
<main id="graph" aria-label="How the network namespaces are wired"></main>
<details id="outline"><summary>As text</summary><ul id="outline-list"></ul></details>
<script src="${src(dist, 'network.js')}"></script>
</body>
</html>`;
}
