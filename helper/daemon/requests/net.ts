// The network area: net/list, net/subscribe, net/unsubscribe. Any member may
// see every namespace's wiring, as they may list every namespace and read
// its details (membership is root-equivalent); outsiders are refused at
// connect, before any request.
import { ListNet, NetChangedNotification, parseNetList, SubscribeNet, UnsubscribeNet } from '../../common/net';
import type { NetListener, NetWatch } from '../discovery/netWatch';
import type { Area } from '../rpc/server';

export function netArea(net: NetWatch): Area {
  return (conn, _caller, onClose, outbox) => {
    conn.onRequest(ListNet, (params) => net.list(parseNetList(params).inodes));

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
