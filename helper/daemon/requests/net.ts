// The network area: net/list, net/subscribe, net/unsubscribe. Any member may
// see every namespace's wiring, as they may list every namespace and read
// its details (membership is root-equivalent); outsiders are refused at
// connect, before any request.
import {
  ListNet,
  NetChangedNotification,
  parseNetList,
  ReadNetCounters,
  SubscribeNet,
  UnsubscribeNet,
} from '../../common/net';
import { readCounters } from '../discovery/netCounters';
import type { Watcher } from '../discovery/watch';
import type { NetWatch } from '../discovery/netWatch';
import type { Area } from '../rpc/server';
import { subscription } from './subscription';
import { ResponseError } from 'vscode-jsonrpc/node';
import { ErrorCodes } from '../../common/protocol';

const MAX_LISTS_AT_ONCE = 2;

export function netArea(net: NetWatch, watcher: Watcher): Area {
  return (conn, _caller, onClose, outbox) => {
    // Each answer is every namespace's wiring (a megabyte at 500): a few at a time per connection.
    let listing = 0;
    conn.onRequest(ListNet, async (params) => {
      const { inodes } = parseNetList(params);
      if (listing >= MAX_LISTS_AT_ONCE)
        throw new ResponseError(ErrorCodes.LimitExceeded, `at most ${MAX_LISTS_AT_ONCE} net/list requests at a time`);
      listing++;
      try {
        return await net.list(inodes);
      } finally {
        listing--;
      }
    });

    // Counters of the namespaces asked for (all, when none are): one read of /proc/PID/net/dev each.
    conn.onRequest(ReadNetCounters, async (params) => {
      const { inodes } = parseNetList(params);
      // The model process events keep (no scan): the pids it names are checked as each is read through.
      const snapshot = await watcher.current(false);
      return { namespaces: readCounters(snapshot.namespaces, inodes) };
    });

    const wiring = subscription(
      outbox,
      NetChangedNotification,
      (listener) => net.subscribe(listener),
      (listener) => net.unsubscribe(listener),
      onClose,
    );
    conn.onRequest(SubscribeNet, () => wiring.subscribe());
    conn.onRequest(UnsubscribeNet, () => {
      wiring.unsubscribe();
      return null;
    });
  };
}
