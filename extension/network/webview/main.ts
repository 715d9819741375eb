// The Network view's page: draws the graph the extension sends (graph.ts)
// with cytoscape, laid out by ELK in a worker so a 500-namespace picture
// never freezes the page. Every word on it is a namespace owner's: labels
// are drawn on the canvas and written with textContent, never as HTML.
import cytoscape, { Core, EdgeSingular, ElementDefinition, EventObject, NodeSingular } from 'cytoscape';
import type { Graph, GraphNode } from '../graph';
import { place, sizeOf, startElk } from './layout';
import { styles } from './styles';
import type { FromView, ToView, ViewContext } from './messages';

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

const elk = startElk(document.body.dataset.elkWorker as string);

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
  return { id: n.id, parent: n.parent, label: n.label, detail: n.detail, inode: n.inode, link: n.link, ...sizeOf(n) };
}
async function layout(g: Graph): Promise<void> {
  const run = ++layoutRun;
  setStatus(`Laying out ${g.nodes.filter((n) => n.classes.includes('namespace')).length} namespaces…`);
  const { positions, bends } = await place(await elk, g, canvas.clientWidth / Math.max(1, canvas.clientHeight));
  if (run !== layoutRun) return; // a newer picture came while this one was laid out
  const elements: ElementDefinition[] = [
    ...g.nodes.map((n) => ({
      group: 'nodes' as const,
      data: nodeData(n),
      classes: n.classes,
      position: positions.get(n.id),
    })),
    ...g.edges.map((e) => {
      const bend = bends.get(e.id);
      return { group: 'edges' as const, data: { ...e, ...bend }, classes: bend ? [...e.classes, 'bent'] : e.classes };
    }),
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
  canvas.dataset.vscodeContext = JSON.stringify({ ...contextOf(e.target), preventDefaultContextMenuItems: true });
});

/** What a right-click is on, as VS Code's context menu (webview/context) and its commands take it. */
function contextOf(target: unknown): ViewContext {
  if (target === cy) return { webviewSection: 'background' };
  const el = target as NodeSingular | EdgeSingular;
  if (el.isEdge() && el.hasClass('wire')) {
    const end = (n: NodeSingular) => ({ inode: n.data('inode') as number, link: n.data('link') as string });
    return { webviewSection: 'wire', ends: [end(el.source()), end(el.target())] };
  }
  if (!el.isNode()) return { webviewSection: 'background' };
  return { webviewSection: el.data('link') ? 'link' : 'namespace', inode: el.data('inode'), link: el.data('link') };
}
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
    for (const l of g.nodes.filter((n) => n.link !== undefined && n.inode === ns.inode)) {
      const row = document.createElement('li');
      const master = l.parent !== ns.id ? byId.get(l.parent ?? '') : undefined;
      const ends = g.edges
        .filter((e) => e.source === l.id || e.target === l.id)
        .map((e) => {
          const other = byId.get(e.source === l.id ? e.target : e.source);
          const where = other && other.inode !== ns.inode ? nameOfBox(byId, other) : undefined;
          return `${edgeWord(e.classes[0], e.source === l.id)} ${other?.link ?? other?.label ?? '?'}${where ? ` in ${where}` : ''}`;
        });
      if (master?.link) ends.unshift(`port of ${master.link}`);
      row.textContent = [l.label.replace('\n', ' '), l.detail.split('\n')[0], ...ends].join(' · ');
      ul.append(row);
    }
    li.append(ul);
    items.push(li);
  }
  outline.replaceChildren(...items);
}

/** The namespace a node is drawn in: up its boxes to the outermost. */
function nameOfBox(byId: Map<string, GraphNode>, n: GraphNode): string {
  let box = n;
  while (box.parent && byId.has(box.parent)) box = byId.get(box.parent)!;
  return box.label;
}

function edgeWord(kind: string | undefined, outward: boolean): string {
  if (kind === 'wire') return '↔';
  if (kind === 'holder') return outward ? 'held by' : 'holds';
  if (kind === 'parent' || kind === 'underlay') return outward ? `${kind}` : `${kind} of`;
  return '–';
}

// The theme changed (VS Code swaps the body's class): draw with its colours.
new MutationObserver(() => cy.style(styles())).observe(document.body, { attributes: true, attributeFilter: ['class'] });

host.postMessage({ type: 'ready' });
