// The wiring of every network namespace the model has, kept by one nsx-net:
// nsxd opens each namespace (checked by inode) and hands it over as
// /proc/NSXD/fd/N, closing its own fd once nsx-net answers; namespaces the
// model no longer has are dropped at once, since nsx-net's sockets would
// hold them alive. While someone subscribes, the model's changes add and
// drop namespaces and nsx-net's notifications reach them as net/changed;
// with no one, nsx-net ends LINGER_MS after the last list and holds nothing.
import type { NetChanged, NetList, NetNamespace } from '../../common/net';
import type { NamespacesChanged } from '../../common/protocol';
import { decodeName, decodeNet, RawNet } from './netDecode';
import { NetHelper } from './netHelper';
import { NsidBook, resolve, setHostInode, TunHolders } from './netPeers';
import { readNsLink } from './procfs';
import type { Scanner } from './scanner';
import { openNamespace } from './openNamespace';
import type { Watcher } from './watch';
import { closeSync, existsSync, FSWatcher, watch } from 'node:fs';

export type NetListener = (change: NetChanged, bytes: number) => void;

const LINGER_MS = 3000;
/** A list waits at most this long for every namespace's first dump and the ids asked. */
const SETTLE_MS = 5000;
/** Changes that come together (a veth's two ends, its addresses) go out as one. */
const RECOMPUTE_MS = 10;
const RESTART_MS = 1000;
const NETNS_DIR = '/run/netns';
/** A namespace nothing nsxd could open held: tried again after this long. */
const RETRY_OPEN_MS = 30_000;
/** nsxd's own fds to namespaces, opened and not yet taken by nsx-net: at most this many at once. */
const MAX_HANDING = 64;
/** More network namespaces than this are listed with an error, not watched. */
export const MAX_WATCHED = 4096;

interface Tracked {
  inode: number;
  /** nsxd's fd, until nsx-net says it has its own. */
  fd?: number;
}

export class NetWatch {
  private readonly helper = new NetHelper(
    (line) => this.line(line),
    () => this.helperExited(),
  );
  private nextId = 1;
  private nextReq = 1;
  private readonly byInode = new Map<number, number>();
  private readonly tracked = new Map<number, Tracked>();
  private readonly states = new Map<number, RawNet>();
  private readonly book = new NsidBook();
  private tun: TunHolders = new Map();
  /** Namespaces with a question to nsx-net unanswered. */
  private readonly asking = new Set<number>();
  private readonly sent = new Map<number, string>();
  private current: NetNamespace[] = [];
  private readonly listeners = new Set<NetListener>();
  private waiters: (() => void)[] = [];
  private recompute: NodeJS.Timeout | undefined;
  private linger: NodeJS.Timeout | undefined;
  private restart: NodeJS.Timeout | undefined;
  private modelListener: ((change: NamespacesChanged) => void) | undefined;
  private readonly netInodes = new Set<number>();
  private readonly unopened = new Map<number, number>();
  /** /run/netns while someone subscribes: an `ip netns del` sends no process event, and nsx-net's sockets would hold the namespace (and a veth's host end) until the next full scan. */
  private netnsDir: FSWatcher | undefined;
  private netnsPoke: NodeJS.Timeout | undefined;
  private netnsPokedAt = 0;
  private syncing: Promise<void> = Promise.resolve();
  /** How many of nsxd's fds nsx-net has not answered for yet, and who waits for one to be answered. */
  private handing = 0;
  private handed: (() => void)[] = [];

  constructor(
    private readonly scanner: Scanner,
    private readonly watcher: Watcher,
  ) {
    setHostInode(readNsLink('/proc/self/ns/net')?.[1] ?? 0);
  }

  /** The wiring now: the model's namespaces, each dumped, their ends resolved as far as SETTLE_MS allows. */
  async list(inodes?: number[]): Promise<NetList> {
    clearTimeout(this.linger);
    if (!this.modelListener) {
      const snapshot = await this.watcher.current(false);
      this.netInodes.clear();
      for (const ns of snapshot.namespaces) if (ns.type === 'net') this.netInodes.add(ns.inode);
    }
    await this.sync();
    await this.settled();
    this.lingerOn();
    const wanted = inodes && new Set(inodes);
    return { namespaces: this.current.filter((ns) => !wanted || wanted.has(ns.inode)) };
  }

