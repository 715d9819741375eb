// Notifications queued for one connection, counted by nsxd itself: the
// socket's own buffer does not see what vscode-jsonrpc holds back, and a
// client's acknowledgements cannot be trusted to bound nsxd's memory. Output
// pauses while the queue is long; a connection whose queue grows past a hard
// cap is not reading at all and is closed.
import type { MessageConnection, NotificationType } from 'vscode-jsonrpc/node';

const HIGH_WATER = 2 * 1024 * 1024;
const LOW_WATER = 512 * 1024;
const HARD_CAP = 64 * 1024 * 1024;

export class Outbox {
  private queued = 0;
  private readonly drained = new Set<() => void>();

  constructor(
    private readonly conn: MessageConnection,
    private readonly close: (reason: string) => void,
  ) {}

  /** Queues a notification of about `bytes` bytes; false once the connection is given up on. */
  send<P>(type: NotificationType<P>, params: P, bytes: number): boolean {
    if (this.queued > HARD_CAP) {
      this.close(`the client read none of ${HARD_CAP / 1024 / 1024} MiB of notifications`);
      return false;
    }
    this.queued += bytes;
    let sent: Promise<void>;
    try {
      sent = this.conn.sendNotification(type, params);
    } catch {
      return false; // disposed: the connection is closing
    }
    void sent
      .catch(() => undefined)
      .then(() => {
        this.queued -= bytes;
        if (this.queued <= LOW_WATER) for (const fn of this.drained) fn();
      });
    return true;
  }

  /** More output should wait until onDrain calls back. */
  get congested(): boolean {
    return this.queued > HIGH_WATER;
  }

  onDrain(fn: () => void): () => void {
    this.drained.add(fn);
    return () => this.drained.delete(fn);
  }
}
