// The net namespace a request names (a forward's, a ports listing's, a
// capture's), opened and checked as a terminal's are (kernel/targets.ts): a
// process's (start time before and after, the inode the client saw), a pin's
// or an `ip netns` name's, a discovered namespace's, a running container's,
// the host's, or a name as people type it; with what people call it.
import { ResponseError } from 'vscode-jsonrpc/node';
import type { PortsTarget } from '../../common/ports';
import type { TerminalTarget } from '../../common/protocol';
import { ErrorCodes, nsId } from '../../common/protocol';
import { containerName, netnsNames } from '../../common/words';
import { resolveContainer } from '../discovery/containers';
import { closeQuietly } from '../fds';
import type { Scanner } from '../discovery/scanner';
import type { Pins } from './pins';
import { openDiscovered, openProcessNamespaces, OpenedNs } from './targets';

export interface NetTarget {
  opened: OpenedNs;
  /** In people's words: `web`, `pin lab`, `host`, `pid 1234 (nginx)`, `net:[4026532201]`. */
  label: string;
}

export async function openNetTarget(
  t: PortsTarget | TerminalTarget | { host: true },
  scanner: Scanner,
  pins: Pins,
): Promise<NetTarget> {
  if ('host' in t) return openHost(scanner);
  if ('pid' in t) {
    const expected = t.inodes?.net !== undefined ? { net: t.inodes.net } : {};
    const { opened, comm } = openProcessNamespaces(t.pid, ['net'], expected);
    return { opened: opened[0], label: `pid ${t.pid} (${comm})` };
  }
  if ('pin' in t) {
    if (t.pin.type !== 'net') throw new ResponseError(ErrorCodes.InvalidParams, 'ports are in net namespaces');
    const opened = pins.open('net', t.pin.name);
    if (!opened) throw new ResponseError(ErrorCodes.NotFound, `there is no net pin or ip netns name ${t.pin.name}`);
    return { opened, label: t.pin.name };
  }
  if ('namespace' in t) {
    if (t.namespace.type !== 'net')
      throw new ResponseError(ErrorCodes.InvalidParams, `${nsId(t.namespace)} is not a net namespace`);
    const opened = await openDiscovered(scanner, t.namespace);
    // Named as the tree names it, where it has a name: its container's, its pin's, its ip netns name.
    const model = await scanner.model(2000);
    const ns = model.byInode.get(opened.inode);
    const c = model.containers.find((x) => x.namespaces.some((k) => k.type === 'net' && k.inode === opened.inode));
    const named =
      c?.name ?? (ns && (ns.container ? containerName(ns.container) : (ns.pins[0]?.name ?? netnsNames(ns)[0])));
    // Else its first process, as the tree says it: `busybox (4242)`.
    const first = ns?.pids.length ? model.snapshot.processes.find((p) => p.pid === Math.min(...ns.pids)) : undefined;
    const label = ns?.initial ? 'host' : (named ?? (first ? `${first.comm} (${first.pid})` : nsId(opened)));
    return { opened, label };
  }
  if ('container' in t) return openContainer(t.container, scanner);
  if (t.name === 'host') return openHost(scanner);
  return openByName(t.name, scanner, pins);
}

/**
 * A container's name, or a net pin's or ip netns name: never a guess
 * between them. A name both mean is refused (a user's rootless container
 * could take the name of the namespace a member means, and hear what they
 * send it), and the message says how to say which.
 */
async function openByName(name: string, scanner: Scanner, pins: Pins): Promise<NetTarget> {
  let container: NetTarget | undefined;
  try {
    container = await openContainer(name, scanner);
  } catch (err) {
    if (!(err instanceof ResponseError) || err.code !== ErrorCodes.NotFound) throw err;
  }
  const pinned = pins.open('net', name);
  if (container && pinned) {
    closeQuietly(container.opened.fd);
    closeQuietly(pinned.fd);
    throw new ResponseError(
      ErrorCodes.Conflict,
      `${name} is both a container and a net pin or ip netns name: say container:${name} or pin:${name}`,
    );
  }
  if (container) return container;
  if (pinned) return { opened: pinned, label: name };
  throw new ResponseError(
    ErrorCodes.NotFound,
    `${name} is neither a running container nor a net pin or ip netns name (or "host")`,
  );
}

/** The initial net namespace (PID 1's, as the scan found it), or else nsxd's own, where its forwards listen. */
async function openHost(scanner: Scanner): Promise<NetTarget> {
  const initial = (await scanner.model(2000)).snapshot.namespaces.find((ns) => ns.type === 'net' && ns.initial);
  if (initial) return { opened: await openDiscovered(scanner, { type: 'net', inode: initial.inode }), label: 'host' };
  const { opened } = openProcessNamespaces(process.pid, ['net']);
  return { opened: opened[0], label: 'host' };
}

async function openContainer(ref: string, scanner: Scanner): Promise<NetTarget> {
  const c = resolveContainer((await scanner.model(2000)).containers, ref);
  const net = c.namespaces.find((k) => k.type === 'net');
  if (!net) throw new ResponseError(ErrorCodes.NotFound, `container ${c.name} has no net namespace nsxd saw`);
  // The namespace its engine's process was in at the scan: a pid reused since cannot redirect the forward.
  const { opened } = openProcessNamespaces(c.pid!, ['net'], { net: net.inode });
  return { opened: opened[0], label: c.name };
}
