// Terminal commands: in the namespaces of a process or a container, in fresh ones, in a pin.
import * as vscode from 'vscode';
import {
  Container,
  HOSTNAME,
  HOSTNAME_RULE,
  isolateDefault,
  nsId,
  NsKey,
  NsType,
  TerminalTarget,
} from '../../helper/common/protocol';
import { differingTypes } from '../tree/labels';
import type { NsTerminal } from '../terminal';
import { ContainerNode, keyOf, pidOf, ProcessNamespaceNode } from '../tree/nodes';
import type { Commands, Context } from './context';
import { pickContainer, pickProcess, pickTypes } from './pick';

export interface TerminalOptions {
  types?: NsType[];
  root?: boolean;
  hostname?: string;
  command?: string[];
  freshProc?: boolean;
}

/** What Open Terminal with Host Tools joins: everything but mnt (and user, so that the host's binaries run as they are). */
const HOST_TOOLS: NsType[] = ['net', 'pid', 'uts', 'ipc'];

/**
 * A shell in a container, as `docker exec`: every namespace of it is checked
 * in the pick (those that are not the host's marked), with its environment.
 * With opts.types, no pick.
 */
async function openInContainer(ctx: Context, c: Container, opts?: TerminalOptions): Promise<NsTerminal | undefined> {
  const available = c.namespaces.map((k) => k.type);
  const differs = c.namespaces.filter((k) => ctx.model.initialInode(k.type) !== k.inode).map((k) => k.type);
  const choice = opts?.types
    ? { types: opts.types, root: opts.root ?? false }
    : await pickTypes(ctx, `Namespaces of container ${c.name} to join`, available, available, false, differs);
  if (!choice) return undefined;
  return ctx.terminals.open(
    { target: { container: c.id }, types: choice.types, root: choice.root, command: opts?.command },
    c.name,
  );
}

/** A shell in the namespaces of a process, or of where a namespace row stands (its container's, its first process's, or that one namespace). */
async function openTerminalInNamespaces(
  ctx: Context,
  node?: unknown,
  opts?: TerminalOptions,
): Promise<NsTerminal | undefined> {
  ctx.connection.require();
  const key = node instanceof ProcessNamespaceNode ? undefined : keyOf(node);
  const ns = key && ctx.model.namespace(key);
  let pid = pidOf(node);
  if (ns) {
    // A namespace row stands for where it is: its container's namespaces, or its first process's, never silently one type.
    const c = ctx.model.containerOf(ns);
    if (c) return openInContainer(ctx, c, opts);
    if (ns.pids.length === 0) {
      // No process to take the rest from (a pin, an fd): that one namespace, through whatever holds it.
      return ctx.terminals.open(
        { target: { namespace: key }, types: [key.type], root: opts?.root, command: opts?.command },
        nsId(key),
      );
    }
    pid = Math.min(...ns.pids);
  }
  if (pid === undefined) pid = (await pickProcess(ctx, 'Open a terminal in the namespaces of…'))?.pid;
  if (pid === undefined) return undefined;
  const p = ctx.model.process(pid);
  const available = p ? (Object.keys(p.ns) as NsType[]) : ctx.connection.nstypes;
  const choice = opts?.types
    ? { types: opts.types, root: opts.root ?? false, freshProc: opts.freshProc ?? false }
    : await pickTypes(
        ctx,
        `Namespaces of ${p?.comm ?? pid} (${pid}) to join`,
        available,
        available,
        true,
        p ? differingTypes(p, (t) => ctx.model.initialInode(t)) : [],
      );
  if (!choice) return undefined;
  // The inodes the user saw are checked by nsxd, so a pid reused meanwhile cannot redirect the shell.
  const inodes: Partial<Record<NsType, number>> = {};
  for (const t of choice.types) if (p?.ns[t] !== undefined) inodes[t] = p.ns[t];
  const target: TerminalTarget = { pid, inodes };
  return ctx.terminals.open(
    { target, types: choice.types, root: choice.root, freshProc: choice.freshProc, command: opts?.command },
    `${p?.comm ?? 'pid'} (${pid})`,
  );
}

/** A shell in fresh namespaces, the types (and a hostname, with uts) asked for unless opts says. */
async function openIsolatedTerminal(ctx: Context, opts?: TerminalOptions): Promise<NsTerminal | undefined> {
  ctx.connection.require();
  const defaults = isolateDefault(ctx.connection.nstypes);
  const choice = opts?.types
    ? { types: opts.types, root: opts.root ?? false }
    : await pickTypes(ctx, 'Fresh namespaces for the new shell', ctx.connection.nstypes, defaults);
  if (!choice) return undefined;
  let hostname = opts?.hostname;
  if (hostname === undefined && choice.types.includes('uts') && !opts?.types) {
    hostname = await vscode.window.showInputBox({
      title: 'Hostname in the new uts namespace',
      value: 'isolated',
      validateInput: (v) => (HOSTNAME.test(v) ? undefined : HOSTNAME_RULE),
    });
    if (hostname === undefined) return undefined;
  }
  return ctx.terminals.open(
    { types: choice.types, root: choice.root, hostname, command: opts?.command },
    `isolated${hostname ? ` ${hostname}` : ''}`,
  );
}

