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
  Snapshot,
  Subscribe,
  toWire,
  Unsubscribe,
  WireSnapshot,
} from '../../common/protocol';
import { JsonResult } from '../../common/rpcWriter';
import { collectGarbage } from '../memory';
import type { Area } from '../rpc/server';
import { subscription } from './subscription';
import type { Watcher } from '../discovery/watch';
import { netDetails } from '../discovery/netDetails';
import type { NetWatch } from '../discovery/netWatch';

const MAX_DETAILS_AT_ONCE = 4;
/** How long the last list's JSON is kept after its last answer: for a burst of callers, not an idle host's memory. */
const LIST_JSON_MS = 2000;
/** A list's JSON this big is let go with a collection (memory.ts): it and the garbage of making it are megabytes. */
const BIG_JSON = 1024 * 1024;

export function namespacesArea(scanner: Scanner, watcher: Watcher, net?: NetWatch): Area {
  const listJson = lastJson();
  return (conn, _caller, onClose, outbox) => {
    // Every caller gets the whole model (what a member may see is all of it): one JSON for the callers of one model.
    conn.onRequest(ListNamespaces, (params) => listJson(watcher.current(parseList(params).rescan === true)));
    conn.onRequest(PrintNamespaces, async (params) => {
      const { types, rescan, ...layout } = parsePrint(params);
      const snapshot = await watcher.current(rescan === true);
      return { text: listTable(snapshot, types, layout), ...(snapshot.cut ? { notice: cutNotice(snapshot.cut) } : {}) };
    });

    let intervalMs = 0;
    const model = subscription(
      outbox,
      NamespacesChangedNotification,
      async (listener) => toWire(await watcher.subscribe(listener, intervalMs)),
      (listener) => watcher.unsubscribe(listener),
      onClose,
    );
    conn.onRequest(Subscribe, (params) => {
      intervalMs = parseSubscribe(params).intervalMs;
      return model.subscribe();
    });
    conn.onRequest(Unsubscribe, () => {
      model.unsubscribe();
      return null;
    });

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
        const details = await readDetails(
          found.ns,
          (ns, command, cat) => runInside(found.model, ns, command, cat),
          net && ((ns) => netDetails(net, ns, found.model)),
        );
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

/**
 * The JSON of the last snapshot answered, written once for the answers of it
 * and kept LIST_JSON_MS: the rpc writer writes a JsonResult's bytes as the
 * result, so the snapshot's type is what the request says it answers.
 */
function lastJson(): (snapshot: Promise<Snapshot>) => Promise<WireSnapshot> {
  let last: { snapshot: Snapshot; result: JsonResult } | undefined;
  let timer: NodeJS.Timeout | undefined;
  return async (pending) => {
    const snapshot = await pending;
    // A model's snapshot is never changed once made: an update makes a new one.
    if (last?.snapshot !== snapshot) last = { snapshot, result: new JsonResult(toWire(snapshot)) };
    clearTimeout(timer);
    timer = setTimeout(() => {
      const big = last!.result.json.length >= BIG_JSON;
      last = undefined;
      if (big) collectGarbage();
    }, LIST_JSON_MS).unref();
    return last.result as unknown as WireSnapshot;
  };
}
