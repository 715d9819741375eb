// The network area: net/list, net/subscribe, net/unsubscribe. Any member may
// see every namespace's wiring, as they may list every namespace and read
// its details (membership is root-equivalent); outsiders are refused at
// connect, before any request.
import { ListNet, NetChangedNotification, parseNetList, SubscribeNet, UnsubscribeNet } from '../../common/net';
import type { NetListener, NetWatch } from '../discovery/netWatch';
import type { Area } from '../rpc/server';
import { ResponseError } from 'vscode-jsonrpc/node';
import { ErrorCodes } from '../../common/protocol';

const MAX_LISTS_AT_ONCE = 2;

export function netArea(net: NetWatch): Area {
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

    let listener: NetListener | undefined;
    const unsubscribe = () => {
      if (listener) net.unsubscribe(listener);
      listener = undefined;
    };
    conn.onRequest(SubscribeNet, async () => {
      unsubscribe();
      // Changes are to the list this answers with: none may reach the client before it.
      let early: (() => void)[] | undefined = [];
      const mine: NetListener = (listener = (change, bytes) => {
        if (early) early.push(() => mine(change, bytes));
        else outbox.send(NetChangedNotification, change, bytes);
      });
      const list = await net.subscribe(mine);
      setImmediate(() => {
        const held = early!;
        early = undefined;
        if (listener === mine) for (const send of held) send();
      });
      return list;
    });
    conn.onRequest(UnsubscribeNet, () => {
      unsubscribe();
      return null;
    });
    onClose(unsubscribe);
  };
}
