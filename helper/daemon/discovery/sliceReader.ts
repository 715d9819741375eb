// A full scan's reads with libnsxscan (native/scan.c), a slice of 512
// processes at a time. Each /proc/PID is opened once, and read through that
// one fd: by libuv's threads, through koffi's async call, the directories
// opened, then the stat lines and owners on one, the namespace links on
// another, the fd folders on a third (a slice's after the last's, for the fd
// budget); by nsxd's own, a command line that changed. At 20,000 processes a
// scan is mostly the kernel's work for those reads, and a small host has two
// CPUs: while AHEAD slices are with the C side, nsxd's thread makes records of
// the one before, with processes.ts's parsers, the same as its own reader's.
import { join } from 'node:path';
import { FdLinksOut, ScanLibrary, loadScanLibrary } from '../../../native/scan';
import * as procAt from '../../../native/procAt';
import { NSTYPES } from '../../common/protocol';
import {
  FDS_ONCE_SPENT,
  FDS_PER_PROCESS,
  FDS_PER_SCAN,
  FdBudget,
  Held,
  inodes,
  LINKS,
  HOLDS_NOTHING,
  needsLinks,
  NsFds,
  RawProcess,
  RawScan,
  readHead,
  readNsFds,
  ScanParts,
  withLinks,
} from './processes';
import { parseStatBytes, StatFields } from './procfs';
import type { ScanCache } from './scanCache';

/** libnsxscan, beside nsxd's own file: kernel/launcher.ts checks it as it checks the programs nsxd runs. */
export const SCAN_LIBRARY = join(__dirname, 'libnsxscan.so');

/** libnsxscan at PATH, bound to the links and namespace types a scan reads. */
export const scanLibrary = (path = SCAN_LIBRARY): ScanLibrary => loadScanLibrary(path, LINKS, NSTYPES);

/** Processes a slice: enough that a thread's hand-over (tens of µs) is noise, few enough that one is a few ms. */
const SLICE = 512;
/**
 * Slices with the C side at once. With two, its threads waited on each
 * other (a slice's fd folders are read after the last slice's) and on nsxd's
 * thread: at 20,000 processes a scan's reads took 800 ms, and 720 with three.
 */
const AHEAD = 3;
/** Records of nsfs fds a slice has room for; a slice with more has the rest of its processes read here. */
const NSFDS_CAP = 4096;

/** Bytes of stat lines a slice has room for (a line is about 300); a slice with more has the rest read here. */
const STATS_SIZE = 256 * 1024;

interface Slice {
  /** Its processes (the first n), and the fds of their directories (-1: gone, or not yet opened). */
  pids: Int32Array;
  dirs: Int32Array;
  n: number;
  /** The C side's answers: see native/scan.c. */
  stats: Buffer;
  spans: Int32Array;
  uids: Int32Array;
  inodes: Uint32Array;
  fd: FdLinksOut;
  /** How many directories the C side read the stat lines and the fd folders of, once it has. */
  statsRead: number;
  fdsRead: number;
  /** The fds of directories the C side had no room for, read here. */
  rest: Map<number, Held>;
  reading?: Promise<void>;
}

const newSlice = (): Slice => ({
  pids: new Int32Array(SLICE),
  dirs: new Int32Array(SLICE),
  n: 0,
  stats: Buffer.allocUnsafeSlow(STATS_SIZE),
  spans: new Int32Array(SLICE * 2),
  uids: new Int32Array(SLICE),
  inodes: new Uint32Array(SLICE * LINKS.length),
  fd: {
    left: new Int32Array(16),
    state: new Int32Array(SLICE * 2),
    nsfds: new Uint32Array(NSFDS_CAP * 4),
    count: new Int32Array(16),
  },
  statsRead: 0,
  fdsRead: 0,
  rest: new Map(),
});

/**
 * PIDS read as readProcesses reads them (BEFORE: the state's records of the
 * last scan), in slices: AHEAD are with the C side while the one before them
 * is made into records. Yields a promise where it waits for the C side (the
 * caller awaits it, and its thread is free meanwhile), and nothing between
 * processes, where the caller may let other work through.
 */
export function* readSlices(
  pids: number[],
  cache: ScanCache,
  before: Map<number, RawProcess> | undefined,
  lib: ScanLibrary,
): Generator<Promise<void> | undefined, RawScan> {
  const parts = new ScanParts(cache);
  const slices = Array.from({ length: AHEAD + 1 }, newSlice);
  const total = Math.ceil(pids.length / SLICE);
  const open = new Set<Slice>();
  // A scan spends its fd budget in pid order (see FDS_PER_SCAN): each slice's fd folders are read after the last's.
  let fds: Promise<number> = Promise.resolve(FDS_PER_SCAN);
  const next = (k: number) => {
    if (k < total) fds = start(lib, prepared(slices[k % slices.length], pids, k * SLICE, open), fds);
  };
  try {
    for (let k = 0; k < AHEAD; k++) next(k);
    for (let k = 0; k < total; k++) {
      const slice = slices[k % slices.length];
      yield slice.reading;
      yield* made(slice, parts, cache, before);
      closeSlice(slice, open);
      next(k + AHEAD);
    }
    return parts.scan;
  } finally {
    // Closed only once the C side is done with them: an fd number closed under it could be another file's.
    for (const slice of open) void Promise.allSettled([slice.reading]).then(() => closeSlice(slice, open));
  }
}

