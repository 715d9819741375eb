// The kernel's process events (the netlink proc connector): a fork, exec or
// exit anywhere is the cue to scan again, so that the views change within
// milliseconds of a process starting or ending, and nsxd need not poll often.
// What events do not show (setns or unshare without exec, a mount) is left to
// the watcher's slow rescan.
import { closeSync } from 'node:fs';
import * as libc from '../../../native/libc';

/** How long one blocked read waits before it looks whether it should stop. */
const READ_TIMEOUT_MS = 250;
const CHANGES = libc.PROC_EVENT.FORK | libc.PROC_EVENT.EXEC | libc.PROC_EVENT.EXIT | libc.PROC_EVENT.COMM;

export class ProcEvents {
  private fd: number | undefined;
  private running = false;

  /** Starts listening; false where the connector is not there (no CAP_NET_ADMIN, an old kernel, a sandbox). */
  start(onChange: () => void): boolean {
    if (this.running) return true;
    try {
      this.fd = libc.openProcEvents(READ_TIMEOUT_MS);
    } catch {
      return false;
    }
    this.running = true;
    void this.loop(this.fd, onChange);
    return true;
  }

  stop(): void {
    // The reader sees this within READ_TIMEOUT_MS and closes the socket itself: a close under a blocked recv would not wake it.
    this.running = false;
  }

  get live(): boolean {
    return this.running;
  }

  private async loop(fd: number, onChange: () => void): Promise<void> {
    const buf = Buffer.alloc(64 * 1024);
    try {
      while (this.running && this.fd === fd) {
        const kinds = await libc.readProcEvents(fd, buf);
        if (this.running && kinds.some((k) => (k & CHANGES) !== 0)) onChange();
      }
    } catch {
      this.running = false; // the socket failed: the watcher polls as before
    } finally {
      closeSync(fd);
      if (this.fd === fd) this.fd = undefined;
    }
  }
}
