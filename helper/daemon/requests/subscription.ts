// One subscription of a connection (to the namespace model, to the wiring):
// the answer to subscribe first, then every change after it, in order, until
// unsubscribe or the connection's end. Said once for every area that has one.
import type { NotificationType } from 'vscode-jsonrpc';
import type { Outbox } from '../rpc/outbox';

export type Listener<C> = (change: C, bytes: number) => void;

export interface Subscription<A> {
  subscribe(): Promise<A>;
  unsubscribe(): void;
}

export function subscription<C, A>(
  outbox: Outbox,
  notification: NotificationType<C>,
  start: (listener: Listener<C>) => Promise<A>,
  stop: (listener: Listener<C>) => void,
  onClose: (fn: () => void) => void,
): Subscription<A> {
  let listener: Listener<C> | undefined;
  const unsubscribe = () => {
    if (listener) stop(listener);
    listener = undefined;
  };
  onClose(unsubscribe);
  return {
    unsubscribe,
    async subscribe() {
      unsubscribe();
      // Changes are to what this answers with: none may reach the client before it.
      let early: (() => void)[] | undefined = [];
      const mine: Listener<C> = (listener = (change, bytes) => {
        if (early) early.push(() => mine(change, bytes));
        else outbox.send(notification, change, bytes);
      });
      const answer = await start(mine);
      // The answer is written once the handler's promise settles; the held changes go after it.
      setImmediate(() => {
        const held = early!;
        early = undefined;
        if (listener === mine) for (const send of held) send();
      });
      return answer;
    },
  };
}
