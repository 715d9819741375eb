// What both trees share: a change event, items from nodes, parents from nodes.
import * as vscode from 'vscode';
import type { Model } from '../model';
import type { Filter } from './filter';
import type { Hosts } from '../hosts';
import type { Node } from './nodes';
import type { Pages } from './paging';

export abstract class NodeProvider implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly onDidChangeEmitter = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.onDidChangeEmitter.event;

  /** Set by the extension: with other hosts configured, the view's top level is one row per host. */
  hosts: Hosts | undefined;

  /** ROOT: the host row this provider's top level is under, when it is one host's of several. */
  constructor(
    protected readonly model: Model,
    protected readonly filter: Filter,
    protected readonly pages: Pages,
    protected readonly root?: Node,
  ) {}

  abstract getChildren(node?: Node): Node[];

  redraw(node?: Node): void {
    this.onDidChangeEmitter.fire(node);
  }

  getTreeItem(node: Node): vscode.TreeItem {
    return node.toTreeItem(this.model);
  }

  getParent(node: Node): Node | undefined {
    return node.parent;
  }

  dispose(): void {
    this.onDidChangeEmitter.dispose();
  }
}
