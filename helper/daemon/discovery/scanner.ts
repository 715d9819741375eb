// Keeps the model of every namespace: a full scan reads all of /proc, its
// reads on libuv's threads (sliceReader.ts) and its records made on nsxd's a
// few milliseconds at a time between nsxd's other work; an update reads again
// only the processes the kernel's events named and patches what the last
// full scan read, and so does a full scan that finds only a few processes
// changed (stateDiff.ts). No scan worker: each would cost an isolate and a
// copy of its part of the scan, twice nsxd's memory at 7,000 processes.
import type { Namespace, NsKey } from '../../common/protocol';
import type { ScanLibrary } from '../../../native/scan';
import type { Engines, EngineContainer } from './engines';
import { parseNsfsMounts } from './mountinfo';
import type { ModelPatch, ProcessPatch } from './diff';
import { applyPatch } from './modelUpdate';
import { merge, ProcState, RawProcess, RawScan, readProcesses, scanProcesses, stateOf } from './processes';
import { listPids, readFileCapped, readNsLink } from './procfs';
import { ScanCache } from './scanCache';
import { readSlices } from './sliceReader';
import { rereadSince } from './stateDiff';
import { buildModel, Model, ScanContext } from './snapshot';

/**
 * Why a full scan ran: a request's (a pin, Details), a model too old for its
 * caller, the first, an update too big to read at once; the watcher's: a list
 * that events could not answer, a rescan asked for, the schedule, events lost,
 * nsxd's own change.
 */
export type FullScanWhy = 'request' | 'stale' | 'first' | 'burst' | 'list' | 'asked' | 'schedule' | 'lost' | 'poke';

/** An update reads at most this many processes at once (0.05–0.2 ms each here); more are a full scan's. */
const INLINE_MAX = 600;
/**
 * Updates ask the engines for their containers (at most every few seconds,
 * see Engines) for ENGINES_AFTER_MS after one that made or ended a
 * namespace; others, at most every ENGINES_AT_LEAST_MS (a container renamed).
 */
const ENGINES_AFTER_MS = 10_000;
const ENGINES_AT_LEAST_MS = 30_000;
/** How long a full scan reads before it lets a keystroke or a request through. */
const SLICE_MS = 4;

/** nsxd's own mount namespace, where pins and ip netns names are mounted: read once a scan or update. */
const selfMntns = (): number => readNsLink('/proc/self/ns/mnt')![1];

export class Scanner {
  /** The full scan that runs, and the one queued behind it. */
  private running: Promise<Model> | undefined;
  private queued: Promise<Model> | undefined;
  /** What the last full scan read, with every update since. */
  private state: ProcState | undefined;
  /** The containers as the last full scan saw them: an update does not wait for the engines. */
  private containers: EngineContainer[] = [];
  /**
   * Processes events named while a full scan reads /proc: it may have read
   * them before they changed, so it reads them again before it builds.
   */
  private touchedDuringScan: Set<number> | undefined;
  /** What each scan keeps for the next (interned records and strings, lineages, mount tables), see ScanCache. */
  private readonly cache = new ScanCache();
  private latest: Model | undefined;
  private latestAt = 0;
  /**
   * The processes patched since the last build, each with the RawProcess the
   * state had for it then (undefined where it had none): the next build tells
   * the watcher's diff that these alone may differ (ProcessPatch).
   */
  private unbuilt = new Map<number, RawProcess | undefined>();
  /** When an update last asked the engines for their containers, and when one last made or ended a namespace. */
  private enginesAskedAt = 0;
  private namespacesMovedAt = 0;
  /** Each parent's children as the state has them: an exit's orphans, found without a walk over every process. */
  private children = new Map<number, Set<number>>();
  /** Full scans so far, by why: a scan in a quiet spell can be told from its log line (onFullScan). */
  readonly fullScans = new Map<FullScanWhy, number>();
  /** PATCHED: how many processes the model was patched with (stateDiff.ts); undefined when it was built whole. */
  onFullScan: ((why: FullScanWhy, ms: number, cpuMs: number, count: number, patched?: number) => void) | undefined;
  /** Told of every scan and update as it lands, before any caller is: the watcher diffs each against the one before. */
  onScan: ((model: Model, patch?: ProcessPatch | ModelPatch) => void) | undefined;

  /** LIBRARY: libnsxscan, which does a full scan's reads on libuv's threads (sliceReader.ts); without it, this thread does. */
  constructor(
    private readonly ctx: Omit<ScanContext, 'selfMntns' | 'containers' | 'engines'>,
    private readonly engines?: Engines,
    private readonly library?: ScanLibrary,
  ) {}

  /** The last model, if it is at most maxAgeMs old; otherwise a new scan. */
  async model(maxAgeMs = 0): Promise<Model> {
    if (this.latest && Date.now() - this.latestAt <= maxAgeMs) return this.latest;
    return this.scan('stale');
  }

