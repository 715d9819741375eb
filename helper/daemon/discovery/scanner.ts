// Keeps the model of every namespace: a full scan reads /proc with worker
// threads (split by pid) and merges their parts; an update reads again only
// the processes the kernel's events named, on the main thread, and patches
// what the last full scan read. Workers stop when idle, so an idle nsxd holds
// only its main thread's memory.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Namespace, NsKey } from '../../common/protocol';
import type { Engines, Found } from './engines';
import { forget, listPids, merge, parseNsfsMounts, ProcState, RawScan, readNsLink, readProcFile, scanProcesses, stateOf } from './procfs';
import { buildModel, Model, ScanContext } from './snapshot';

const IDLE_MS = 15_000;
/** Up to this many processes, a scan runs on the main thread (about 10 ms per 300 processes here). */
const INLINE_MAX = 600;
/** A scan that takes longer is abandoned, and its workers with it: /proc can be made to stall. */
const SCAN_TIMEOUT_MS = 60_000;

/** nsxd's own mount namespace, where pins and ip netns names are mounted: read once a scan or update. */
const selfMntns = (): number => readNsLink('/proc/self/ns/mnt')![1];

export class Scanner {
  private workers: Worker[] = [];
  private idleTimer: NodeJS.Timeout | undefined;
  private nextId = 1;
  /** The full scan that runs, and the one queued behind it. */
  private running: Promise<Model> | undefined;
  private queued: Promise<Model> | undefined;
  /** What the last full scan read, with every update since. */
  private state: ProcState | undefined;
  /** The containers as the last full scan saw them: an update does not wait for the engines. */
  private containers: Found[] = [];
  /**
   * Processes events named while a full scan reads /proc: it may have read
   * them before they changed, so it reads them again before it builds.
   */
  private touchedDuringScan: Set<number> | undefined;
  private latest: Model | undefined;
  private latestAt = 0;
  /** Told of every scan and update as it lands, before any caller is: the watcher diffs each against the one before. */
  onScan: ((model: Model) => void) | undefined;

  /** /proc reads scale to a few threads, then contend in the kernel. */
  private readonly threads = Math.max(1, Math.min(4, availableParallelism()));

  constructor(private readonly ctx: Omit<ScanContext, 'selfMntns' | 'containers'>, private readonly engines?: Engines) {}

  /** The last model, if it is at most maxAgeMs old; otherwise a new scan. */
  async model(maxAgeMs = 0): Promise<Model> {
    if (this.latest && Date.now() - this.latestAt <= maxAgeMs) return this.latest;
    return this.scan();
  }

