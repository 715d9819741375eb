// The discovery area: namespaces/list, namespaces/print, namespaces/subscribe, namespaces/details.
import { ResponseError } from 'vscode-jsonrpc/node';
import { cutNotice, listTable } from '../../common/format';
import { readDetails } from '../discovery/details';
import { portsSection } from '../discovery/ports';
import { runInside } from '../kernel/inside';
import type { Scanner } from '../discovery/scanner';
import {
  ErrorCodes,
  ListNamespaces,
  NamespaceDetails,
  NamespacesChangedNotification,
  nsId,
  parseDetails,
  parseList,
  parsePrint,
  parseSubscribe,
  PrintNamespaces,
  Subscribe,
  Unsubscribe,
} from '../../common/protocol';
import type { Area } from '../rpc/server';
import type { Watcher } from '../discovery/watch';

const MAX_DETAILS_AT_ONCE = 4;

export function namespacesArea(scanner: Scanner, watcher: Watcher): Area {
  return (conn, _caller, onClose, outbox) => {
    conn.onRequest(ListNamespaces, (params) => watcher.current(parseList(params).rescan === true));
    conn.onRequest(PrintNamespaces, async (params) => {
      const { types, rescan, ...layout } = parsePrint(params);
      const snapshot = await watcher.current(rescan === true);
      return { text: listTable(snapshot, types, layout), ...(snapshot.cut ? { notice: cutNotice(snapshot.cut) } : {}) };
    });

    let listener: Parameters<Watcher['subscribe']>[0] | undefined;
    const unsubscribe = () => {
      if (listener) watcher.unsubscribe(listener);
      listener = undefined;
    };
    conn.onRequest(Subscribe, async (params) => {
      const { intervalMs } = parseSubscribe(params);
      unsubscribe();
      // Changes are to the snapshot this answers with: none may reach the client before it.
      let early: (() => void)[] | undefined = [];
      const mine = (listener = (change, bytes) => {
        if (early) early.push(() => mine(change, bytes));
        else outbox.send(NamespacesChangedNotification, change, bytes);
      });
      const snapshot = await watcher.subscribe(listener, intervalMs);
      // The answer is written once this handler's promise settles; the held changes go after it.
      setImmediate(() => {
        const held = early!;
        early = undefined;
        if (listener === mine) for (const send of held) send();
      });
      return snapshot;
    });
    conn.onRequest(Unsubscribe, () => {
      unsubscribe();
      return null;
    });
    onClose(unsubscribe);

    // Each details request may start a root nsx-exec: a few at a time per connection.
    let reading = 0;
    conn.onRequest(NamespaceDetails, async (params) => {
      const key = parseDetails(params);
      if (reading >= MAX_DETAILS_AT_ONCE)
        throw new ResponseError(ErrorCodes.LimitExceeded, `at most ${MAX_DETAILS_AT_ONCE} details requests at a time`);
      reading++;
      try {
        const found = await scanner.find(key, (ns, model) => ({ ns, model }));
        // Whether it never existed or has gone, nothing holds it now: say what is known, not which.
        if (!found)
          throw new ResponseError(
            ErrorCodes.NotFound,
            `there is no ${nsId(key)} now: no process, fd or mount holds it (nsx list shows those there are)`,
          );
        const details = await readDetails(found.ns, (ns, command, cat) => runInside(found.model, ns, command, cat));
        if (found.ns.type === 'net')
          details.sections.push(
            await portsSection(found.ns, found.model, (ns, f) => runInside(found.model, ns, f, true)),
          );
        return details;
      } finally {
        reading--;
      }
    });
  };
}
