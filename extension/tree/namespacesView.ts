// The Namespaces view, in one of three groupings: type → namespace →
// processes (and holders); the user-namespace hierarchy, where each user
// namespace nests the user namespaces below it and the namespaces it owns;
// or containers: engine → pod or compose project → container → its namespaces.
import * as vscode from 'vscode';
import { Container, Namespace, nsId, NsKey, NSTYPES, NsType } from '../../helper/common/protocol';
import { describeHolder } from '../../helper/common/words';
import { isLauncher } from './labels';
import { setContextKey } from '../menus';
import type { Model } from '../model';
import type { Filter } from './filter';
import { ContainerNode, EngineNode, GroupNode, HolderNode, NamespaceNode, Node, ProcessNode, TypeNode } from './nodes';
import type { Pages } from './paging';
import { NodeProvider } from './provider';
import type { NetModel } from '../netModel';
import { interfaceNodes } from './netNodes';
import type { Ports } from '../ports';
import { PortsGroupNode, portsChildren } from './portsNodes';

export type Grouping = 'type' | 'hierarchy' | 'containers';

/** Initial namespaces first, then the rest by inode: newest last, as lsns sorts. */
function inOrder(list: Namespace[]): Namespace[] {
  return [...list].sort((a, b) => Number(b.initial) - Number(a.initial) || a.inode - b.inode);
}

export class NamespacesProvider extends NodeProvider {
  private grouping: Grouping;
  /** Where a net namespace's interfaces come from (set by extension.ts). */
  net: NetModel | undefined;
  /** Set by the extension: a net namespace's row then has a Ports group. */
  ports: Ports | undefined;

  /** ROOT: the host row this provider's top level is under, when it is one host's of several. */
  constructor(model: Model, filter: Filter, pages: Pages, root?: Node) {
    super(model, filter, pages, root);
    this.grouping = vscode.workspace.getConfiguration('nsx').get<Grouping>('defaultGrouping', 'type');
    setContextKey('nsx.grouping', this.grouping);
  }

  setGrouping(grouping: Grouping): void {
    this.grouping = grouping;
    for (const h of this.hosts?.list ?? []) h.provider.setGrouping(grouping);
    setContextKey('nsx.grouping', grouping);
  }

  private visible(): Namespace[] {
    // A text that names containers shows their namespaces, not every process whose arguments happen to say it.
    const hits = this.filter.hasText ? this.model.allContainers().filter((c) => this.filter.containerMatches(c)) : [];
    if (hits.length) {
      const ids = new Set(hits.flatMap((c) => c.namespaces.map(nsId)));
      return this.model.allNamespaces().filter((ns) => this.filter.typeShown(ns.type) && ids.has(nsId(ns)));
    }
    return this.model
      .allNamespaces()
      .filter((ns) => this.filter.namespaceMatches(ns, (pid) => this.model.process(pid)));
  }

  getChildren(node?: Node): Node[] {
    const hosts = this.hosts?.list;
    if (!hosts?.length) return this.children(node);
    if (!node) return hosts.map((h) => h.node);
    return this.hosts?.of(node)?.provider.children(node === this.hosts.of(node)?.node ? undefined : node) ?? [];
  }

  /** A row's item, from the model of the host it is under. */
  getTreeItem(node: Node): vscode.TreeItem {
    return node.toTreeItem(this.hosts?.of(node)?.model ?? this.model);
  }

  /** This provider's own rows: its host's tree. */
  children(node?: Node): Node[] {
    if (!this.model.loaded) return [];
    if (!node)
      return this.grouping === 'type' ? this.types() : this.grouping === 'containers' ? this.engines() : this.roots();
    if (node instanceof TypeNode)
      return this.namespacesOf(
        node,
        this.visible().filter((ns) => ns.type === node.type),
      );
    if (node instanceof EngineNode || node instanceof GroupNode) return this.containersIn(node);
    if (node instanceof ContainerNode) return this.namespacesOfContainer(node);
    if (node instanceof PortsGroupNode) return this.ports ? portsChildren(node, this.ports) : [];
    if (node instanceof NamespaceNode)
      return this.grouping === 'hierarchy' && node.key.type === 'user' ? this.owned(node) : this.members(node);
    return [];
  }

