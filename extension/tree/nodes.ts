// The nodes both trees are made of, one class per kind, each turning itself
// into a TreeItem (its contextValue words are in ../menus.ts).
import * as vscode from 'vscode';
import { Container, EngineApi, Namespace, nsId, NsKey, NsType, Process } from '../../helper/common/protocol';
import { describeHolder, engineLabel, netnsNames, runtimeAndContainer } from '../../helper/common/words';
import {
  containerDescription,
  differingTypes,
  namespaceDescription,
  namespaceLabel,
  processDescription,
  TYPE_ICONS,
  TYPE_TITLES,
} from './labels';
import { containerContext, HOLDER_CONTEXT, namespaceContext, PROCESS_CONTEXT, typeGroupContext } from '../menus';
import type { Model } from '../model';

export abstract class Node {
  constructor(readonly parent: Node | undefined) {}
  abstract get id(): string;
  abstract toTreeItem(model: Model): vscode.TreeItem;
}

export class TypeNode extends Node {
  constructor(
    readonly type: NsType,
    readonly count: number,
    parent?: Node,
  ) {
    super(parent);
  }
  get id() {
    return `${this.parent ? `${this.parent.id}/` : ''}type/${this.type}`;
  }
  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(this.type, vscode.TreeItemCollapsibleState.Collapsed);
    item.id = this.id;
    item.description = `${this.count}`;
    item.tooltip = TYPE_TITLES[this.type];
    item.iconPath = new vscode.ThemeIcon(TYPE_ICONS[this.type]);
    item.contextValue = typeGroupContext(this.type);
    return item;
  }
}

/**
 * An engine in the Containers grouping: `podman`, `docker`, `podman (uid
 * 1000)` for a user's rootless one; when its API does not answer, it says so
 * and what that costs.
 */
export class EngineNode extends Node {
  constructor(
    readonly engine: string,
    readonly uid: number,
    readonly count: number,
    readonly silent?: EngineApi,
    parent?: Node,
  ) {
    super(parent);
  }
  get label(): string {
    return engineLabel(this.engine, this.uid);
  }
  get id() {
    return `${this.parent ? `${this.parent.id}/` : ''}engine/${this.engine}/${this.uid}`;
  }
  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(
      this.label,
      this.count ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None,
    );
    item.id = this.id;
    const count = `${this.count} container${this.count === 1 ? '' : 's'}`;
    item.description = this.silent ? `${count} · API not answering` : count;
    if (this.silent) {
      item.tooltip = new vscode.MarkdownString()
        .appendText(`${this.silent.socket} does not answer: ${this.silent.reason ?? 'no reason given'}.`)
        .appendMarkdown(
          "\n\nWithout it, containers are known from the OCI runtime's state on disk: only the running ones, named from what the engine keeps there, and no stopped containers or images.",
        );
    }
    item.iconPath = new vscode.ThemeIcon(this.silent ? 'warning' : 'server-environment');
    return item;
  }
}

/** A pod or a compose project, under its engine. */
export class GroupNode extends Node {
  constructor(
    parent: EngineNode,
    readonly kind: 'pod' | 'project',
    readonly name: string,
  ) {
    super(parent);
  }
  get id() {
    return `${this.parent!.id}/${this.kind}/${this.name}`;
  }
  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(this.name, vscode.TreeItemCollapsibleState.Expanded);
    item.id = this.id;
    item.description = this.kind === 'pod' ? 'pod' : 'compose project';
    item.iconPath = new vscode.ThemeIcon(this.kind === 'pod' ? 'layers' : 'files');
    return item;
  }
}

/** A container: its name, image and state; its namespaces beneath it. */
export class ContainerNode extends Node {
  constructor(
    parent: Node,
    readonly containerId: string,
  ) {
    super(parent);
  }
  get id() {
    return `${this.parent!.id}/c/${this.containerId}`;
  }
  toTreeItem(model: Model): vscode.TreeItem {
    const c = model.container(this.containerId);
    const running = c?.pid !== undefined;
    const item = new vscode.TreeItem(
      c?.name ?? this.containerId.slice(0, 12),
      running ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None,
    );
    item.id = this.id;
    if (!c) return item;
    item.description = containerDescription(c);
    item.tooltip = containerTooltip(c);
    item.iconPath = new vscode.ThemeIcon(
      'package',
      running ? new vscode.ThemeColor('charts.green') : new vscode.ThemeColor('disabledForeground'),
    );
    item.contextValue = containerContext(c);
    return item;
  }
}

