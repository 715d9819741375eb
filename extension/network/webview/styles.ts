// How the Network view looks: cytoscape's stylesheet in the theme's colours,
// which VS Code sets as CSS variables on the page (and changes with the theme).
import type cytoscape from 'cytoscape';

type Colour = (name: string, fallback: string) => string;

export function styles(): cytoscape.StylesheetStyle[] {
  const css = getComputedStyle(document.body);
  const v: Colour = (name, fallback) => css.getPropertyValue(`--vscode-${name}`).trim() || fallback;
  const fg = v('foreground', '#ccc');
  return [...nodeStyles(v, fg, v('font-family', 'sans-serif')), ...edgeStyles(v, fg)];
}

/** Interfaces as boxes, namespaces and bridges as boxes around them; marks for state. */
function nodeStyles(v: Colour, fg: string, font: string): cytoscape.StylesheetStyle[] {
  return [
    {
      selector: 'node',
      style: {
        label: 'data(label)',
        'font-family': font,
        'font-size': 11,
        'text-wrap': 'wrap',
        'text-valign': 'center',
        'text-halign': 'center',
        shape: 'round-rectangle',
        width: 'data(width)',
        height: 'data(height)',
        'background-color': v('button-secondaryBackground', '#3a3d41'),
        color: v('button-secondaryForeground', fg),
        'border-width': 1,
        'border-color': v('panel-border', '#555'),
      },
    },
    {
      // A box: its name just above it (ELK left room there), its size its contents'.
      selector: ':parent',
      style: {
        'text-valign': 'top',
        'text-margin-y': -2,
        padding: '8px',
        'min-width': 'data(width)',
      },
    },
    {
      selector: 'node.namespace',
      style: {
        'font-size': 12,
        'font-weight': 'bold',
        'background-color': v('editorWidget-background', '#252526'),
        'background-opacity': 0.9,
        color: v('editor-foreground', fg),
      },
    },
    {
      selector: 'node.link:parent',
      style: { 'background-color': v('editor-background', '#1e1e1e'), 'background-opacity': 0.6, color: fg },
    },
    { selector: 'node.host', style: { 'border-width': 2, 'border-color': v('charts-blue', '#3794ff') } },
    { selector: 'node.bridge, node.bond, node.vrf', style: { shape: 'rectangle' } },
    { selector: 'node.holder', style: { shape: 'ellipse', 'background-color': v('charts-purple', '#b180d7') } },
    { selector: 'node.down', style: { 'border-color': v('errorForeground', '#f48771'), 'border-style': 'dashed' } },
    { selector: 'node.nocarrier', style: { 'border-color': v('editorWarning-foreground', '#cca700') } },
    { selector: 'node.error', style: { 'border-color': v('errorForeground', '#f48771') } },
    { selector: 'node:selected', style: { 'border-width': 3, 'border-color': v('focusBorder', '#007fd4') } },
  ];
}

/** Wires, parents, holders; faded and matched by a search. */
function edgeStyles(v: Colour, fg: string): cytoscape.StylesheetStyle[] {
  return [
    {
      selector: 'edge',
      style: {
        width: 1.5,
        'curve-style': 'straight',
        'line-color': fg,
        label: 'data(label)',
        color: fg,
        'font-size': 10,
        'text-background-color': v('editor-background', '#1e1e1e'),
        'text-background-opacity': 0.8,
      },
    },
    {
      selector: 'edge.bent',
      style: {
        'curve-style': 'segments',
        'edge-distances': 'node-position',
        'segment-distances': 'data(distances)',
        'segment-weights': 'data(weights)',
      },
    },
    { selector: 'edge.wire', style: { width: 2.5, 'line-color': v('charts-green', '#89d185') } },
    { selector: 'edge.mismatch', style: { 'line-color': v('editorWarning-foreground', '#cca700') } },
    {
      selector: 'edge.parent, edge.underlay, edge.holder',
      style: { 'line-style': 'dashed', 'target-arrow-shape': 'triangle', 'target-arrow-color': fg },
    },
    { selector: '.faded', style: { opacity: 0.15 } },
    { selector: 'node.match', style: { 'border-width': 2, 'border-color': v('focusBorder', '#007fd4') } },
  ];
}
