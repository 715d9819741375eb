// The Network view: an editor panel with the picture of how every network
// namespace is wired (graph.ts draws it, webview/main.ts shows it). A click
// selects the namespace in the tree and shows its details; a right-click
// offers what can be done there, through VS Code's own context menu.
import * as vscode from 'vscode';
import { NsKey } from '../../helper/common/protocol';
import type { Context } from '../commands/context';
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

  constructor(
    private readonly ctx: Pick<Context, 'extension' | 'connection' | 'model' | 'net' | 'namespaces' | 'namespacesView'>,
  ) {
    this.disposables.push(
      ctx.net.onDidChange(() => this.draw()),
      ctx.model.onDidChange(() => this.draw()),
    );
  }

  /** Opens the view, or brings it forward; with a namespace, shows that one. */
  show(inode?: number): void {
    if (!this.panel) this.open();
    else this.panel.reveal(undefined, false);
    if (inode !== undefined) this.post({ type: 'focus', inode });
  }

  private open(): void {
    const media = vscode.Uri.joinPath(this.ctx.extension.extensionUri, 'media');
    const dist = vscode.Uri.joinPath(this.ctx.extension.extensionUri, 'dist');
    const panel = vscode.window.createWebviewPanel(NetworkView.viewType, 'Network', vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: [media, dist],
    });
    panel.iconPath = vscode.Uri.joinPath(media, 'namespaces.svg');
    panel.webview.html = page(panel.webview, media, dist);
    this.panel = panel;
    this.ready = false;
    this.ctx.net.setVisible(NetworkView.viewType, true);
    this.ctx.model.setVisible(NetworkView.viewType, true);
    panel.onDidDispose(() => {
      this.panel = undefined;
      this.stopRates();
      this.ctx.net.setVisible(NetworkView.viewType, false);
      this.ctx.model.setVisible(NetworkView.viewType, false);
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
    const node = this.ctx.namespaces.nodeFor(key);
    if (node) await this.ctx.namespacesView.reveal(node, { select: true, focus: false, expand: false });
    await vscode.commands.executeCommand('nsx.showDetails', node ?? new NamespaceNode(undefined, key, false));
  }

  /** The namespace a right-click on the picture was on, as the tree's commands take it. */
  nodeOf(context: ViewContext | undefined): NamespaceNode | undefined {
    if (context?.inode === undefined) return undefined;
    const key: NsKey = { type: 'net', inode: context.inode };
    return this.ctx.namespaces.nodeFor(key) ?? new NamespaceNode(undefined, key, false);
  }

  private draw(): void {
    // A hidden panel's page is gone (no retained context): it asks again with 'ready' when shown.
    if (!this.panel?.visible || !this.ready) return;
    const list = this.ctx.net.current();
    if (!list) {
      this.post({
        type: 'status',
        text: this.ctx.connection.connected ? 'Reading the wiring…' : 'Not connected to nsxd.',
      });
      return;
    }
    const model = this.ctx.model;
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
    this.timer = setInterval(() => {
      if (!this.ctx.connection.connected) return;
      void this.ctx.connection
        .require()
        .sendRequest(ReadNetCounters, {})
        .then(
          ({ namespaces: counters }) => {
            const at = Date.now();
            const list = this.ctx.net.current();
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