  /**
   * What `use` makes of a namespace, from a recent model, or else from a fresh
   * scan: a namespace newer than the last scan (or whose holders changed since)
   * is found all the same. Undefined when neither has it.
   */
  async find<T>(key: NsKey, use: (ns: Namespace, model: Model) => T | undefined, maxAgeMs = 2000): Promise<T | undefined> {
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
  scan(): Promise<Model> {
    if (this.queued) return this.queued;
    if (this.running) {
      this.queued = this.running.catch(() => undefined).then(() => {
        this.queued = undefined;
        return this.start();
      });
      return this.queued;
    }
    return this.start();
  }

  /**
   * The model with PIDS read again, and nothing else: what the kernel's
   * process events named (a fork, an exec, an exit). Costs those processes,
   * not the host's, and never waits for a full scan that runs: that one reads
   * them again when its workers are done.
   */
  async update(pids: Iterable<number>): Promise<Model> {
    const list = [...pids];
    for (const pid of list) this.touchedDuringScan?.add(pid);
    if (!this.state) return this.running ?? this.scan();
    if (list.length > INLINE_MAX) return this.scan();
    const started = Date.now();
    const self = selfMntns();
    // A process with thousands of children that exits is a whole scan's worth of reading: the workers'.
    if (!this.patch(this.state, list, self)) return this.scan();
    return this.built(this.state, self, started);
  }

  private start(): Promise<Model> {
    this.running = this.runScan().finally(() => { this.running = undefined; });
    return this.running;
  }

  private async runScan(): Promise<Model> {
    const started = Date.now();
    const touched = this.touchedDuringScan = new Set();
    let raws: RawScan[];
    const pids = listPids();
    try {
      [raws, this.containers] = await Promise.all([this.read(pids), this.engines?.current() ?? []]);
    } finally {
      this.touchedDuringScan = undefined;
    }
    forget(pids);
    this.state = stateOf(...raws);
    const self = selfMntns();
    // Children too many to read here keep the parent the workers saw, until the next scan.
    if (touched.size > 0) this.patch(this.state, [...touched], self);
    this.armIdle();
    return this.built(this.state, self, started);
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
      const scan = scanProcesses(list, state);
      merge(state, scan);
      const read = new Set<number>();
      for (const p of scan.processes) {
        state.processes.set(p.pid, p);
        read.add(p.pid);
      }
      const gone = list.filter((pid) => !read.has(pid));
      for (const pid of gone) state.processes.delete(pid);
      return gone;
    };
    const exited = new Set(reread(pids));
    const orphans = exited.size > 0 ? [...state.processes.values()].filter((p) => exited.has(p.ppid)).map((p) => p.pid) : [];
    if (orphans.length > INLINE_MAX) return false;
    reread(orphans);
    const own = readProcFile('/proc/self/mountinfo');
    if (own !== undefined) state.mounts.set(self, { pid: process.pid, mounts: parseNsfsMounts(own) });
    return true;
  }

  private built(state: ProcState, self: number, started: number): Model {
    const model = buildModel(state, { ...this.ctx, selfMntns: self, containers: this.containers }, started);
    this.latest = model;
    this.latestAt = Date.now();
    this.onScan?.(model);
    return model;
  }

  /**
   * A few hundred processes are read here, in a few milliseconds: starting
   * workers would cost more than the scan. More are split among the workers,
   * so that no terminal waits for /proc.
   */
  private read(pids: number[]): Promise<RawScan[]> {
    if (pids.length <= INLINE_MAX) return Promise.resolve([scanProcesses(pids)]);
    this.ensureWorkers();
    // By pid, not by place in the list: a process stays with the worker that has its cmdline cached.
    const chunks = this.workers.map((_, i) => pids.filter((pid) => pid % this.workers.length === i));
    return Promise.all(this.workers.map((w, i) => this.ask(w, chunks[i])));
  }

  private ensureWorkers(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    while (this.workers.length < this.threads) {
      // Small heaps: a worker holds one slice of a scan at a time.
      const w = new Worker(join(__dirname, 'scan-worker.js'), { resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 96 } });
      w.unref();
      this.workers.push(w);
    }
  }

  /** One worker's part of a scan; a worker that dies or stalls is dropped, and the next scan starts a new one. */
  private ask(worker: Worker, pids: number[]): Promise<RawScan> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onFailure);
        worker.off('exit', onFailure);
      };
      const onMessage = (msg: { id: number; scan: RawScan }) => {
        if (msg.id !== id) return;
        done();
        resolve(msg.scan);
      };
      const onFailure = (err?: unknown) => {
        done();
        this.workers = this.workers.filter((w) => w !== worker);
        void worker.terminate();
        reject(new Error(`a scan worker failed: ${err instanceof Error ? err.message : `exited (${String(err)})`}`));
      };
      const timer = setTimeout(() => onFailure(new Error(`no answer within ${SCAN_TIMEOUT_MS / 1000} s`)), SCAN_TIMEOUT_MS);
      worker.on('message', onMessage);
      worker.once('error', onFailure);
      worker.once('exit', onFailure);
      worker.postMessage({ id, pids });
    });
  }

  private armIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.stop(), IDLE_MS);
    this.idleTimer.unref();
  }

  stop(): void {
    for (const w of this.workers) void w.terminate();
    this.workers = [];
  }
}
