// namespaces/subscribe: one model shared by every subscriber, kept only
// while someone subscribes, pushing what changed since the last scan. The
// processes that process events name are read again at once (an update);
// a slow full rescan catches what events do not show.
import { Namespace, NamespaceChange, NamespacesChanged, Process, Snapshot } from '../../common/protocol';
import { ProcEvents } from './events';
import type { Scanner } from './scanner';
import type { Model } from './snapshot';

/** Gets each change with its size as JSON, measured once for every listener. */
type Listener = (change: NamespacesChanged, bytes: number) => void;

const MIN_INTERVAL_MS = 500;
/** After a process event, how long to wait for the ones that come with it (a fork, then an exec). */
const EVENT_DELAY_MS = 25;
/**
 * Without events, full rescans are all there is: as often as the subscriber
 * asked, but never more than 1 in RESCAN_SHARE of the time. With events they
 * are only for what events do not show (setns or unshare without exec, an fd
 * opened, a mount in another mount namespace): every RESCAN_WITH_EVENTS_MS at
 * most, and never more than RESCAN_CPU_WITH_EVENTS of one core (the scan
 * workers' time counts), so that an open view costs next to nothing when
 * nothing changes, however big the host. The Refresh command (namespaces/list)
 * scans at once.
 */
const RESCAN_SHARE = 5;
const RESCAN_WITH_EVENTS_MS = 30_000;
const RESCAN_CPU_WITH_EVENTS = 0.002;
/**
 * Updates, however many events come, are held to 1 in UPDATE_SHARE of the
 * time; a few in a row (a fork, then its exec, then another) may run at once,
 * up to UPDATE_BURST_MS of them, so that one change after a quiet spell never
 * waits for the share.
 */
const UPDATE_SHARE = 5;
const UPDATE_BURST_MS = 250;