  async subscribe(listener: NetListener): Promise<NetList> {
    this.listeners.add(listener);
    if (!this.modelListener) {
      const mine = (this.modelListener = (change: NamespacesChanged) => this.modelChanged(change));
      this.watchNetnsDir();
      const snapshot = await this.watcher.subscribe(mine, 5000);
      if (this.modelListener === mine) {
        this.netInodes.clear();
        for (const ns of snapshot.namespaces) if (ns.type === 'net') this.netInodes.add(ns.inode);
      }
    }
    return this.list();
  }

  unsubscribe(listener: NetListener): void {
    if (!this.listeners.delete(listener) || this.listeners.size > 0) return;
    if (this.modelListener) this.watcher.unsubscribe(this.modelListener);
    this.modelListener = undefined;
    this.netnsDir?.close();
    this.netnsDir = undefined;
    clearTimeout(this.netnsPoke);
    this.netnsPoke = undefined;
    this.lingerOn();
  }

  private watchNetnsDir(): void {
    if (this.netnsDir || !existsSync(NETNS_DIR)) return;
    try {
      // A full scan 100 ms after a change there, at most one a second.
      this.netnsDir = watch(NETNS_DIR, () => {
        if (this.netnsPoke) return;
        const wait = Math.max(100, this.netnsPokedAt + 1000 - Date.now());
        this.netnsPoke = setTimeout(() => {
          this.netnsPoke = undefined;
          this.netnsPokedAt = Date.now();
          this.watcher.poke();
        }, wait);
      });
      this.netnsDir.on('error', () => undefined);
    } catch {
      // no inotify to be had: the full rescans find it
    }
  }

  private modelChanged(change: NamespacesChanged): void {
    let moved = false;
    for (const ns of change.added)
      if (ns.type === 'net' && !this.netInodes.has(ns.inode)) moved = !!this.netInodes.add(ns.inode);
    for (const key of change.removed) if (key.type === 'net') moved = this.netInodes.delete(key.inode) || moved;
    if (moved) void this.sync();
  }

  /** One sync at a time: each adds what the model has and nsx-net does not, and drops the rest. */
  private sync(): Promise<void> {
    this.syncing = this.syncing.then(() => this.syncNow()).catch(() => undefined);
    return this.syncing;
  }

  private async syncNow(): Promise<void> {
    for (const [inode, id] of this.byInode) if (!this.netInodes.has(inode)) this.forget(id, true);
    const now = Date.now();
    for (const [inode, at] of this.unopened)
      if (now - at > RETRY_OPEN_MS || !this.netInodes.has(inode)) this.unopened.delete(inode);
    const added = [...this.netInodes].filter((inode) => !this.byInode.has(inode) && !this.unopened.has(inode));
    if (added.length === 0) {
      this.schedule();
      return;
    }
    this.helper.start();
    const model = await this.scanner.model(2000);
    for (const inode of added) {
      if (!this.netInodes.has(inode) || this.byInode.has(inode)) continue;
      const id = this.nextId++;
      this.byInode.set(inode, id);
      if (this.tracked.size >= MAX_WATCHED) {
        this.tracked.set(id, { inode });
        this.states.set(id, { ...empty(id, inode), error: `not watched: more than ${MAX_WATCHED} network namespaces` });
        continue;
      }
      while (this.handing >= MAX_HANDING && this.helper.running) await new Promise<void>((ok) => this.handed.push(ok));
      if (!this.netInodes.has(inode) || this.byInode.get(inode) !== id) continue;
      const key = { type: 'net' as const, inode };
      // What held it when the model saw it (the process that made it) may be gone, and a mount hold it now: a fresh scan finds that.
      const fd = openNamespace(model, key) ?? (await this.scanner.find(key, (_ns, m) => openNamespace(m, key), 0));
      if (fd === undefined || this.byInode.get(inode) !== id) {
        if (fd !== undefined) closeSync(fd);
        // Not watched: a sync RETRY_OPEN_MS later tries again (a fresh scan each time would cost the host's CPU).
        if (this.byInode.get(inode) === id) this.byInode.delete(inode);
        this.unopened.set(inode, Date.now());
        continue;
      }
      this.handing++;
      this.tracked.set(id, { inode, fd });
      this.helper.send(`A ${id} /proc/${process.pid}/fd/${fd}`);
    }
    this.schedule();
  }

  private forget(id: number, tell: boolean): void {
    const t = this.tracked.get(id);
    if (!t) return;
    if (tell) this.helper.send(`D ${id}`);
    this.closeFd(t);
    this.tracked.delete(id);
    this.states.delete(id);
    this.byInode.delete(t.inode);
    this.book.drop(id);
    this.tun.delete(id);
    this.asking.delete(id);
    this.schedule();
  }

