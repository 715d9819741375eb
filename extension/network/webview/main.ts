// The Network view's page: draws the graph the extension sends (graph.ts)
// with cytoscape, laid out by ELK in a worker so a 500-namespace picture
// never freezes the page. Every word on it is a namespace owner's: labels
// are drawn on the canvas and written with textContent, never as HTML.
import cytoscape, { Core, ElementDefinition, EventObject, NodeSingular } from 'cytoscape';
import ELK, { ElkNode } from 'elkjs/lib/elk-api';
import type { Graph, GraphNode } from '../graph';
import type { FromView, ToView } from './messages';

declare function acquireVsCodeApi(): { postMessage(message: FromView): void };
const host = acquireVsCodeApi();

const canvas = document.getElementById('graph') as HTMLElement;
const status = document.getElementById('status') as HTMLElement;
const search = document.getElementById('search') as HTMLInputElement;
const loopback = document.getElementById('loopback') as HTMLInputElement;
const isolated = document.getElementById('isolated') as HTMLInputElement;
const outline = document.getElementById('outline-list') as HTMLElement;

let shape = '';
let laidOutOnce = false;
let layoutRun = 0;

const cy: Core = cytoscape({
  container: canvas,
  style: styles(),
  wheelSensitivity: 0.3,
  minZoom: 0.05,
  maxZoom: 4,
  boxSelectionEnabled: false,
});

// The ELK worker, made from its script's text: a webview may not start a
// worker from its resource origin, only from a blob of its own.
const elk = (async () => {
  const source = await (await fetch(document.body.dataset.elkWorker as string)).text();
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  return new ELK({ workerFactory: () => new Worker(url) });
})();

window.addEventListener('message', (event: MessageEvent<ToView>) => {
  const m = event.data;
  if (m.type === 'graph') show(m.graph);
  else if (m.type === 'status') setStatus(m.text);
  else if (m.type === 'focus') focusNamespace(m.inode);
});

function setStatus(text: string): void {
  status.textContent = text;
}

function show(next: Graph): void {
  isolated.parentElement!.title = next.isolated ? `${next.isolated} namespaces with loopback only are hidden` : '';
  isolated.nextSibling!.textContent = next.isolated ? ` Isolated (${next.isolated})` : ' Isolated';
  const nextShape = [...next.nodes.map((n) => `${n.id}<${n.parent ?? ''}`), ...next.edges.map((e) => e.id)]
    .sort()
    .join(' ');
  if (nextShape === shape) {
    // Same wiring, new words (a state, an address, a rate): no layout, nothing moves.
    cy.batch(() => {
      for (const n of next.nodes) cy.getElementById(n.id).data(nodeData(n)).classes(n.classes);
      for (const e of next.edges) cy.getElementById(e.id).data('label', e.label).classes(e.classes);
    });
  } else {
    shape = nextShape;
    void layout(next);
  }
  applySearch();
  writeOutline(next);
}

function nodeData(n: GraphNode): Record<string, unknown> {
  return { id: n.id, parent: n.parent, label: n.label, detail: n.detail, inode: n.inode, link: n.link };
}

async function layout(g: Graph): Promise<void> {
  const run = ++layoutRun;
  setStatus(`Laying out ${g.nodes.filter((n) => n.classes.includes('namespace')).length} namespaces…`);
  const positions = await place(g);
  if (run !== layoutRun) return; // a newer picture came while this one was laid out
  const elements: ElementDefinition[] = [
    ...g.nodes.map((n) => ({
      group: 'nodes' as const,
      data: nodeData(n),
      classes: n.classes,
      position: positions.get(n.id),
    })),
    ...g.edges.map((e) => ({ group: 'edges' as const, data: { ...e }, classes: e.classes })),
  ];
  cy.batch(() => {
    cy.elements().remove();
    cy.add(elements);
  });
  if (!laidOutOnce) cy.fit(undefined, 30);
  laidOutOnce = true;
  setStatus('');
  document.body.dataset.drawn = String(run);
  applySearch();
}

