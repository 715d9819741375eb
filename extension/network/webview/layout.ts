// Where everything in the Network view goes: ELK's layered layout, with
// namespaces as boxes holding their interfaces and the wires routed around
// them (orthogonally), run in a worker. Its bend points become cytoscape's
// segment edges, so what ELK routed is what is drawn.
import ELK, { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api';
import type { Graph, GraphNode } from '../graph';

/** Room around a box's contents: cytoscape's padding of a box (main.ts) and a little more. */
export const BOX_PADDING = 10;

export interface Point {
  x: number;
  y: number;
}

export interface Placed {
  /** Each interface's (and holder's) centre. */
  positions: Map<string, Point>;
  /** An edge's bends as cytoscape says them: distances off, and weights along, the line between its ends' centres. */
  bends: Map<string, { distances: number[]; weights: number[] }>;
}

/** An interface's box: room for its lines of 11px text. */
export function sizeOf(n: GraphNode): { width: number; height: number } {
  const lines = n.label.split('\n');
  return { width: 16 + 6.5 * Math.max(...lines.map((l) => l.length), 4), height: 8 + 14 * lines.length };
}

/** The ELK worker, made from its script's text: a webview may not start a worker from its resource origin. */
export async function startElk(workerUrl: string): Promise<InstanceType<typeof ELK>> {
  const source = await (await fetch(workerUrl)).text();
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  return new ELK({ workerFactory: () => new Worker(url) });
}

export async function place(elk: InstanceType<typeof ELK>, g: Graph, aspectRatio: number): Promise<Placed> {
  const laid = await elk.layout({
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.layered.spacing.nodeNodeBetweenLayers': '40',
      'elk.spacing.nodeNode': '14',
      // Crossings minimised by ELK's own sweeps, not held to the input's order: 500 namespaces take 2 s here, not 20.
      'elk.layered.thoroughness': '1',
      // Unconnected parts (a namespace wired to nothing shown) packed into the panel's shape, not one column.
      'elk.separateConnectedComponents': 'true',
      'elk.layered.compaction.connectedComponents': 'true',
      'elk.aspectRatio': String(Math.max(0.5, aspectRatio)),
      'elk.json.edgeCoords': 'ROOT',
    },
    children: elkChildren(g),
    edges: g.edges.map((e) => ({ id: e.id, sources: [e.source], targets: [e.target] })),
  });
  const positions = new Map<string, Point>();
  const walk = (node: ElkNode, dx: number, dy: number): void => {
    const x = dx + (node.x ?? 0);
    const y = dy + (node.y ?? 0);
    if (!node.children) positions.set(node.id, { x: x + (node.width ?? 0) / 2, y: y + (node.height ?? 0) / 2 });
    for (const child of node.children ?? []) walk(child, x, y);
  };
  for (const child of laid.children ?? []) walk(child, 0, 0);
  return { positions, bends: bendsOf(laid.edges ?? [], g, positions) };
}

/**
 * The boxes inside boxes: a namespace holds its interfaces, a bridge its
 * ports. Cytoscape draws a box around its contents with a box's name just
 * above it; ELK's box is made that much taller at the top, so the name lands
 * inside the room ELK kept and never on a neighbour.
 */
function elkChildren(g: Graph): ElkNode[] {
  const inside = new Map<string, GraphNode[]>();
  for (const n of g.nodes) inside.set(n.parent ?? '', [...(inside.get(n.parent ?? '') ?? []), n]);
  const build = (n: GraphNode): ElkNode => {
    const children = inside.get(n.id);
    if (!children && !n.classes.includes('namespace')) return { id: n.id, ...sizeOf(n) };
    const name = labelSize(n);
    return {
      id: n.id,
      children: (children ?? []).map(build),
      layoutOptions: {
        'elk.padding': `[top=${BOX_PADDING + name.height},left=${BOX_PADDING},bottom=${BOX_PADDING},right=${BOX_PADDING}]`,
        'elk.nodeSize.constraints': 'MINIMUM_SIZE',
        'elk.nodeSize.minimum': `(${name.width}, 30)`,
      },
    };
  };
  return (inside.get('') ?? []).map(build);
}

/** A box's name above it: bold 12px for a namespace, 11px lines for a bridge (its name, its address). */
function labelSize(n: GraphNode): { width: number; height: number } {
  const lines = n.label.split('\n');
  const em = n.classes.includes('namespace') ? 7.5 : 6.5;
  return { width: 16 + em * Math.max(...lines.map((l) => l.length)), height: 4 + 15 * lines.length };
}

function bendsOf(edges: ElkExtendedEdge[], g: Graph, at: Map<string, Point>): Placed['bends'] {
  const ends = new Map(g.edges.map((e) => [e.id, e]));
  const out: Placed['bends'] = new Map();
  for (const e of edges) {
    const edge = ends.get(e.id);
    const points = e.sections?.[0]?.bendPoints;
    const s = edge && at.get(edge.source);
    const t = edge && at.get(edge.target);
    if (!points?.length || !s || !t) continue;
    const dx = t.x - s.x;
    const dy = t.y - s.y;
    const length2 = dx * dx + dy * dy;
    if (length2 === 0) continue;
    const length = Math.sqrt(length2);
    out.set(e.id, {
      weights: points.map((p) => ((p.x - s.x) * dx + (p.y - s.y) * dy) / length2),
      distances: points.map((p) => ((p.y - s.y) * dx - (p.x - s.x) * dy) / length),
    });
  }
  return out;
}
