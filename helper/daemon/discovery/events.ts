// The kernel's process events (the netlink proc connector): each fork, exec,
// uid change, rename and exit names the process it concerns, so that the
// watcher re-reads just those processes, within milliseconds, instead of
// every process the host has. What events do not show (setns or unshare
// without exec, a mount, an fd opened) is left to the watcher's slow rescan.
import { closeSync } from 'node:fs';
import * as libc from '../../../native/libc';

/** How long one blocked read waits before it looks whether it should stop. */
const READ_TIMEOUT_MS = 1000;
const CHANGES =
  libc.PROC_EVENT.FORK | libc.PROC_EVENT.EXEC | libc.PROC_EVENT.UID | libc.PROC_EVENT.COMM | libc.PROC_EVENT.EXIT;

/** The processes some events concerned; `lost` when the kernel dropped events, so that no list of pids can be trusted. */
export type OnEvents = (pids: number[], lost: boolean) => void;

export class ProcEvents {
  private fd: number | undefined;
  private running = false;

  /** Starts listening; false where the connector is not there (no CAP_NET_ADMIN, an old kernel, a sandbox). */
  start(onEvents: OnEvents): boolean {
    if (this.running) return true;
    try {
      this.fd = libc.openProcEvents(READ_TIMEOUT_MS);
    } catch {
      return false;
    }
    this.running = true;
    void this.loop(this.fd, onEvents);
    return true;
  }

  stop(): void {
    // The reader sees this within READ_TIMEOUT_MS and closes the socket itself: a close under a blocked recv would not wake it.
    this.running = false;
  }

  get live(): boolean {
    return this.running;
  }

  private async loop(fd: number, onEvents: OnEvents): Promise<void> {
    const buf = Buffer.alloc(64 * 1024);
    /** The last seq each CPU sent: the next must follow it, or events were lost. */
    const seqs = new Map<number, number>();
    try {
      while (this.running && this.fd === fd) {
        const events = await libc.readProcEvents(fd, buf);
        const pids: number[] = [];
        let lost = false;
        for (const e of events) {
          const last = seqs.get(e.cpu);
          if (last !== undefined && e.seq !== (last + 1) >>> 0) lost = true;
          seqs.set(e.cpu, e.seq);
          if ((e.what & CHANGES) !== 0 && e.pid > 0) pids.push(e.pid);
        }
        if (this.running && (pids.length > 0 || lost)) onEvents(pids, lost);
      }
    } catch {
      this.running = false; // the socket failed: told as lost events, so that lists scan again (and the next starts a new socket)
      onEvents([], true);
    } finally {
      closeSync(fd);
      if (this.fd === fd) this.fd = undefined;
    }
  }
}
