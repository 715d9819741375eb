// The model the kernel's process events keep true: shared by every
// subscriber (pushed to them as what changed) and by list requests, which
// need no scan of /proc when nothing changed. While someone subscribes, the
// processes events name are read again at once (an update); with nobody
// subscribed they are read when the next list asks. A slow full rescan
// catches what events do not show.
import type { NamespacesChanged, Snapshot } from '../../common/protocol';
import { diff, ModelPatch, ProcessPatch } from './diff';
import { OnEvents, ProcEvents } from './events';
import type { FullScanWhy, Scanner } from './scanner';

/** What the watcher asks of the scanner: full scans, updates of a few processes, the engines' containers. */
export type ScanSource = Pick<Scanner, 'scan' | 'update' | 'refreshContainers'>;
/** The kernel's process events, as ProcEvents gives them. */
export type EventSource = Pick<ProcEvents, 'live' | 'stop'> & { start(onEvents: OnEvents): boolean };

/** A timer of a Clock's, for its cancel. */
export type Timer = object;

/** The time, timers and CPU time the schedule reads: the process's own, or a test's. */
export interface Clock {
  now(): number;
  /** Calls FN in MS, without keeping nsxd alive for it. */
  after(fn: () => void, ms: number): Timer;
  cancel(timer: Timer | undefined): void;
  /** The CPU time the process has used so far, all threads, in ms. */
  cpuMs(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after: (fn, ms) => setTimeout(fn, ms).unref(),
  cancel: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
  cpuMs: () => {
    const used = process.cpuUsage();
    return (used.user + used.system) / 1000;
  },
};

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
 * most, and never more than RESCAN_CPU_WITH_EVENTS of one core (by the CPU
 * time the last one took), so that an open view costs next to nothing when
 * nothing changes, however big the host. A list asked to rescan (the Refresh
 * command, nsx list --rescan) shares the full scan that runs, if one does;
 * else it gets one of its own if that keeps the full scans asked for to 1 in
 * RESCAN_SHARE of the time (askedScanDue), and otherwise the model: the last
 * full scan with every process events named since read again. Any member
 * may ask in a loop, on many connections, and nsxd's one thread is
 * everyone's: so the rule is one for every caller, root too, not one per
 * uid, which would give each uid that share.
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
/**
 * After the last list, or the last subscriber's leaving, events are listened
 * to this long (their pids only noted) so that the next list costs what
 * changed, not a scan: `nsx list` run again and again, a view hidden and shown.
 */
const LINGER_MS = 10 * 60_000;
/** Pids noted with nobody subscribed, beyond which the next list scans all of /proc instead. */
const MAX_NOTED = 4096;

export class Watcher {
  private listeners = new Map<Listener, number>();
  /** The next full rescan, and when it is due. */
  private rescan: Timer | undefined;
  private rescanDue = 0;
  /** What the last full scan took, in time and in CPU time (all threads), and when it ended. */
  private fullMs = 0;
  private fullCpuMs = 0;
  private fullEnd = 0;
  /** The full scan that runs, which a list asked to rescan meanwhile shares. */
  private scanning: Promise<void> | undefined;
  /** The next update, for the processes events named since the last; the one that runs. */
  private update: Timer | undefined;
  private updating: Promise<void> | undefined;
  private touched = new Set<number>();
  /** Update time nsxd may spend now: earned at 1 ms each UPDATE_SHARE ms, up to UPDATE_BURST_MS; below 0, updates wait. */
  private credit = UPDATE_BURST_MS;
  private creditAt: number;
  /** The newest scan, whoever asked for it: what every subscriber's copy is now. */
  private last: Snapshot | undefined;
  /**
   * Whether the last full scan, with the pids events named since (in touched
   * or applied), is the truth: events were listened to from before it began,
   * and none were lost. `epoch` counts the breaks (events started, lost or
   * stopped), so that a scan can tell whether one came while it ran.
   */
  private kept = false;
  private epoch = 0;
  private linger: Timer | undefined;

  /** nsxd passes the scanner alone; a test passes its own events and clock too, and drives the schedule by them. */
  constructor(
    private readonly scanner: ScanSource,
    private readonly events: EventSource = new ProcEvents(),
    private readonly clock: Clock = systemClock,
  ) {
    this.creditAt = clock.now();
  }

