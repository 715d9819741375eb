// Port commands: Forward Port… (on a listening port's row, a net namespace
// or a running container), Open in Browser and Stop on a forward's row.
// A forward is for this window's user alone, and ends with the window.
// Another host's forward listens on this machine's 127.0.0.1 too, each
// connection carried there (../carried.ts).
import * as vscode from 'vscode';
import { describeForward, Forward, ForwardParams, ListeningSocket, PortsTarget } from '../../helper/common/ports';
import { socketAddress } from '../../helper/common/portsFormat';
import { ContainerNode, keyOf } from '../tree/nodes';
import { ForwardNode, PortNode } from '../tree/portsNodes';
import type { Commands, Context } from './context';

/** Where inside to connect for a socket that listens on ADDRESS: its own address, or loopback for a wildcard. */
function connectAddress(s: ListeningSocket): string {
  if (s.address === '0.0.0.0') return '127.0.0.1';
  if (s.address === '::') return '::1';
  return s.address;
}

/** The namespace a row stands for, as nsxd takes it, and its name for titles. */
function targetOf(ctx: Context, node: unknown): { target: PortsTarget; title: string } | undefined {
  if (node instanceof PortNode)
    return { target: { namespace: { type: 'net', inode: node.netns } }, title: `net:[${node.netns}]` };
  if (node instanceof ContainerNode) {
    const c = ctx.model.container(node.containerId);
    return c && { target: { container: c.id }, title: c.name };
  }
  const key = keyOf(node);
  if (key?.type === 'net')
    return { target: { namespace: key }, title: ctx.model.namespace(key)?.container?.name ?? `net:[${key.inode}]` };
  return undefined;
}

/** A port from what listens there, or one typed in. */
async function pickPort(
  ctx: Context,
  target: PortsTarget,
  title: string,
): Promise<{ port: number; address?: string } | undefined> {
  const listing = await ctx.ports.list(target).catch(() => undefined);
  const sockets = (listing?.sockets ?? []).filter((s) => s.protocol === 'tcp');
  const other = { label: 'Other port…', socket: undefined as ListeningSocket | undefined };
  const picked =
    sockets.length === 0
      ? other
      : await vscode.window.showQuickPick(
          [
            ...sockets.map((s) => ({
              label: socketAddress(s),
              description: s.processes.map((p) => `${p.comm} (${p.pid})`).join(', '),
              socket: s as ListeningSocket | undefined,
            })),
            other,
          ],
          { title: `Forward which port of ${title}?` },
        );
  if (!picked) return undefined;
  if (picked.socket) return { port: picked.socket.port, address: connectAddress(picked.socket) };
  const typed = await vscode.window.showInputBox({
    title: `Forward which port of ${title}? (its 127.0.0.1)`,
    validateInput: (v) => (/^\d{1,5}$/.test(v) && +v >= 1 && +v <= 65535 ? undefined : 'a port, 1 to 65535'),
  });
  return typed ? { port: Number(typed) } : undefined;
}

async function openInBrowser(f: Pick<Forward, 'hostPort'>): Promise<vscode.Uri> {
  // In a remote window this is where the local machine reaches it (VS Code opens a tunnel).
  const uri = await vscode.env.asExternalUri(vscode.Uri.parse(`http://127.0.0.1:${f.hostPort}/`));
  await vscode.env.openExternal(uri);
  return uri;
}

export function portCommands(ctx: Context): Commands {
  return {
    /** From a row, or with ForwardParams (the tests, other extensions): returns the Forward. */
    'nsx.forwardPort': async (node?: unknown, given?: ForwardParams) => {
      let params = given;
      if (!params) {
        const where = targetOf(ctx, node);
        if (!where)
          throw new Error('Pick a listening port, a net namespace or a running container to forward a port of.');
        const chosen =
          node instanceof PortNode
            ? { port: node.socket.port, address: connectAddress(node.socket) }
            : await pickPort(ctx, where.target, where.title);
        if (!chosen) return undefined;
        params = { target: where.target, ...chosen };
      }
      const f = await ctx.ports.forward(params);
      const open = 'Open in Browser';
      void vscode.window
        // Notifications render [text](target) as a link, and a label may come from a process's name.
        .showInformationMessage(
          `Forwarding ${describeForward(f).replace(/\]\(/g, '] (')}${ctx.host.on} (for you alone, until this window closes).`,
          open,
        )
        .then((choice) => (choice === open ? openInBrowser(f) : undefined));
      return f;
    },

    'nsx.openForwardInBrowser': async (node?: unknown) => {
      const f = node instanceof ForwardNode ? node.forward : ctx.ports.forwards[0];
      if (!f) throw new Error('There is no forward to open: use Forward Port… first.');
      return openInBrowser(f);
    },

    'nsx.stopForward': async (node?: unknown, id?: number) => {
      const which = node instanceof ForwardNode ? node.forward.id : id;
      if (which === undefined) throw new Error('Pick a forward to stop.');
      await ctx.ports.stop(which);
    },
  };
}
