// The pins area: namespaces/pin, namespaces/create, namespaces/unpin,
// pins/list. Each request is parsed, done by kernel/pins.ts and audited.
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
  PinNamespace,
  PinResult,
  UnpinNamespace,
  UnpinResult,
} from '../../common/protocol';

export function pinsArea(pins: Pins, scanner: Scanner, watcher: Watcher): Area {
  return (conn, caller) => {
    const done = <T>(action: string, target: string, fn: () => Promise<T>): Promise<T> =>
      fn().then(
        (result) => {
          audit(action, { uid: caller.uid, user: caller.user, target, result: 'ok' });
          watcher.poke();
          return result;
        },
        (err) => {
          audit(action, {
            uid: caller.uid,
            user: caller.user,
            target,
            result: 'refused',
            reason: (err as Error).message,
          });
          throw err;
        },
      );

    conn.onRequest(PinNamespace, (params) => {
      const p = parsePin(params);
      const target = p.pid !== undefined ? `pid:${p.pid}` : nsId({ type: p.type, inode: p.inode! });
      return done(PinNamespace.method, `${p.type}/${p.name} ${target}`, async (): Promise<PinResult> => {
        const opened =
          p.pid !== undefined
            ? openProcessNamespaces(p.pid, [p.type], p.inode === undefined ? {} : { [p.type]: p.inode }).opened[0]
            : await openDiscovered(scanner, { type: p.type, inode: p.inode! });
        try {
          return { type: p.type, inode: opened.inode, pin: pins.pin(opened, p.name, caller) };
        } finally {
          closeQuietly(opened.fd);
        }
      });
    });

    conn.onRequest(CreateNamespace, (params) => {
      const p = parseCreate(params);
      return done(CreateNamespace.method, `${p.type}/${p.name}`, () => pins.create(p.type, p.name, caller));
    });

    conn.onRequest(UnpinNamespace, (params) => {
      const p = parseUnpin(params);
      return done(
        UnpinNamespace.method,
        `${p.type}/${p.name}${p.force ? ' (forced)' : ''}`,
        async (): Promise<UnpinResult> => {
          const key = pins.unpin(p.type, p.name, caller, p.force);
          const ns = (await scanner.scan()).snapshot.namespaces.find(
            (n) => n.type === key.type && n.inode === key.inode,
          );
          return { ...key, remaining: { processes: ns?.pids.length ?? 0, holders: ns?.holders ?? [] } };
        },
      );
    });

    conn.onRequest(ListPins, async () => {
      const { snapshot } = await scanner.scan();
      return snapshot.namespaces
        .filter((ns) => ns.pins.length > 0)
        .map((ns) => ({ type: ns.type, inode: ns.inode, pins: ns.pins }));
    });
  };
}