/** A shell in a pinned (or otherwise bind-mounted) namespace: the pin or row given, else one picked. */
async function openTerminalInPinned(
  ctx: Context,
  arg?: unknown,
  opts?: TerminalOptions,
): Promise<NsTerminal | undefined> {
  ctx.connection.require();
  let target: TerminalTarget | undefined;
  let label = '';
  if (arg && typeof arg === 'object' && 'name' in arg && 'type' in arg) {
    const pin = arg as { type: NsType; name: string };
    target = { pin };
    label = `${pin.type}/${pin.name}`;
  } else if (keyOf(arg)) {
    const key = keyOf(arg)!;
    target = { namespace: key };
    label = nsId(key);
  } else {
    if (!ctx.model.loaded) await ctx.refresh.rescan();
    // Pins first, then anything else bind-mounted that nsxd found.
    const items = ctx.model.allNamespaces().flatMap((ns) => {
      const key: NsKey = { type: ns.type, inode: ns.inode };
      const pins = ns.pins.map((pin) => ({
        label: `$(pinned) ${ns.type}/${pin.name}`,
        description: nsId(ns),
        detail: pin.paths.join(', '),
        target: { pin: { type: ns.type, name: pin.name } } as TerminalTarget,
        name: `${ns.type}/${pin.name}`,
      }));
      if (pins.length) return pins;
      const mounts = ns.holders.filter((h) => h.kind === 'mount');
      return mounts.length
        ? [
            {
              label: `$(link) ${nsId(ns)}`,
              description: 'bind-mounted',
              detail: mounts.map((m) => (m.kind === 'mount' ? m.path : '')).join(', '),
              target: { namespace: key } as TerminalTarget,
              name: nsId(ns),
            },
          ]
        : [];
    });
    if (items.length === 0)
      throw new Error('No namespace is pinned or bind-mounted. Pin one first (Namespaces: Pin Namespace…).');
    const picked = await vscode.window.showQuickPick(items, {
      title: 'Open a terminal in a pinned namespace',
      matchOnDetail: true,
    });
    if (!picked) return undefined;
    target = picked.target;
    label = picked.name;
  }
  return ctx.terminals.open({ target, root: opts?.root, command: opts?.command }, label);
}

/** Shows every namespace of the terminal that is not the host's, in whatever grouping the view is in, the first selected. */
async function revealTerminalNamespaces(ctx: Context, terminal?: vscode.Terminal): Promise<NsKey[]> {
  // Whichever host's it is: its namespaces are revealed under that host's row.
  const hosts = ctx.hosts.list.length ? ctx.hosts.list : [ctx.hosts.here];
  const which = terminal ?? vscode.window.activeTerminal;
  const host = hosts.find((h) => h.terminals.forTerminal(which));
  const t = host?.terminals.forTerminal(which);
  if (!host || !t) throw new Error('The active terminal is not a Namespace Explorer terminal.');
  // nsxd lists the namespace the terminal's name shows first.
  const keys = t.namespaces.filter((k) => host.model.initialInode(k.type) !== k.inode);
  const wanted = keys.length ? keys : t.namespaces.slice(0, 1);
  const provider = host.local ? ctx.namespaces : host.provider;
  const nodes = wanted.flatMap((k) => provider.nodeFor(k) ?? []);
  if (nodes.length === 0) {
    throw new Error(
      ctx.filter.active
        ? "The terminal's namespaces are hidden by the filter: clear it (Namespaces: Clear Filter) and reveal again."
        : "The terminal's namespaces are not in the tree any more: its processes have gone.",
    );
  }
  // The pages they are on may have just been opened: the view learns of them before it is asked to reveal.
  ctx.namespaces.redraw();
  for (const node of nodes.slice(1).reverse())
    await ctx.namespacesView.reveal(node, { select: false, focus: false, expand: false });
  await ctx.namespacesView.reveal(nodes[0], { select: true, focus: true, expand: true });
  return keys;
}

export function terminalCommands(ctx: Context): Commands {
  return {
    'nsx.openTerminalInNamespaces': (node?: unknown, opts?: TerminalOptions) =>
      openTerminalInNamespaces(ctx, node, opts),

    'nsx.openTerminalInContainer': async (node?: unknown, opts?: TerminalOptions): Promise<NsTerminal | undefined> => {
      ctx.connection.require();
      const c =
        node instanceof ContainerNode
          ? ctx.model.container(node.containerId)
          : await pickContainer(ctx, 'Open a terminal in the container');
      return c && openInContainer(ctx, c, opts);
    },

    // Its network, processes, hostname and IPC, with the host's files: the host's ip, ss and tcpdump on the container's network.
    'nsx.openTerminalWithHostTools': async (
      node?: unknown,
      opts?: TerminalOptions,
    ): Promise<NsTerminal | undefined> => {
      ctx.connection.require();
      const c =
        node instanceof ContainerNode
          ? ctx.model.container(node.containerId)
          : await pickContainer(ctx, 'Open a terminal with host tools in the container');
      return (
        c &&
        ctx.terminals.open(
          {
            target: { container: c.id },
            types: HOST_TOOLS.filter((t) => c.namespaces.some((k) => k.type === t)),
            root: opts?.root,
            command: opts?.command,
          },
          `${c.name} (host tools)`,
        )
      );
    },

    'nsx.openIsolatedTerminal': (opts?: TerminalOptions) => openIsolatedTerminal(ctx, opts),

    'nsx.openTerminalInPinned': (arg?: unknown, opts?: TerminalOptions) => openTerminalInPinned(ctx, arg, opts),

    'nsx.revealTerminalNamespaces': (terminal?: vscode.Terminal) => revealTerminalNamespaces(ctx, terminal),
  };
}