function containerTooltip(c: Container): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  // The name is the engine's word: text, never markdown (a link or an image in it would render).
  md.appendMarkdown('**').appendText(c.name).appendMarkdown(`** — ${c.engine} container\n\n`);
  const rows: [string, string][] = [
    ['id', c.id.slice(0, 12)],
    ['image', c.image],
    ['state', c.state],
  ];
  if (c.pid !== undefined) rows.push(['first process', String(c.pid)]);
  if (c.hostname) rows.push(['hostname', c.hostname]);
  if (c.pod) rows.push(['pod', c.pod]);
  if (c.project) rows.push(['compose', `${c.project}${c.service ? ` / ${c.service}` : ''}`]);
  rows.push(['known from', c.source === 'api' ? `the ${c.engine} API` : "the OCI runtime's state (no API answered)"]);
  appendRows(md, rows);
  return md;
}

export class NamespaceNode extends Node {
  constructor(
    parent: Node | undefined,
    readonly key: NsKey,
    readonly hasChildren: boolean,
  ) {
    super(parent);
  }
  get id() {
    return `${this.parent?.id ?? ''}/ns/${nsId(this.key)}`;
  }
  toTreeItem(model: Model): vscode.TreeItem {
    const ns = model.namespace(this.key);
    const first = ns?.pids.length ? model.process(Math.min(...ns.pids)) : undefined;
    const item = new vscode.TreeItem(
      ns ? namespaceLabel(ns, first) : nsId(this.key),
      this.hasChildren ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None,
    );
    item.id = this.id;
    if (!ns) return item;
    item.description = namespaceDescription(ns);
    // Read out whole, id included: what a screen reader says, and what a search of the rows finds.
    item.accessibilityInformation = { label: `${item.label}, ${item.description}` };
    item.tooltip = namespaceTooltip(ns);
    const pinned = ns.pins.length > 0;
    item.iconPath = new vscode.ThemeIcon(
      pinned ? 'pinned' : TYPE_ICONS[ns.type],
      ns.initial ? undefined : new vscode.ThemeColor('charts.blue'),
    );
    item.contextValue = namespaceContext(ns.type, ns, ns.initial);
    // Selecting it shows its details (selectCommand).
    return item;
  }
}

export function namespaceTooltip(ns: Namespace): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.appendMarkdown(`**${nsId(ns)}** — ${TYPE_TITLES[ns.type]}\n\n`);
  const rows: [string, string][] = [['processes', String(ns.pids.length)]];
  if (ns.initial) rows.push(['initial', 'yes (PID 1 is in it)']);
  if (ns.owner !== undefined) rows.push(['owner', `user:[${ns.owner}]`]);
  if (ns.parent !== undefined) rows.push(['parent', `${ns.type}:[${ns.parent}]`]);
  if (ns.ownerUid !== undefined) rows.push(['owner uid', String(ns.ownerUid)]);
  if (ns.container) rows.push(['container', runtimeAndContainer(ns.container)]);
  for (const pin of ns.pins) rows.push(['pin', `${pin.name}${pin.by ? ` (by ${pin.by.user})` : ''}`]);
  for (const name of netnsNames(ns)) rows.push(['ip netns', `${name} (made by another tool)`]);
  for (const h of ns.holders.slice(0, 8)) rows.push(['held by', describeHolder(h)]);
  appendRows(md, rows);
  return md;
}

export class ProcessNode extends Node {
  constructor(
    parent: Node | undefined,
    readonly pid: number,
    readonly expandable: boolean,
  ) {
    super(parent);
  }
  get id() {
    return `${this.parent?.id ?? ''}/p/${this.pid}`;
  }
  toTreeItem(model: Model): vscode.TreeItem {
    const p = model.process(this.pid);
    const item = new vscode.TreeItem(
      p ? `${p.comm} (${p.pid})` : String(this.pid),
      this.expandable ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None,
    );
    item.id = this.id;
    if (!p) return item;
    const differs = differingTypes(p, (t) => model.initialInode(t));
    item.description = processDescription(p, differs, model.containerNameOf(p));
    item.tooltip = processTooltip(p, differs);
    item.iconPath = new vscode.ThemeIcon(
      differs.length ? 'vm-running' : 'vm',
      differs.length ? new vscode.ThemeColor('charts.orange') : undefined,
    );
    item.contextValue = PROCESS_CONTEXT;
    return item;
  }
}

