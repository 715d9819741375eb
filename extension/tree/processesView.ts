// The Processes view: every process, its namespaces beneath it; those in a
// namespace other than PID 1's are highlighted. With other hosts in
// nsx.hosts, one root per host, as in the Namespaces view, each host's
// processes under it from its own model.
import * as vscode from 'vscode';
import { NSTYPES, Process } from '../../helper/common/protocol';
import { differingTypes, isKernelThread, isLauncher } from './labels';
import { KernelThreadsNode, Node, ProcessNamespaceNode, ProcessNode } from './nodes';
import { NodeProvider } from './provider';

export class ProcessesProvider extends NodeProvider {
  getChildren(node?: Node): Node[] {
    const hosts = this.hosts?.list;
    if (!hosts?.length) return this.children(node);
    if (!node) return hosts.map((h) => h.node);
    const host = this.hosts?.of(node);
    return host?.processes.children(node === host.node ? undefined : node) ?? [];
  }

  /** A row's item, from the model of the host it is under. */
  getTreeItem(node: Node): vscode.TreeItem {
    return node.toTreeItem(this.hosts?.of(node)?.model ?? this.model);
  }

  /** This provider's own rows: its host's processes. */
  children(node?: Node): Node[] {
    if (!this.model.loaded) return [];
    if (!node) {
      // Those that differ from PID 1's namespaces come first: they are what one looks for.
      // A text that names containers shows their processes, not every process whose arguments happen to say it.
      const named = this.filter.hasText
        ? new Set(
            this.model
              .allContainers()
              .filter((c) => this.filter.containerMatches(c))
              .map((c) => c.name),
          )
        : new Set<string>();
      const matches = (p: Process) => {
        const container = this.model.containerNameOf(p);
        return named.size ? container !== undefined && named.has(container) : this.filter.processMatches(p, container);
      };
      const procs = this.model
        .allProcesses()
        .filter(
          (p) =>
            !isLauncher(p, this.model.process(p.ppid)) &&
            matches(p) &&
            (Object.keys(p.ns) as (keyof typeof p.ns)[]).some((t) => this.filter.typeShown(t)),
        )
        .map((p) => ({ p, differs: differingTypes(p, (t) => this.model.initialInode(t)).length }))
        .sort((a, b) => Number(b.differs > 0) - Number(a.differs > 0) || a.p.pid - b.p.pid);
      // Kernel threads (kthreadd and its children) are many and all alike: one collapsed row holds them.
      const threads = procs.filter(({ p }) => isKernelThread(p));
      const rest = procs.filter(({ p }) => !isKernelThread(p));
      return [
        ...this.pages.slice(this.root, rest, ({ p }) => new ProcessNode(this.root, p.pid, true)),
        ...(threads.length ? [new KernelThreadsNode(threads.length, this.root)] : []),
      ];
    }
    if (node instanceof KernelThreadsNode) {
      const threads = this.model
        .allProcesses()
        .filter((p) => isKernelThread(p) && this.filter.processMatches(p))
        .sort((a, b) => a.pid - b.pid);
      return this.pages.slice(node, threads, (p) => new ProcessNode(node, p.pid, true));
    }
    if (node instanceof ProcessNode) {
      const p = this.model.process(node.pid);
      if (!p) return [];
      return NSTYPES.filter((t) => p.ns[t] !== undefined && this.filter.typeShown(t)).map(
        (t) => new ProcessNamespaceNode(node, t, p.ns[t]!),
      );
    }
    return [];
  }
}
