// namespaces/subscribe: one scan loop shared by every subscriber, running
// only while someone subscribes, pushing what changed since the last scan.
// Process events start a scan at once; a slow rescan catches the rest.
import { Namespace, NamespaceChange, NamespacesChanged, Process, Snapshot, nsId } from '../../common/protocol';
import { ProcEvents } from './events';
import type { Scanner } from './scanner';

/** Gets each change with its size as JSON, measured once for every listener. */
type Listener = (change: NamespacesChanged, bytes: number) => void;

const MIN_INTERVAL_MS = 500;
/** After a process event, how long to wait for the ones that come with it (a fork, then an exec). */
const EVENT_DELAY_MS = 30;
/** With process events to tell of changes, the full rescan is only for what they do not show. */
const RESCAN_WITH_EVENTS_MS = 10_000;

export class Watcher {
  private listeners = new Map<Listener, number>();
  private timer: NodeJS.Timeout | undefined;
  /** When the timer fires. */
  private timerDue = 0;
  /** The newest scan, whoever asked for it: what every subscriber's copy is now. */
  private last: Snapshot | undefined;
  private lastScanMs = 0;
  private lastScanEnd = 0;
  private readonly events = new ProcEvents();

  constructor(private readonly scanner: Scanner) {
    scanner.onScan = (model) => this.scanned(model.snapshot);
  }

  /**
   * The snapshot the subscriber starts from. Every change pushed after it is
   * diffed against it, never against an older scan, so that pids added and
   * removed add up to exactly what nsxd sees.
   */
  async subscribe(listener: Listener, intervalMs: number): Promise<Snapshot> {
    this.events.start(() => this.nudge());
    await this.scanner.model(MIN_INTERVAL_MS);
    this.listeners.set(listener, Math.max(MIN_INTERVAL_MS, intervalMs));
    this.schedule();
    return this.last!;
  }

  unsubscribe(listener: Listener): void {
    this.listeners.delete(listener);
    if (this.listeners.size === 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.events.stop();
    }
  }

  /** Scan now rather than at the next tick, after nsxd itself changed something (a pin, a session). */
  poke(): void {
    if (this.listeners.size === 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    void this.tick();
  }

  /** A process started, exec'd or exited: scan soon, but still never more than a fifth of the time. */
  private nudge(): void {
    if (this.listeners.size === 0) return;
    const wait = Math.max(EVENT_DELAY_MS, this.lastScanMs * 4 - (Date.now() - this.lastScanEnd));
    if (this.timer && this.timerDue <= Date.now() + wait) return;
    if (this.timer) clearTimeout(this.timer);
    this.arm(wait);
  }

  private arm(ms: number): void {
    this.timerDue = Date.now() + ms;
    this.timer = setTimeout(() => { this.timer = undefined; void this.tick(); }, ms);
    this.timer.unref();
  }

  private schedule(lastScanMs = 0): void {
    if (this.timer || this.listeners.size === 0) return;
    // Never spend more than a fifth of the time scanning, however many processes there are.
    const asked = Math.min(...this.listeners.values());
    const interval = Math.max(this.events.live ? Math.max(asked, RESCAN_WITH_EVENTS_MS) : asked, lastScanMs * 5);
    this.arm(interval);
  }

  private async tick(): Promise<void> {
    try {
      await this.scanner.scan();
    } catch {
      this.schedule(1000);
      return;
    }
    this.schedule(this.lastScanMs);
  }

  /** Every scan, the poll's or a request's, goes to the subscribers as what changed since the one before. */
  private scanned(snapshot: Snapshot): void {
    const before = this.last;
    this.last = snapshot;
    this.lastScanMs = snapshot.scanMs;
    this.lastScanEnd = Date.now();
    if (!before || this.listeners.size === 0) return;
    const change = diff(before, snapshot);
    if (!change) return;
    const bytes = JSON.stringify(change).length;
    for (const listener of this.listeners.keys()) listener(change, bytes);
  }
}

/** What changed between two snapshots; undefined when nothing did. */
export function diff(before: Snapshot, after: Snapshot): NamespacesChanged | undefined {
  const change: NamespacesChanged = {
    added: [], changed: [], removed: [],
    processesAdded: [], processesChanged: [], processesRemoved: [],
    scanMs: after.scanMs,
  };
  const oldNs = new Map<string, Namespace>(before.namespaces.map((ns) => [nsId(ns), ns]));
  for (const ns of after.namespaces) {
    const old = oldNs.get(nsId(ns));
    oldNs.delete(nsId(ns));
    if (!old) change.added.push(ns);
    else {
      const nsChange = namespaceChange(old, ns);
      if (nsChange) change.changed.push(nsChange);
    }
  }
  change.removed = [...oldNs.values()].map(({ type, inode }) => ({ type, inode }));
  const oldProc = new Map<number, Process>(before.processes.map((p) => [p.pid, p]));
  for (const p of after.processes) {
    const old = oldProc.get(p.pid);
    oldProc.delete(p.pid);
    if (!old) change.processesAdded.push(p);
    else if (JSON.stringify(old) !== JSON.stringify(p)) change.processesChanged.push(p);
  }
  change.processesRemoved = [...oldProc.keys()];
  if (JSON.stringify(before.containers) !== JSON.stringify(after.containers)) change.containers = after.containers;
  const empty = !change.added.length && !change.changed.length && !change.removed.length &&
    !change.processesAdded.length && !change.processesChanged.length && !change.processesRemoved.length && !change.containers;
  return empty ? undefined : change;
}

/** The pids that joined and left a namespace, with its other fields as now; undefined when none changed. */
function namespaceChange(before: Namespace, after: Namespace): NamespaceChange | undefined {
  const { pids: oldPids, ...oldRest } = before;
  const { pids, ...rest } = after;
  let pidsAdded: number[] = [];
  let pidsRemoved: number[] = [];
  // Scans list an unchanged namespace's pids in the same order: only a changed one pays for sets.
  if (oldPids.length !== pids.length || oldPids.some((pid, i) => pid !== pids[i])) {
    const had = new Set(oldPids);
    const has = new Set(pids);
    pidsAdded = pids.filter((pid) => !had.has(pid));
    pidsRemoved = oldPids.filter((pid) => !has.has(pid));
  }
  if (!pidsAdded.length && !pidsRemoved.length && JSON.stringify(oldRest) === JSON.stringify(rest)) return undefined;
  return { ...rest, pidsAdded, pidsRemoved };
}