  private line(line: Record<string, unknown>): void {
    if (typeof line.nsids === 'number') return this.answered(line);
    if (Array.isArray(line.tun)) return this.tunHolders(line.tun);
    const raw = decodeNet(line);
    const t = raw && this.tracked.get(raw.id);
    if (!raw || !t) return;
    this.closeFd(t);
    if (!raw.error && raw.inode !== t.inode) raw.error = 'nsx-net opened another namespace than nsxd asked for';
    raw.inode = t.inode;
    this.states.set(raw.id, raw);
    this.book.changed(raw.id);
    this.schedule();
  }

  private answered(line: Record<string, unknown>): void {
    const from = Number(line.from);
    this.asking.delete(from);
    if (!this.tracked.has(from)) return;
    for (const pair of Array.isArray(line.ids) ? line.ids : []) {
      if (!Array.isArray(pair) || typeof pair[0] !== 'number' || typeof pair[1] !== 'number') continue;
      if (!this.tracked.has(pair[0])) continue;
      if (pair[1] >= 0) this.book.set(from, pair[1], pair[0]);
      else this.book.noId(from, pair[0]);
    }
    this.schedule();
  }

  private tunHolders(list: unknown[]): void {
    const tun: TunHolders = new Map();
    for (const e of list) {
      if (!Array.isArray(e) || typeof e[0] !== 'number' || typeof e[1] !== 'string' || typeof e[2] !== 'number')
        continue;
      let byName = tun.get(e[0]);
      if (!byName) tun.set(e[0], (byName = new Map()));
      const name = decodeName(e[1]).name;
      byName.set(name, [...(byName.get(name) ?? []), e[2]]);
    }
    this.tun = tun;
    this.schedule();
  }

  private schedule(): void {
    this.recompute ??= setTimeout(() => this.recomputeNow(), RECOMPUTE_MS);
  }

  private recomputeNow(): void {
    this.recompute = undefined;
    const { namespaces, ask } = resolve(this.states, this.book, this.tun);
    for (const [from, ids] of ask) {
      if (this.asking.has(from) || !this.helper.running) continue;
      this.asking.add(from);
      this.helper.send(`N ${this.nextReq++} ${from} ${ids.join(' ')}`);
    }
    this.current = namespaces.sort((a, b) => a.inode - b.inode);
    const change: NetChanged = { changed: [], removed: [] };
    const now = new Set<number>();
    for (const ns of this.current) {
      now.add(ns.inode);
      const json = JSON.stringify(ns);
      if (this.sent.get(ns.inode) !== json) change.changed.push(ns);
      this.sent.set(ns.inode, json);
    }
    for (const inode of this.sent.keys()) if (!now.has(inode)) change.removed.push(inode) && this.sent.delete(inode);
    if (change.changed.length || change.removed.length) {
      const bytes = JSON.stringify(change).length;
      for (const fn of this.listeners) fn(change, bytes);
    }
    if (this.isSettled()) for (const wake of this.waiters.splice(0)) wake();
  }

  private isSettled(): boolean {
    if (this.asking.size > 0 || this.recompute) return false;
    for (const id of this.tracked.keys()) if (!this.states.has(id)) return false;
    return true;
  }

  private settled(): Promise<void> {
    if (this.isSettled()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, SETTLE_MS);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private lingerOn(): void {
    if (this.listeners.size > 0) return;
    clearTimeout(this.linger);
    this.linger = setTimeout(() => {
      if (this.listeners.size > 0) return;
      this.helper.stop();
      this.reset();
    }, LINGER_MS);
    this.linger.unref();
  }

  /** nsx-net went (or was ended): it held every namespace, so nothing is watched now. */
  private reset(): void {
    for (const id of [...this.tracked.keys()]) this.forget(id, false);
    this.asking.clear();
    this.tun = new Map();
    for (const wake of this.handed.splice(0)) wake();
    for (const wake of this.waiters.splice(0)) wake();
  }

  private closeFd(t: Tracked): void {
    if (t.fd === undefined) return;
    try {
      closeSync(t.fd);
    } catch {
      // already closed
    }
    t.fd = undefined;
    this.handing--;
    this.handed.shift()?.();
  }

  private helperExited(): void {
    this.reset();
    if (this.listeners.size === 0 || this.restart) return;
    this.restart = setTimeout(() => {
      this.restart = undefined;
      void this.sync();
    }, RESTART_MS);
  }
}

function empty(id: number, inode: number): RawNet {
  return { id, inode, links: [], addrs: [], routes: [] };
}