  /**
   * What `use` makes of a namespace, from a recent model, or else from a fresh
   * scan: a namespace newer than the last scan (or whose holders changed since)
   * is found all the same. Undefined when neither has it.
   */
  async find<T>(
    key: NsKey,
    use: (ns: Namespace, model: Model) => T | undefined,
    maxAgeMs = 2000,
  ): Promise<T | undefined> {
    for (const age of [maxAgeMs, 0]) {
      const model = await this.model(age);
      const ns = model.byInode.get(key.inode);
      const result = ns?.type === key.type ? use(ns, model) : undefined;
      if (result !== undefined) return result;
    }
    return undefined;
  }

  /**
   * A full scan that starts after this call, so it sees what the caller just
   * did (an unpin asking what still holds a namespace). Callers that ask while
   * one runs share the single scan queued behind it.
   */
  scan(why: FullScanWhy = 'request'): Promise<Model> {
    if (this.queued) return this.queued;
    if (this.running) {
      this.queued = this.running
        .catch(() => undefined)
        .then(() => {
          this.queued = undefined;
          return this.start(why);
        });
      return this.queued;
    }
    return this.start(why);
  }

  /**
   * The model with PIDS read again, and nothing else: what the kernel's
   * process events named (a fork, an exec, an exit). Costs those processes,
   * not the host's, and never waits for a full scan that runs: that one reads
   * them again when it has read the rest.
   */
  async update(pids: Iterable<number>): Promise<Model> {
    const list = [...pids];
    for (const pid of list) this.touchedDuringScan?.add(pid);
    if (!this.state) return this.running ?? this.scan('first');
    if (list.length > INLINE_MAX) return this.scan('burst');
    const started = Date.now();
    const self = selfMntns();
    // A process with thousands of children that exits is a whole scan's worth of reading: a full scan's, in slices.
    if (!this.patch(this.state, list, self)) return this.scan('burst');
    const applied = this.applied(this.state, self, started);
    const model = applied?.model ?? this.built(this.state, self, started, true);
    // A container that starts or stops makes or ends namespaces, and its engine may say so a little later;
    // an exec in one that runs (a probe, a shell) needs no engine's word.
    const now = Date.now();
    if (!applied || applied.namespaces) this.namespacesMovedAt = now;
    if (now - this.namespacesMovedAt < ENGINES_AFTER_MS || now - this.enginesAskedAt >= ENGINES_AT_LEAST_MS) {
      this.enginesAskedAt = now;
      void this.refreshContainers().catch(() => undefined);
    }
    return model;
  }

  /**
   * The model with the containers the engines report now (they are asked at
   * most every few seconds), built again if those changed: an update does not
   * wait for the engines, so it asks them after it lands, and a list from
   * the model events keep waits for their answer.
   */
  async refreshContainers(): Promise<Model | undefined> {
    if (!this.engines || !this.state) return this.latest;
    const found = await this.engines.current();
    if (found === this.containers || !this.state) return this.latest;
    if (this.takeContainers(found)) return this.latest;
    return this.built(this.state, selfMntns(), Date.now(), true);
  }

  /**
   * FOUND, the engines' answer, as the containers; whether the last model's
   * say the same (the answer is a new array at every poll: a build of the
   * whole model is for one that says something new).
   */
  private takeContainers(found: EngineContainer[]): boolean {
    const unchanged =
      !!this.latest &&
      sameJson(found, this.containers) &&
      sameJson(this.engines?.apis() ?? [], this.latest.snapshot.engines);
    this.containers = found;
    // What a shell in each starts from is asked through the newest answer's exec (a JSON-equal one, in the same order).
    if (unchanged) this.latest!.containers.forEach((c, i) => (c.exec = found[i].exec));
    return unchanged;
  }