/** Where each leaf goes: ELK's layered layout with namespaces as boxes, edges routed across them. */
async function place(g: Graph): Promise<Map<string, { x: number; y: number }>> {
  const boxes = new Map<string, ElkNode>();
  const roots: ElkNode[] = [];
  for (const n of g.nodes) {
    if (n.classes.includes('namespace')) {
      const box: ElkNode = {
        id: n.id,
        children: [],
        layoutOptions: { 'elk.padding': '[top=28,left=10,bottom=10,right=10]' },
      };
      boxes.set(n.id, box);
      roots.push(box);
    }
  }
  for (const n of g.nodes) {
    if (n.classes.includes('namespace')) continue;
    const [first, second = ''] = n.label.split('\n');
    const leaf: ElkNode = {
      id: n.id,
      width: 16 + 7 * Math.max(first.length, second.length, 4),
      height: second ? 34 : 22,
    };
    const box = n.parent ? boxes.get(n.parent) : undefined;
    if (box) box.children!.push(leaf);
    else roots.push(leaf);
  }
  for (const box of boxes.values()) if (!box.children!.length) Object.assign(box, { width: 90, height: 30 });
  const laid = await (
    await elk
  ).layout({
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.layered.spacing.nodeNodeBetweenLayers': '40',
      'elk.spacing.nodeNode': '14',
      'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
      // Unconnected parts (a namespace wired to nothing the view shows) packed into the panel's shape, not one column.
      'elk.separateConnectedComponents': 'true',
      'elk.layered.compaction.connectedComponents': 'true',
      'elk.aspectRatio': String(Math.max(0.5, canvas.clientWidth / Math.max(1, canvas.clientHeight))),
    },
    children: roots,
    edges: g.edges.map((e) => ({ id: e.id, sources: [e.source], targets: [e.target] })),
  });
  const positions = new Map<string, { x: number; y: number }>();
  const walk = (node: ElkNode, dx: number, dy: number): void => {
    const x = dx + (node.x ?? 0);
    const y = dy + (node.y ?? 0);
    if (!node.children?.length || !boxes.has(node.id))
      positions.set(node.id, { x: x + (node.width ?? 0) / 2, y: y + (node.height ?? 0) / 2 });
    for (const child of node.children ?? []) walk(child, x, y);
  };
  for (const child of laid.children ?? []) walk(child, 0, 0);
  return positions;
}

function focusNamespace(inode: number): void {
  const node = cy.getElementById(`ns:${inode}`);
  if (node.empty()) return;
  cy.elements().unselect();
  node.select();
  cy.animate({ fit: { eles: node, padding: 60 }, duration: 250 });
}

// A click selects the namespace (and shows it in the tree); a right-click
// says what is under the pointer to VS Code's own context menu.
cy.on('tap', 'node', (e: EventObject) => {
  const n = e.target as NodeSingular;
  host.postMessage({ type: 'select', inode: n.data('inode'), link: n.data('link') });
});
cy.on('cxttapstart', (e: EventObject) => {
  const n = e.target as NodeSingular | Core;
  const context =
    n !== cy && (n as NodeSingular).isNode?.()
      ? {
          webviewSection: (n as NodeSingular).data('link') ? 'link' : 'namespace',
          inode: (n as NodeSingular).data('inode'),
          link: (n as NodeSingular).data('link'),
          preventDefaultContextMenuItems: true,
        }
      : { webviewSection: 'background', preventDefaultContextMenuItems: true };
  canvas.dataset.vscodeContext = JSON.stringify(context);
});
cy.on('mouseover', 'node', (e: EventObject) => {
  canvas.title = `${e.target.data('label').replace(/\n/g, ' ')}\n${e.target.data('detail')}`;
});
cy.on('mouseout', 'node', () => {
  canvas.title = '';
});

search.addEventListener('input', applySearch);
search.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') {
    search.value = '';
    applySearch();
  } else if (e.key === 'Enter') {
    const matches = cy.nodes('.match');
    if (matches.nonempty()) cy.animate({ fit: { eles: matches, padding: 40 }, duration: 250 });
  }
});
const sendOptions = (): void =>
  host.postMessage({ type: 'options', options: { showLoopback: loopback.checked, showIsolated: isolated.checked } });
loopback.addEventListener('change', sendOptions);
isolated.addEventListener('change', sendOptions);

/** Namespaces whose name, interfaces or addresses hold the search text stay; the rest fade. */
function applySearch(): void {
  const text = search.value.trim().toLowerCase();
  cy.batch(() => {
    cy.elements().removeClass('faded match');
    if (!text) return;
    const hit = (n: NodeSingular): boolean => `${n.data('label')}\n${n.data('detail')}`.toLowerCase().includes(text);
    const matches = cy
      .nodes()
      .filter((n) => hit(n as NodeSingular) || n.children().some((c) => hit(c as NodeSingular)));
    matches.addClass('match');
    cy.elements()
      .not(matches.union(matches.children()).union(matches.parent()).union(matches.connectedEdges()))
      .addClass('faded');
  });
}

/** The picture as text: for screen readers, and to copy from. */
let outlineText = '';