  private types(): Node[] {
    const counts = new Map<NsType, number>();
    for (const ns of this.visible()) counts.set(ns.type, (counts.get(ns.type) ?? 0) + 1);
    return NSTYPES.filter((t) => counts.has(t)).map((t) => new TypeNode(t, counts.get(t)!, this.root));
  }

  private namespacesOf(parent: Node | undefined, list: Namespace[]): Node[] {
    return this.pages.slice(parent, inOrder(list), (ns) => new NamespaceNode(parent, ns, this.hasChildren(ns)));
  }

  private hasChildren(ns: Namespace): boolean {
    if (this.grouping === 'hierarchy' && ns.type === 'user') return true;
    return (
      (ns.type === 'net' && (this.net !== undefined || this.ports !== undefined)) ||
      ns.pids.length > 0 ||
      ns.holders.length > 0
    );
  }

  private members(node: NamespaceNode): Node[] {
    const ns = this.model.namespace(node.key);
    if (!ns) return [];
    const holders = ns.holders.map((h, i) => new HolderNode(node, describeHolder(h), i));
    const pids = ns.pids
      .filter((pid) => {
        const p = this.model.process(pid);
        return (
          !p ||
          (!isLauncher(p, this.model.process(p.ppid)) && this.filter.processMatches(p, this.model.containerNameOf(p)))
        );
      })
      .sort((a, b) => a - b);
    const net = ns.type === 'net';
    const links = net && this.net ? interfaceNodes(node, ns.inode, this.net, this.model) : [];
    const ports = net && this.ports ? [new PortsGroupNode(node, ns.inode)] : [];
    return [
      ...ports,
      ...links,
      ...holders,
      ...this.pages.slice(node, pids, (pid) => new ProcessNode(node, pid, false)),
    ];
  }

  /** The containers the filter lets through: by name, image, pod, project, hostname (or a namespace of theirs it shows). */
  private containers(): Container[] {
    const shown = new Set(this.visible().map((ns) => nsId(ns)));
    return this.model
      .allContainers()
      .filter(
        (c) => c.namespaces.some((k) => shown.has(nsId(k))) || (c.pid === undefined && this.filter.containerMatches(c)),
      );
  }