  private start(why: FullScanWhy): Promise<Model> {
    this.running = this.runScan(why).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async runScan(why: FullScanWhy): Promise<Model> {
    const started = Date.now();
    const cpu = process.cpuUsage();
    const touched = (this.touchedDuringScan = new Set());
    let raw: RawScan;
    let found: EngineContainer[];
    const pids = listPids();
    this.cache.forget();
    try {
      [raw, found] = await Promise.all([this.read(pids), this.engines?.current() ?? []]);
    } finally {
      this.touchedDuringScan = undefined;
    }
    // The state and model as the updates during the reads left them.
    const before = this.unbuilt.size === 0 && this.latest?.index ? this.state : undefined;
    const sameContainers = this.takeContainers(found);
    this.state = stateOf(raw);
    this.cache.forgetMounts(this.state.mounts);
    this.children = new Map();
    for (const p of this.state.processes.values()) this.adopt(p);
    const self = selfMntns();
    // Few processes changed, and nothing else: the model is patched, as an update's is.
    const reread = before && sameContainers ? rereadSince(before, this.state, self, INLINE_MAX) : undefined;
    if (reread) this.unbuilt = reread;
    // Children too many to read at once keep the parent the scan saw, until the next scan.
    if (touched.size > 0) this.patch(this.state, [...touched], self);
    const applied = reread && this.applied(this.state, self, started);
    const model = applied ? applied.model : this.built(this.state, self, started);
    const count = (this.fullScans.get(why) ?? 0) + 1;
    this.fullScans.set(why, count);
    const used = process.cpuUsage(cpu);
    this.onFullScan?.(
      why,
      model.snapshot.scanMs,
      (used.user + used.system) / 1000,
      count,
      applied ? reread.size : undefined,
    );
    return model;
  }

  /**
   * Reads PIDS again, here (they are few), and the children of those that
   * exited (the kernel gave them a new parent), into STATE. Mount tables of
   * nsxd's own mount namespace, where pins and ip netns names live, are read
   * again every time: the process that changed them (ip netns add) may be
   * gone already. False, with the children left unread, when there are more
   * of them than a scan on this thread may read.
   */
  private patch(state: ProcState, pids: number[], self: number): boolean {
    /** Reads LIST into the state; the ones that are gone, it drops and returns. */
    const reread = (list: number[]): number[] => {
      for (const pid of list) if (!this.unbuilt.has(pid)) this.unbuilt.set(pid, state.processes.get(pid));
      const scan = scanProcesses(list, this.cache, state);
      merge(state, scan);
      const read = new Set<number>();
      for (const p of scan.processes) {
        this.disown(state.processes.get(p.pid));
        state.processes.set(p.pid, p);
        this.adopt(p);
        read.add(p.pid);
      }
      const gone = list.filter((pid) => !read.has(pid));
      for (const pid of gone) {
        this.disown(state.processes.get(pid));
        state.processes.delete(pid);
      }
      return gone;
    };
    const orphans = reread(pids).flatMap((pid) => [...(this.children.get(pid) ?? [])]);
    if (orphans.length > INLINE_MAX) return false;
    reread(orphans);
    const own = readFileCapped('/proc/self/mountinfo');
    if (own !== undefined) state.mounts.set(self, { pid: process.pid, mounts: parseNsfsMounts(own) });
    return true;
  }

  private adopt(p: RawProcess): void {
    const siblings = this.children.get(p.ppid);
    if (siblings) siblings.add(p.pid);
    else this.children.set(p.ppid, new Set([p.pid]));
  }

  private disown(p: RawProcess | undefined): void {
    const siblings = p && this.children.get(p.ppid);
    if (!siblings) return;
    siblings.delete(p.pid);
    if (siblings.size === 0) this.children.delete(p.ppid);
  }

  /** The model of STATE; PATCHED when STATE is the last model's with the processes in unbuilt read again. */
  private built(state: ProcState, self: number, started: number, patched = false): Model {
    const model = buildModel(state, this.context(self), started, this.cache, this.latest);
    const patch = patched ? this.processPatch(state) : undefined;
    this.unbuilt = new Map();
    this.latest = model;
    this.latestAt = Date.now();
    this.onScan?.(model, patch);
    return model;
  }

  /**
   * The last model with the processes in unbuilt applied in place (see
   * applyPatch): what they changed and nothing else. Undefined where only a
   * full build of STATE can tell.
   */
  private applied(state: ProcState, self: number, started: number): { model: Model; namespaces: boolean } | undefined {
    const model = this.latest;
    if (!model) return undefined;
    const from = model.snapshot;
    const change = applyPatch(model, state, this.unbuilt, this.context(self), this.cache);
    if (change === false) return undefined;
    model.snapshot.scanMs = Date.now() - started;
    this.unbuilt = new Map();
    this.latestAt = Date.now();
    this.onScan?.(model, { from, change });
    return { model, namespaces: !!change && change.added.length + change.removed.length > 0 };
  }

  private context(self: number): ScanContext {
    return { ...this.ctx, selfMntns: self, containers: this.containers, engines: this.engines?.apis() ?? [] };
  }

  /** What the processes in unbuilt were in the last model, and are in STATE's; undefined where that cannot be told. */
  private processPatch(state: ProcState): ProcessPatch | undefined {
    if (!this.latest) return undefined;
    const reread: ProcessPatch['reread'] = new Map();
    for (const [pid, raw] of this.unbuilt) {
      const before = raw && this.cache.made.get(raw);
      if (raw && !before) return undefined;
      const now = state.processes.get(pid);
      reread.set(pid, [before, now && this.cache.made.get(now)]);
    }
    return { from: this.latest.snapshot, reread };
  }

  /**
   * All of PIDS, SLICE_MS at a time: a scan of 20,000 processes takes a
   * second, and no terminal waits for it. The thread is free too while the
   * reads wait for libnsxscan's threads.
   */
  private async read(pids: number[]): Promise<RawScan> {
    // The state before, for the command lines that did not change.
    const before = this.state?.processes;
    const reading = this.library
      ? readSlices(pids, this.cache, before, this.library)
      : readProcesses(pids, this.cache, undefined, before);
    try {
      for (;;) {
        const until = performance.now() + SLICE_MS;
        let step = reading.next();
        while (!step.done && !step.value && performance.now() < until) step = reading.next();
        if (step.done) return step.value;
        await (step.value ?? new Promise((resolve) => setImmediate(resolve)));
      }
    } finally {
      reading.return(undefined as never);
    }
  }
}

/** Whether two values made of JSON's kinds (a few containers, the engines' APIs) say the same. */
const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