export class Watcher {
  private listeners = new Map<Listener, number>();
  /** The next full rescan, and when it is due. */
  private rescan: NodeJS.Timeout | undefined;
  private rescanDue = 0;
  /** What the last full scan took, in time and in CPU time (all threads), and when it ended. */
  private fullMs = 0;
  private fullCpuMs = 0;
  private fullEnd = 0;
  /** The next update, for the processes events named since the last. */
  private update: NodeJS.Timeout | undefined;
  private touched = new Set<number>();
  /** Update time nsxd may spend now: earned at 1 ms each UPDATE_SHARE ms, up to UPDATE_BURST_MS; below 0, updates wait. */
  private credit = UPDATE_BURST_MS;
  private creditAt = Date.now();
  /** The newest scan, whoever asked for it: what every subscriber's copy is now. */
  private last: Snapshot | undefined;
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
    // Listening before the scan: a process that starts while it runs is read again after it. Events
    // nobody listened to are lost: updates must patch a scan that began after listening did.
    const listening = this.events.live;
    this.events.start((pids, lost) => this.evented(pids, lost));
    if (listening) await this.scanner.model(MIN_INTERVAL_MS);
    else await this.measured(this.scanner.scan());
    this.listeners.set(listener, Math.max(MIN_INTERVAL_MS, intervalMs));
    this.scheduleRescan();
    return this.last!;
  }

  unsubscribe(listener: Listener): void {
    this.listeners.delete(listener);
    if (this.listeners.size === 0) {
      clearTimeout(this.rescan);
      clearTimeout(this.update);
      this.rescan = this.update = undefined;
      this.touched.clear();
      this.events.stop();
    }
  }

  /** A full scan now rather than at the next rescan, after nsxd itself changed something (a pin, a session). */
  poke(): void {
    if (this.listeners.size === 0) return;
    clearTimeout(this.rescan);
    this.rescan = undefined;
    void this.fullScan();
  }

  /** Processes started, exec'd, exited: read them again soon, within the updates' share of the time. */
  private evented(pids: number[], lost: boolean): void {
    if (this.listeners.size === 0) return;
    if (lost) this.lostEvents();
    for (const pid of pids) this.touched.add(pid);
    if (this.update) return;
    const wait = Math.max(EVENT_DELAY_MS, -this.earned() * UPDATE_SHARE);
    this.update = setTimeout(() => void this.runUpdate(), wait);
    this.update.unref();
  }

  private earned(): number {
    const now = Date.now();
    this.credit = Math.min(UPDATE_BURST_MS, this.credit + (now - this.creditAt) / UPDATE_SHARE);
    this.creditAt = now;
    return this.credit;
  }

  private async runUpdate(): Promise<void> {
    const pids = this.touched;
    this.touched = new Set();
    let ms = 1000; // /proc failed us: the next try waits
    try {
      ms = (await this.scanner.update(pids)).snapshot.scanMs;
    } catch {
      // counted as above
    }
    this.earned();
    this.credit -= ms;
    this.update = undefined;
    if (this.touched.size > 0 && this.listeners.size > 0) this.evented([], false);
  }

  /**
   * The kernel dropped events (its socket buffer overran): no list of pids is
   * the whole story, so a full scan comes as soon as the share of the time
   * full scans may take without events allows. A fork storm that overruns the
   * buffer again and again gets no more than that.
   */
  private lostEvents(): void {
    const wait = Math.max(0, this.fullEnd + this.fullMs * (RESCAN_SHARE - 1) - Date.now());
    if (this.rescan && this.rescanDue <= Date.now() + wait) return;
    clearTimeout(this.rescan);
    this.armRescan(wait);
  }

  private scheduleRescan(): void {
    if (this.rescan || this.listeners.size === 0) return;
    const asked = Math.min(...this.listeners.values());
    this.armRescan(this.events.live ? Math.max(RESCAN_WITH_EVENTS_MS, this.fullCpuMs / RESCAN_CPU_WITH_EVENTS) : Math.max(asked, this.fullMs * RESCAN_SHARE));
  }

  private armRescan(ms: number): void {
    this.rescanDue = Date.now() + ms;
    this.rescan = setTimeout(() => { this.rescan = undefined; void this.fullScan(); }, ms);
    this.rescan.unref();
  }

  private async fullScan(): Promise<void> {
    try {
      await this.measured(this.scanner.scan());
    } catch {
      this.fullMs = this.fullCpuMs = 1000; // tried again after the share of a second, or the asked interval
    }
    this.scheduleRescan();
  }

  /** Awaits a full scan, keeping what it cost. */
  private async measured(scan: Promise<Model>): Promise<void> {
    const cpu = process.cpuUsage();
    this.fullMs = (await scan).snapshot.scanMs;
    const used = process.cpuUsage(cpu);
    this.fullCpuMs = (used.user + used.system) / 1000;
    this.fullEnd = Date.now();
  }

  /** Every scan and update, the watcher's or a request's, goes to the subscribers as what changed since the one before. */
  private scanned(snapshot: Snapshot): void {
    const before = this.last;
    this.last = snapshot;
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
  // By inode: no two namespaces that exist at once share one, whatever their types.
  const oldNs = new Map<number, Namespace>(before.namespaces.map((ns) => [ns.inode, ns]));
  for (const ns of after.namespaces) {
    const old = oldNs.get(ns.inode);
    if (old?.type !== ns.type) change.added.push(ns);
    else {
      oldNs.delete(ns.inode);
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
    else if (!same(old, p)) change.processesChanged.push(p);
  }
  change.processesRemoved = [...oldProc.keys()];
  if (!same(before.containers, after.containers)) change.containers = after.containers;
  const empty = !change.added.length && !change.changed.length && !change.removed.length &&
    !change.processesAdded.length && !change.processesChanged.length && !change.processesRemoved.length && !change.containers;
  return empty ? undefined : change;
}

/** The pids that joined and left a namespace, with its other fields as now; undefined when none changed. */
function namespaceChange(before: Namespace, after: Namespace): NamespaceChange | undefined {
  const { pidsAdded, pidsRemoved } = pidsDiff(before.pids, after.pids);
  if (!pidsAdded.length && !pidsRemoved.length && same(before, after, 'pids')) return undefined;
  const { pids: _pids, ...rest } = after;
  return { ...rest, pidsAdded, pidsRemoved };
}

/**
 * The pids in AFTER and not BEFORE, and the other way. Scans list a
 * namespace's pids in the same order, so what they share at the start and the
 * end is passed over first: a fork in the host's namespaces of 20,000
 * processes pays for sets of what changed, not of 20,000.
 */
function pidsDiff(before: number[], after: number[]): { pidsAdded: number[]; pidsRemoved: number[] } {
  let start = 0;
  while (start < before.length && start < after.length && before[start] === after[start]) start++;
  let endBefore = before.length;
  let endAfter = after.length;
  while (endBefore > start && endAfter > start && before[endBefore - 1] === after[endAfter - 1]) {
    endBefore--;
    endAfter--;
  }
  if (start === endBefore && start === endAfter) return { pidsAdded: [], pidsRemoved: [] };
  // Pids are unique in each list: one in the shared start or end cannot be in the middle of the other.
  const had = new Set(before.slice(start, endBefore));
  const has = new Set(after.slice(start, endAfter));
  return { pidsAdded: [...has].filter((pid) => !had.has(pid)), pidsRemoved: [...had].filter((pid) => !has.has(pid)) };
}

/**
 * Whether two values made of JSON's kinds are equal, as their JSON would be
 * (a key set to undefined is one left out), without writing the JSON: a scan
 * of 20,000 processes compares each of them. SKIP is a key of the top level
 * to leave out.
 */
function same(a: unknown, b: unknown, skip?: string): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((x, i) => same(x, (b as unknown[])[i]));
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const k in x) if (k !== skip && !same(x[k], y[k])) return false;
  for (const k in y) if (k !== skip && !(k in x) && y[k] !== undefined) return false;
  return true;
}