  private engines(): Node[] {
    const apis = this.model.allEngineApis();
    const silent = new Map(apis.filter((a) => !a.answering).map((a) => [`${a.engine}/${a.uid}`, a]));
    const counts = new Map<string, number>([...silent.keys()].map((key) => [key, 0]));
    for (const c of this.containers()) {
      const key = `${c.engine}/${c.engineUid}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      // Docker or podman known only from the runtime's state: no API socket there to ask (podman.socket needs systemd).
      if (
        c.source === 'oci' &&
        (c.engine === 'docker' || c.engine === 'podman') &&
        !silent.has(key) &&
        !apis.some((a) => `${a.engine}/${a.uid}` === key)
      ) {
        silent.set(key, {
          engine: c.engine,
          uid: c.engineUid,
          socket: `${c.engine}'s API socket`,
          answering: false,
          reason: 'there is none (podman serves one only when podman.socket, or podman system service, runs)',
        });
      }
    }
    return [...counts]
      .map(([key, count]) => {
        const [engine, uid] = key.split('/');
        return new EngineNode(engine, Number(uid), count, silent.get(key), this.root);
      })
      .sort((a, b) => a.uid - b.uid || a.engine.localeCompare(b.engine));
  }

  /** Under an engine: its pods and compose projects, then the containers in neither; under a group, its containers. */
  private containersIn(node: EngineNode | GroupNode): Node[] {
    const engine = node instanceof EngineNode ? node : (node.parent as EngineNode);
    const mine = this.containers()
      .filter((c) => c.engine === engine.engine && c.engineUid === engine.uid)
      .sort((a, b) => a.name.localeCompare(b.name));
    const groupOf = (c: Container): ['pod' | 'project', string] | undefined =>
      c.pod ? ['pod', c.pod] : c.project ? ['project', c.project] : undefined;
    if (node instanceof GroupNode)
      return mine
        .filter((c) => groupOf(c)?.[1] === node.name && groupOf(c)?.[0] === node.kind)
        .map((c) => new ContainerNode(node, c.id));
    const groups = new Map<string, GroupNode>();
    for (const c of mine) {
      const g = groupOf(c);
      if (g && !groups.has(g.join('/'))) groups.set(g.join('/'), new GroupNode(engine, g[0], g[1]));
    }
    return [...groups.values(), ...mine.filter((c) => !groupOf(c)).map((c) => new ContainerNode(engine, c.id))];
  }

  private namespacesOfContainer(node: ContainerNode): Node[] {
    const c = this.model.container(node.containerId);
    const list = (c?.namespaces ?? [])
      .map((k) => this.model.namespace(k))
      .filter((ns): ns is Namespace => ns !== undefined);
    return list.map((ns) => new NamespaceNode(node, ns, this.hasChildren(ns)));
  }

  /** Top of the hierarchy: user namespaces whose parent nsxd cannot see. */
  private roots(): Node[] {
    const users = this.model.allNamespaces().filter((ns) => ns.type === 'user');
    const known = new Set(users.map((u) => u.inode));
    return this.namespacesOf(
      this.root,
      users.filter((u) => u.parent === undefined || !known.has(u.parent)),
    );
  }

  private owned(node: NamespaceNode): Node[] {
    const children = this.model.allNamespaces().filter((ns) => ns.type === 'user' && ns.parent === node.key.inode);
    return [
      ...this.namespacesOf(node, children),
      ...this.pages.slice(
        node,
        this.ownedBy(node),
        (ns) => new NamespaceNode(node, ns, ns.pids.length > 0 || ns.holders.length > 0),
      ),
    ];
  }

  /** The namespaces other than user ones that a user namespace owns, as its rows list them. */
  private ownedBy(node: NamespaceNode): Namespace[] {
    return this.visible()
      .filter((ns) => ns.type !== 'user' && ns.owner === node.key.inode)
      .sort((a, b) => a.type.localeCompare(b.type) || a.inode - b.inode);
  }

  /**
   * The node of a namespace, for reveal: under its type, its container, or
   * along its owners in the hierarchy, with the pages it is on shown (a
   * reveal of a row VS Code was not given fails). Undefined when the grouping
   * or the filter does not show it.
   */
  nodeFor(key: NsKey): NamespaceNode | undefined {
    // With host rows, what is revealed is this host's.
    const local = this.hosts?.list.find((h) => h.local);
    if (local && local.provider !== this) return local.provider.nodeFor(key);
    const ns = this.model.namespace(key);
    if (!ns || !this.visible().includes(ns)) return undefined;
    if (this.grouping === 'type') {
      const type = this.types().find((t) => (t as TypeNode).type === key.type);
      if (!type) return undefined;
      this.pages.reach(type, inOrder(this.visible().filter((x) => x.type === key.type)).indexOf(ns));
      return new NamespaceNode(type, ns, this.hasChildren(ns));
    }
    if (this.grouping === 'containers') {
      // Any container that has it: one of a pod's containers for the namespaces they share.
      const c = this.model
        .allContainers()
        .find((x) => x.namespaces.some((k) => k.type === key.type && k.inode === key.inode));
      if (!c) return undefined;
      const engine = new EngineNode(c.engine, c.engineUid, 0, undefined, this.root);
      const group = c.pod
        ? new GroupNode(engine, 'pod', c.pod)
        : c.project
          ? new GroupNode(engine, 'project', c.project)
          : undefined;
      return new NamespaceNode(new ContainerNode(group ?? engine, c.id), ns, this.hasChildren(ns));
    }
    const chain: Namespace[] = [];
    let owner =
      key.type === 'user'
        ? this.model.namespace({ type: 'user', inode: ns.parent ?? -1 })
        : this.model.namespace({ type: 'user', inode: ns.owner ?? -1 });
    while (owner) {
      chain.unshift(owner);
      owner = owner.parent !== undefined ? this.model.namespace({ type: 'user', inode: owner.parent }) : undefined;
    }
    let parent: Node | undefined = this.root;
    for (const u of chain) parent = new NamespaceNode(parent, u, true);
    if (key.type !== 'user' && parent && parent !== this.root)
      this.pages.reach(parent, this.ownedBy(parent as NamespaceNode).indexOf(ns));
    return new NamespaceNode(parent, ns, this.hasChildren(ns));
  }

  processNode(key: NsKey, pid: number): ProcessNode | undefined {
    const parent = this.nodeFor(key);
    return parent ? new ProcessNode(parent, pid, false) : undefined;
  }
}
