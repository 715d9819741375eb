// The net namespace a ports request names, opened and checked as a terminal's
// are (kernel/targets.ts): a process's (start time before and after, the
// inode the client saw), a pin's or an `ip netns` name's, a discovered
// namespace's, a running container's, or a name as people type it.
import { ResponseError } from 'vscode-jsonrpc/node';
import type { PortsTarget } from '../../common/ports';
import { ErrorCodes, nsId } from '../../common/protocol';
import { containerName } from '../../common/words';
import { resolveContainer } from '../discovery/containers';
import type { Scanner } from '../discovery/scanner';
import type { Pins } from './pins';
import { openDiscovered, openProcessNamespaces, OpenedNs } from './targets';

export interface NetTarget {
  opened: OpenedNs;
  /** In people's words: `web`, `pin lab`, `host`, `pid 1234 (nginx)`, `net:[4026532201]`. */
  label: string;
}

export async function openNetTarget(t: PortsTarget, scanner: Scanner, pins: Pins): Promise<NetTarget> {
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
    const ns = (await scanner.model(2000)).byInode.get(opened.inode);
    return { opened, label: ns?.container ? containerName(ns.container) : nsId(opened) };
  }
  if ('container' in t) return openContainer(t.container, scanner);
  if (t.name === 'host') {
    const { opened } = openProcessNamespaces(1, ['net']);
    return { opened: opened[0], label: 'host' };
  }
  try {
    return await openContainer(t.name, scanner);
  } catch (err) {
    if (!(err instanceof ResponseError) || err.code !== ErrorCodes.NotFound) throw err;
    const opened = pins.open('net', t.name);
    if (!opened)
      throw new ResponseError(
        ErrorCodes.NotFound,
        `${t.name} is neither a running container nor a net pin or ip netns name (or "host")`,
      );
    return { opened, label: t.name };
  }
}

async function openContainer(ref: string, scanner: Scanner): Promise<NetTarget> {
  const c = resolveContainer((await scanner.model(2000)).containers, ref);
  const net = c.namespaces.find((k) => k.type === 'net');
  if (!net) throw new ResponseError(ErrorCodes.NotFound, `container ${c.name} has no net namespace nsxd saw`);
  // The namespace its engine's process was in at the scan: a pid reused since cannot redirect the forward.
  const { opened } = openProcessNamespaces(c.pid!, ['net'], { net: net.inode });
  return { opened: opened[0], label: c.name };
}
