// The pins area: namespaces/pin, namespaces/create, namespaces/unpin,
// pins/list. Each request is parsed, done by kernel/pins.ts and audited.
import type { Caller } from '../access/access';
import { audit } from '../access/audit';
import type { Scanner } from '../discovery/scanner';
import type { Watcher } from '../discovery/watch';
import type { Pins } from '../kernel/pins';
import { closeQuietly } from '../fds';
import { openDiscovered, openProcessNamespaces } from '../kernel/targets';
import type { Area } from '../rpc/server';
import {
  CreateNamespace,
  ListPins,
  nsId,
  parseCreate,
  parsePin,
  parseUnpin,
  PinParams,
  PinNamespace,
  PinResult,
  UnpinNamespace,
  UnpinParams,
  UnpinResult,
} from '../../common/protocol';

export function pinsArea(pins: Pins, scanner: Scanner, watcher: Watcher): Area {
  return (conn, caller) => {
    const done = <T>(action: string, target: string, fn: () => Promise<T>): Promise<T> =>
      audited(action, target, caller, fn).then((result) => {
        watcher.poke();
        return result;
      });

    conn.onRequest(PinNamespace, (params) => {
      const p = parsePin(params);
      const target = p.pid !== undefined ? `pid:${p.pid}` : nsId({ type: p.type, inode: p.inode! });
      return done(PinNamespace.method, `${p.type}/${p.name} ${target}`, () => pin(p, pins, scanner, caller));
    });

    conn.onRequest(CreateNamespace, (params) => {
      const p = parseCreate(params);
      return done(CreateNamespace.method, `${p.type}/${p.name}`, () => pins.create(p.type, p.name, caller));
    });

    conn.onRequest(UnpinNamespace, (params) => {
      const p = parseUnpin(params);
      const target = `${p.type}/${p.name}${p.force ? ' (forced)' : ''}`;
      return done(UnpinNamespace.method, target, () => unpin(p, pins, scanner, caller));
    });

    conn.onRequest(ListPins, async () => {
      const { snapshot } = await scanner.scan();
      return snapshot.namespaces
        .filter((ns) => ns.pins.length > 0)
        .map((ns) => ({ type: ns.type, inode: ns.inode, pins: ns.pins }));
    });
  };
}

/** What FN did, or why it was refused, in the audit log. */
function audited<T>(action: string, target: string, caller: Caller, fn: () => Promise<T>): Promise<T> {
  return fn().then(
    (result) => {
      audit(action, { uid: caller.uid, user: caller.user, target, result: 'ok' });
      return result;
    },
    (err) => {
      audit(action, { uid: caller.uid, user: caller.user, target, result: 'refused', reason: (err as Error).message });
      throw err;
    },
  );
}

/** Pins the namespace of a process, or one discovered through whatever holds it. */
async function pin(p: PinParams, pins: Pins, scanner: Scanner, caller: Caller): Promise<PinResult> {
  const opened =
    p.pid !== undefined
      ? openProcessNamespaces(p.pid, [p.type], p.inode === undefined ? {} : { [p.type]: p.inode }).opened[0]
      : await openDiscovered(scanner, { type: p.type, inode: p.inode! });
  try {
    return { type: p.type, inode: opened.inode, pin: pins.pin(opened, p.name, caller) };
  } finally {
    closeQuietly(opened.fd);
  }
}

/** Unpins, and says what still holds the namespace, from a scan that starts after the unmount. */
async function unpin(p: UnpinParams, pins: Pins, scanner: Scanner, caller: Caller): Promise<UnpinResult> {
  const key = pins.unpin(p.type, p.name, caller, p.force);
  const ns = (await scanner.scan()).snapshot.namespaces.find((n) => n.type === key.type && n.inode === key.inode);
  return { ...key, remaining: { processes: ns?.pids.length ?? 0, holders: ns?.holders ?? [] } };
}