  /**
   * The snapshot the subscriber starts from. Every change pushed after it is
   * diffed against it, never against an older scan, so that pids added and
   * removed add up to exactly what nsxd sees.
   */
  async subscribe(listener: Listener, intervalMs: number): Promise<Snapshot> {
    const snapshot = await this.current(false);
    this.listeners.set(listener, Math.max(MIN_INTERVAL_MS, intervalMs));
    this.clock.cancel(this.linger);
    this.scheduleRescan();
    return snapshot;
  }

  unsubscribe(listener: Listener): void {
    this.listeners.delete(listener);
    if (this.listeners.size === 0) {
      this.clock.cancel(this.rescan);
      this.clock.cancel(this.update);
      this.rescan = this.update = undefined;
      this.lingerOn();
    }
  }

  /**
   * Every namespace and process as now (namespaces/list): what events kept
   * true since the last full scan, with the processes they named read again;
   * a full scan when events could not keep it (none to be had, some lost, or
   * nsxd changed something), or when a subscriber's rescan would have come by
   * now. RESCAN asks for one too: it gets the one that runs, or one of its
   * own as often as the rule above lets any caller have one.
   */
  async current(rescan: boolean): Promise<Snapshot> {
    if (!this.events.live) {
      // Listening before the scan: a process that starts while it runs is read again after it.
      this.broken();
      this.events.start((pids, lost) => this.evented(pids, lost));
    }
    if (this.listeners.size === 0) this.lingerOn();
    if (!this.kept || this.clock.now() >= this.fullEnd + this.rescanInterval()) await this.scanForList('list');
    else if (rescan && this.scanning) await this.scanning;
    else if (rescan && this.clock.now() >= this.askedScanDue()) await this.scanForList('asked');
    // What events named while it ran, the scan may have read before they changed.
    await this.flush();
    await this.scanner.refreshContainers();
    return this.last!;
  }

  /** A full scan for a list; what was noted before it, the scan reads anyway (a subscriber's pending update goes out before it lands). */
  private async scanForList(why: FullScanWhy): Promise<void> {
    if (this.listeners.size === 0) this.touched.clear();
    await this.measured(why);
  }

  /** A full scan soon (or, with nobody subscribed, at the next list) after nsxd itself changed something: a pin, a session. */
  poke(): void {
    this.broken();
    if (this.listeners.size === 0) return;
    this.clock.cancel(this.rescan);
    this.rescan = undefined;
    void this.fullScan('poke');
  }

  /**
   * nsxd itself started or ended these processes (a session's): read them again
   * soon, as the events that name them would, not the whole host; a full scan
   * (poke) only when there are no events to follow what they start.
   */
  reread(pids: number[]): void {
    if (!this.events.live) return this.poke();
    this.evented(pids, false);
  }

  /** Processes started, exec'd, exited: read them again soon (within the updates' share of the time), or at the next list. */
  private evented(pids: number[], lost: boolean): void {
    if (lost) {
      this.broken();
      if (this.listeners.size > 0) this.lostEvents();
    }
    for (const pid of pids) this.touched.add(pid);
    if (this.listeners.size === 0) {
      if (this.touched.size > MAX_NOTED) {
        this.broken();
        this.touched.clear();
      }
      return;
    }
    if (this.update || this.updating) return;
    const wait = Math.max(EVENT_DELAY_MS, -this.earned() * UPDATE_SHARE);
    this.update = this.clock.after(() => void this.flush(), wait);
  }

  private earned(): number {
    const now = this.clock.now();
    this.credit = Math.min(UPDATE_BURST_MS, this.credit + (now - this.creditAt) / UPDATE_SHARE);
    this.creditAt = now;
    return this.credit;
  }

  /** Reads again the processes events named, now; one update at a time. */
  private async flush(): Promise<void> {
    this.clock.cancel(this.update);
    this.update = undefined;
    while (this.updating) await this.updating;
    if (this.touched.size === 0) return;
    this.updating = this.runUpdate();
    try {
      await this.updating;
    } finally {
      this.updating = undefined;
    }
    if (this.touched.size > 0 && this.listeners.size > 0) this.evented([], false);
  }