function writeOutline(g: Graph): void {
  // Rewritten only when its words change: a reader's place (and a pointer on a button) stays put.
  const text = JSON.stringify([g.nodes.map((n) => [n.id, n.label, n.detail]), g.edges.map((e) => e.id)]);
  if (text === outlineText) return;
  outlineText = text;
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const items: HTMLElement[] = [];
  for (const ns of g.nodes.filter((n) => n.classes.includes('namespace'))) {
    const li = document.createElement('li');
    // A button: chosen by click or keyboard, it shows the namespace as a click on its box does.
    const name = document.createElement('button');
    name.textContent = ns.label;
    name.dataset.inode = String(ns.inode);
    name.addEventListener('click', () => host.postMessage({ type: 'select', inode: ns.inode }));
    li.append(name);
    const ul = document.createElement('ul');
    for (const l of g.nodes.filter((n) => n.parent === ns.id)) {
      const row = document.createElement('li');
      const ends = g.edges
        .filter((e) => e.source === l.id || e.target === l.id)
        .map((e) => {
          const other = byId.get(e.source === l.id ? e.target : e.source);
          const where = other?.parent ? byId.get(other.parent)?.label : undefined;
          const words = other?.link ?? other?.label ?? '?';
          return `${edgeWord(e.classes[0], e.source === l.id)} ${words}${where && other?.parent !== ns.id ? ` in ${where}` : ''}`;
        });
      row.textContent = [l.label.replace('\n', ' '), l.detail.split('\n')[0], ...ends].join(' · ');
      ul.append(row);
    }
    li.append(ul);
    items.push(li);
  }
  outline.replaceChildren(...items);
}

function edgeWord(kind: string | undefined, outward: boolean): string {
  if (kind === 'wire') return '↔';
  if (kind === 'member') return outward ? 'port of' : 'has port';
  if (kind === 'holder') return outward ? 'held by' : 'holds';
  if (kind === 'parent' || kind === 'underlay') return outward ? `${kind}` : `${kind} of`;
  return '–';
}

/** Colours from the theme: VS Code sets them as CSS variables, and changes them with the theme. */
function styles(): cytoscape.StylesheetStyle[] {
  const css = getComputedStyle(document.body);
  const v = (name: string, fallback: string): string => css.getPropertyValue(`--vscode-${name}`).trim() || fallback;
  const fg = v('foreground', '#ccc');
  const font = v('font-family', 'sans-serif');
  return [
    {
      selector: 'node',
      style: {
        label: 'data(label)',
        color: fg,
        'font-family': font,
        'font-size': 11,
        'text-wrap': 'wrap',
        'text-valign': 'center',
        'text-halign': 'center',
        shape: 'round-rectangle',
        width: 'label',
        height: 'label',
        padding: '6px',
        'background-color': v('button-secondaryBackground', '#3a3d41'),
        'border-width': 1,
        'border-color': v('panel-border', '#555'),
      },
    },
    {
      selector: 'node.namespace',
      style: {
        'text-valign': 'top',
        'text-margin-y': 18,
        'font-size': 12,
        'font-weight': 'bold',
        'background-color': v('editorWidget-background', '#252526'),
        'background-opacity': 0.9,
      },
    },
    { selector: 'node.host', style: { 'border-width': 2, 'border-color': v('charts-blue', '#3794ff') } },
    { selector: 'node.bridge, node.bond, node.vrf', style: { shape: 'rectangle' } },
    { selector: 'node.holder', style: { shape: 'ellipse', 'background-color': v('charts-purple', '#b180d7') } },
    { selector: 'node.down', style: { 'border-color': v('errorForeground', '#f48771'), 'border-style': 'dashed' } },
    { selector: 'node.nocarrier', style: { 'border-color': v('editorWarning-foreground', '#cca700') } },
    { selector: 'node.error', style: { 'border-color': v('errorForeground', '#f48771') } },
    { selector: 'node:selected', style: { 'border-width': 3, 'border-color': v('focusBorder', '#007fd4') } },
    {
      selector: 'edge',
      style: {
        width: 1.5,
        'curve-style': 'bezier',
        'line-color': fg,
        label: 'data(label)',
        color: fg,
        'font-size': 10,
        'text-background-color': v('editor-background', '#1e1e1e'),
        'text-background-opacity': 0.8,
      },
    },
    { selector: 'edge.wire', style: { width: 2.5, 'line-color': v('charts-green', '#89d185') } },
    { selector: 'edge.mismatch', style: { 'line-color': v('editorWarning-foreground', '#cca700') } },
    { selector: 'edge.member', style: { 'line-style': 'dotted' } },
    {
      selector: 'edge.parent, edge.underlay, edge.holder',
      style: { 'line-style': 'dashed', 'target-arrow-shape': 'triangle', 'target-arrow-color': fg },
    },
    { selector: '.faded', style: { opacity: 0.15 } },
    { selector: 'node.match', style: { 'border-width': 2, 'border-color': v('focusBorder', '#007fd4') } },
  ];
}

// The theme changed (VS Code swaps the body's class): draw with its colours.
new MutationObserver(() => cy.style(styles())).observe(document.body, { attributes: true, attributeFilter: ['class'] });

host.postMessage({ type: 'ready' });