function processTooltip(p: Process, differs: NsType[]): vscode.MarkdownString {
  const md = new vscode.MarkdownString();
  // The process wrote its arguments: a fence longer than any run of backticks in them keeps them inside it.
  const code = p.cmdline.join(' ') || `[${p.comm}]`;
  const fence = '`'.repeat(Math.max(3, ...(code.match(/`+/g) ?? []).map((run) => run.length + 1)));
  md.appendMarkdown(`${fence}sh\n${code.replace(/\n/g, ' ')}\n${fence}\n`);
  md.appendMarkdown(`pid ${p.pid} · ppid ${p.ppid} · ${p.user} (uid ${p.uid})\n\n`);
  md.appendMarkdown(
    differs.length
      ? `Not in the initial ${differs.join(', ')} namespace${differs.length > 1 ? 's' : ''}.`
      : 'In the initial namespaces.',
  );
  return md;
}

/** A process's namespace of one type, in the Processes view. */
export class ProcessNamespaceNode extends Node {
  constructor(
    parent: ProcessNode,
    readonly type: NsType,
    readonly inode: number,
  ) {
    super(parent);
  }
  get key(): NsKey {
    return { type: this.type, inode: this.inode };
  }
  get pid(): number {
    return (this.parent as ProcessNode).pid;
  }
  get id() {
    return `${this.parent!.id}/${this.type}`;
  }
  toTreeItem(model: Model): vscode.TreeItem {
    const ns = model.namespace(this.key);
    const initial = model.initialInode(this.type) === this.inode;
    const item = new vscode.TreeItem(ns ? namespaceLabel(ns) : nsId(this.key), vscode.TreeItemCollapsibleState.None);
    item.id = this.id;
    item.description = ns ? namespaceDescription(ns) : '';
    item.tooltip = ns ? namespaceTooltip(ns) : undefined;
    item.iconPath = new vscode.ThemeIcon(
      TYPE_ICONS[this.type],
      initial ? undefined : new vscode.ThemeColor('charts.orange'),
    );
    item.contextValue = namespaceContext(this.type, ns, initial, true);
    return item;
  }
}

/** What keeps a namespace alive when it is not (only) its processes. */
export class HolderNode extends Node {
  constructor(
    parent: Node,
    readonly text: string,
    readonly index: number,
  ) {
    super(parent);
  }
  get id() {
    return `${this.parent!.id}/h/${this.index}`;
  }
  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(this.text, vscode.TreeItemCollapsibleState.None);
    item.id = this.id;
    item.iconPath = new vscode.ThemeIcon('link');
    item.contextValue = HOLDER_CONTEXT;
    return item;
  }
}

/** One collapsed row for every kernel thread, in the Processes view. */
export class KernelThreadsNode extends Node {
  constructor(
    readonly count: number,
    parent?: Node,
  ) {
    super(parent);
  }
  get id() {
    return `${this.parent ? `${this.parent.id}/` : ''}kernel-threads`;
  }
  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem('Kernel threads', vscode.TreeItemCollapsibleState.Collapsed);
    item.id = this.id;
    item.description = String(this.count);
    item.tooltip =
      'kthreadd (pid 2) and the threads it started: they live in the initial namespaces and have no command line';
    item.iconPath = new vscode.ThemeIcon('chip');
    return item;
  }
}

/** The last row of a long list: loads the next page when clicked. */
export class MoreNode extends Node {
  constructor(
    parent: Node | undefined,
    readonly remaining: number,
  ) {
    super(parent);
  }
  get id() {
    return `${this.parent?.id ?? ''}/more`;
  }
  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(`Show more… (${this.remaining} left)`, vscode.TreeItemCollapsibleState.None);
    item.id = this.id;
    item.iconPath = new vscode.ThemeIcon('ellipsis');
    return item;
  }
}

/**
 * What selecting a row does (a click, or the keyboard). Rows carry no
 * command of their own: VS Code keeps a command's arguments only as long as
 * the row it was drawn with, so a click that lands just after a redraw would
 * find no command ("Actual command not found").
 */
export function selectCommand(node: Node): string | undefined {
  if (node instanceof NamespaceNode || node instanceof ProcessNamespaceNode) return 'nsx.showDetails';
  if (node instanceof MoreNode) return 'nsx.showMore';
  return undefined;
}

export function keyOf(node: unknown): NsKey | undefined {
  if (node instanceof NamespaceNode) return node.key;
  if (node instanceof ProcessNamespaceNode) return node.key;
  return undefined;
}

export function pidOf(node: unknown): number | undefined {
  if (node instanceof ProcessNode) return node.pid;
  if (node instanceof ProcessNamespaceNode) return node.pid;
  return undefined;
}

/** A tooltip's rows, as a list of `name: value`; a value's backticks become quotes, as they would end its code span. */
function appendRows(md: vscode.MarkdownString, rows: [string, string][]): void {
  for (const [k, v] of rows) md.appendMarkdown(`- ${k}: \`${v.replace(/`/g, "'")}\`\n`);
}