  private async runUpdate(): Promise<void> {
    const pids = this.touched;
    this.touched = new Set();
    let ms = 1000; // /proc failed us: the next try waits, and the next list scans
    try {
      ms = (await this.scanner.update(pids)).snapshot.scanMs;
    } catch {
      this.broken();
    }
    this.earned();
    this.credit -= ms;
  }

  /** What events said since the last full scan is not the whole story any more: the next list scans. */
  private broken(): void {
    this.kept = false;
    this.epoch++;
  }

  /**
   * The kernel dropped events (its socket buffer overran): no list of pids is
   * the whole story, so a full scan comes as soon as the share of the time
   * full scans may take without events allows. A fork storm that overruns the
   * buffer again and again gets no more than that.
   */
  private lostEvents(): void {
    const wait = Math.max(0, this.askedScanDue() - this.clock.now());
    if (this.rescan && this.rescanDue <= this.clock.now() + wait) return;
    this.clock.cancel(this.rescan);
    this.armRescan(wait, 'lost');
  }

  /**
   * When a full scan asked for (a rescan, events lost) may start, so that
   * such scans take 1 in RESCAN_SHARE of nsxd's time at most: the last one's
   * duration, or its CPU time where that is more (the collector's threads
   * work beside the scan), RESCAN_SHARE - 1 times after it ended.
   */
  private askedScanDue(): number {
    return this.fullEnd + Math.max(this.fullMs, this.fullCpuMs) * (RESCAN_SHARE - 1);
  }

  private rescanInterval(): number {
    if (this.events.live) return Math.max(RESCAN_WITH_EVENTS_MS, this.fullCpuMs / RESCAN_CPU_WITH_EVENTS);
    return Math.max(Math.min(...this.listeners.values()), this.fullMs * RESCAN_SHARE);
  }

  private scheduleRescan(): void {
    if (this.rescan || this.listeners.size === 0) return;
    this.armRescan(this.rescanInterval(), 'schedule');
  }

  private armRescan(ms: number, why: FullScanWhy): void {
    this.rescanDue = this.clock.now() + ms;
    this.rescan = this.clock.after(() => {
      this.rescan = undefined;
      void this.fullScan(why);
    }, ms);
  }

  private async fullScan(why: FullScanWhy): Promise<void> {
    try {
      await this.measured(why);
    } catch {
      // tried again after the share of a second, or the asked interval
    }
    this.scheduleRescan();
  }

  /** A full scan, with what it cost; from it on, events keep the model if they were listened to throughout. */
  private async measured(why: FullScanWhy): Promise<void> {
    const scan = this.measure(why);
    this.scanning = scan;
    try {
      await scan;
    } finally {
      if (this.scanning === scan) this.scanning = undefined;
    }
  }

  private async measure(why: FullScanWhy): Promise<void> {
    const epoch = this.epoch;
    const cpu = this.clock.cpuMs();
    try {
      this.fullMs = (await this.scanner.scan(why)).snapshot.scanMs;
    } catch (err) {
      this.fullMs = this.fullCpuMs = 1000;
      throw err;
    }
    this.fullCpuMs = this.clock.cpuMs() - cpu;
    this.fullEnd = this.clock.now();
    if (this.events.live && this.epoch === epoch) this.kept = true;
  }

  /** With nobody subscribed, events are listened to a while longer, for the next list; then nsxd stops listening. */
  private lingerOn(): void {
    this.clock.cancel(this.linger);
    this.linger = this.clock.after(() => {
      if (this.listeners.size > 0) return;
      this.events.stop();
      this.broken();
      this.touched.clear();
    }, LINGER_MS);
  }

  /**
   * Every scan and update, the watcher's or a request's, goes to the
   * subscribers as what changed since the one before (nsxd.ts makes this the
   * scanner's onScan).
   */
  scanned(snapshot: Snapshot, patch?: ProcessPatch | ModelPatch): void {
    const before = this.last;
    this.last = snapshot;
    if (!before || this.listeners.size === 0) return;
    const change = diff(before, snapshot, patch);
    if (!change) return;
    const bytes = JSON.stringify(change).length;
    for (const listener of this.listeners.keys()) listener(change, bytes);
  }
}