/** The records of SLICE's processes, into PARTS: from what the C side read, and its rest where it did not. */
function* made(
  slice: Slice,
  parts: ScanParts,
  cache: ScanCache,
  before: Map<number, RawProcess> | undefined,
): Generator<undefined> {
  // nsxd itself, whose fds are the slices' folders as it reads: read again here, with a budget of its own.
  const self = slice.pids.subarray(0, slice.n).indexOf(process.pid);
  if (self >= 0 && slice.dirs[self] >= 0) slice.rest.set(self, readNsFds(slice.dirs[self], { left: FDS_PER_PROCESS }));
  const { nsfds, count } = slice.fd;
  // The C side's records of nsfs fds, in its directories' order.
  for (let i = 0, record = 0; i < slice.n; i++) {
    const from = record;
    while (record < count[0] && nsfds[record * 4] === i) record++;
    const held = slice.rest.get(i) ?? (i < slice.fdsRead ? heldOf(slice, i, from, record) : undefined);
    const dir = slice.dirs[i];
    if (dir < 0 || !held) continue;
    yield;
    const pid = slice.pids[i];
    const was = before?.get(pid);
    const head =
      i < slice.statsRead
        ? readHead(dir, pid, cache, was, statOf(slice, i), slice.uids[i])
        : readHead(dir, pid, cache, was);
    if (!head) continue;
    for (let k = 0, at = i * LINKS.length; k < LINKS.length; k++) inodes[k] = slice.inodes[at + k] || undefined;
    const p = needsLinks(head) ? withLinks(head, held, cache, was) : head;
    if (p) parts.add(p);
  }
}

/** The stat line the C side read of SLICE's Ith directory, where it was read; null if it could not. */
function statOf(slice: Slice, i: number): StatFields | null {
  const at = slice.spans[i * 2];
  const length = slice.spans[i * 2 + 1];
  return length < 0 ? null : parseStatBytes(slice.stats, at, at + length);
}

/** SLICE with the processes of PIDS from FROM, their directories to be opened by the C side (see start). */
function prepared(slice: Slice, pids: number[], from: number, open: Set<Slice>): Slice {
  slice.n = Math.min(SLICE, pids.length - from);
  for (let i = 0; i < slice.n; i++) slice.pids[i] = pids[from + i];
  // None open until the C side says which: a slice closed before then closes nothing.
  slice.dirs.fill(-1);
  open.add(slice);
  return slice;
}

function closeSlice(slice: Slice, open: Set<Slice>): void {
  if (!open.delete(slice)) return;
  for (let i = 0; i < slice.n; i++) if (slice.dirs[i] >= 0) procAt.close(slice.dirs[i]);
}

/**
 * The C side's reads of SLICE, on three threads once its directories are
 * open: its stat lines and namespace links at once, its fd folders once FDS
 * (the budget the slice before left) has settled. Resolves with the budget
 * this one leaves.
 */
function start(lib: ScanLibrary, slice: Slice, fds: Promise<number>): Promise<number> {
  slice.rest.clear();
  slice.statsRead = slice.fdsRead = 0;
  const dirs = lib.openDirs(slice.pids, slice.n, slice.dirs);
  const left = Promise.all([fds, dirs]).then(async ([budget]) => {
    slice.fd.left[0] = budget;
    slice.fdsRead = await lib.fdLinks(slice.dirs, slice.n, FDS_PER_PROCESS, FDS_ONCE_SPENT, slice.fd);
    // Those it had no room for: read here, before the next slice spends the budget after them.
    const here: FdBudget = { left: slice.fd.left[0] };
    for (let i = slice.fdsRead; i < slice.n; i++)
      if (slice.dirs[i] >= 0) slice.rest.set(i, readNsFds(slice.dirs[i], here));
    return here.left;
  });
  slice.reading = dirs
    .then(() =>
      Promise.all([
        lib.stats(slice.dirs, slice.n, slice.stats, slice.spans, slice.uids).then((read) => {
          slice.statsRead = read;
        }),
        lib.nsLinks(slice.dirs, slice.n, slice.inodes),
        left,
      ]),
    )
    .then(() => undefined);
  return left;
}

/** What the C side read of SLICE's Ith fd folder: its records FROM to TO. */
function heldOf(slice: Slice, i: number, from: number, to: number): Held {
  const { state, nsfds } = slice.fd;
  const unread = Math.max(0, state[i * 2 + 1]);
  if (from === to && unread === 0) return HOLDS_NOTHING;
  const held = new NsFds();
  for (let r = from * 4; r < to * 4; r += 4) held.add(nsfds[r + 1], NSTYPES[nsfds[r + 2]], nsfds[r + 3]);
  return { nsfds: held.list(), unread };
}
