// A full scan's reads with libnsxscan (native/scan-links.c), a slice of
// processes at a time: each /proc/PID is opened here, and read through that
// one fd by three threads at once. nsxd's own reads the files (readHead: the
// stat line, owner, command line); libuv's read the links, the namespace
// links on one and the fd folder on another. At 20,000 processes a scan is
// mostly the kernel's work for those links, and this host has two CPUs.
// While the C side reads a slice, the next is opened, and the one before is
// made into records: processes.ts's parsers, the same as its own reader's.
import { join } from 'node:path';
import { FdLinksOut, LinkLibrary, loadLinkLibrary } from '../../../native/scanLinks';
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
  needsLinks,
  NsFds,
  RawProcess,
  RawScan,
  readHead,
  readLinks,
  ScanParts,
  withLinks,
} from './processes';
import type { ScanCache } from './scanCache';

/** libnsxscan, beside nsxd's own file: kernel/launcher.ts checks it as it checks the programs nsxd runs. */
export const SCAN_LIBRARY = join(__dirname, 'libnsxscan.so');

/** libnsxscan at PATH, bound to read the links a scan reads. */
export const linkLibrary = (path = SCAN_LIBRARY): LinkLibrary => loadLinkLibrary(path, LINKS, NSTYPES);

/** Processes a slice: enough that a thread's hand-over (tens of µs) is noise, few enough that one is a few ms. */
const SLICE = 512;
/** Records of nsfs fds a slice has room for; a slice with more has the rest of its processes read here. */
const NSFDS_CAP = 4096;

interface Slice {
  pids: number[];
  dirs: Int32Array;
  n: number;
  inodes: Uint32Array;
  fd: FdLinksOut;
  /** How many directories the C side read whole, once it has. */
  whole: number;
  reading?: Promise<void>;
}

const newSlice = (): Slice => ({
  pids: [],
  dirs: new Int32Array(SLICE),
  n: 0,
  inodes: new Uint32Array(SLICE * LINKS.length),
  fd: {
    left: new Int32Array(16),
    state: new Int32Array(SLICE * 2),
    nsfds: new Uint32Array(NSFDS_CAP * 4),
    count: new Int32Array(16),
  },
  whole: 0,
});

/**
 * PIDS read as readProcesses reads them (BEFORE: the state's records of the
 * last scan), in slices. Yields a promise where it waits for the C side
 * (the caller awaits it, and its thread is free meanwhile), and nothing
 * between processes, where the caller may let other work through.
 */
export function* readSlices(
  pids: number[],
  cache: ScanCache,
  before: Map<number, RawProcess> | undefined,
  lib: LinkLibrary,
): Generator<Promise<void> | undefined, RawScan> {
  const parts = new ScanParts(cache);
  const fds: FdBudget = { left: FDS_PER_SCAN };
  const slices = [newSlice(), newSlice()];
  const open = new Set<Slice>();
  try {
    let slice: Slice | undefined = opened(slices[0], pids, 0, open);
    start(lib, slice, fds.left);
    for (let k = 0; slice; k++) {
      const heads: (RawProcess | undefined)[] = [];
      for (let i = 0; i < slice.n; i++) {
        yield;
        const dir = slice.dirs[i];
        heads.push(dir < 0 ? undefined : readHead(dir, slice.pids[i], cache, before?.get(slice.pids[i])));
      }
      const from = (k + 1) * SLICE;
      const next = from < pids.length ? opened(slices[(k + 1) % 2], pids, from, open) : undefined;
      yield slice.reading;
      fds.left = slice.fd.left[0];
      // Those the C side had no room for: read here, before the next slice spends the budget after them.
      const rest = new Map<number, Held>();
      for (let i = slice.whole; i < slice.n; i++) if (heads[i]) rest.set(i, readHere(slice, i, fds));
      if (next) start(lib, next, fds.left);
      // nsxd itself, whose fds are the slices' folders as it reads: read again here, with a budget of its own.
      const self = slice.pids.indexOf(process.pid);
      if (self >= 0 && heads[self]) rest.set(self, readHere(slice, self, { left: FDS_PER_PROCESS }));
      let record = 0;
      for (let i = 0; i < slice.n; i++) {
        let held = rest.get(i);
        if (i < slice.whole) {
          const [read, after] = heldOf(slice, i, record);
          [held, record] = [held ?? read, after];
        }
        const head = heads[i];
        if (!head || !held) continue;
        yield;
        for (let k = 0, at = i * LINKS.length; k < LINKS.length; k++) inodes[k] = slice.inodes[at + k] || undefined;
        const p = needsLinks(head) ? withLinks(head, held, cache, before?.get(head.pid)) : head;
        if (p) parts.add(p);
      }
      closeSlice(slice, open);
      slice = next;
    }
    return parts.scan;
  } finally {
    // Closed only once the C side is done with them: an fd number closed under it could be another file's.
    for (const slice of open) void Promise.allSettled([slice.reading]).then(() => closeSlice(slice, open));
  }
}

function opened(slice: Slice, pids: number[], from: number, open: Set<Slice>): Slice {
  slice.pids = pids.slice(from, from + SLICE);
  slice.n = slice.pids.length;
  for (let i = 0; i < slice.n; i++) slice.dirs[i] = procAt.openDir(`/proc/${slice.pids[i]}`);
  open.add(slice);
  return slice;
}

function closeSlice(slice: Slice, open: Set<Slice>): void {
  if (!open.delete(slice)) return;
  for (let i = 0; i < slice.n; i++) if (slice.dirs[i] >= 0) procAt.close(slice.dirs[i]);
}

/** The C side's reads of SLICE, two threads at once, with LEFT of the fd budget. */
function start(lib: LinkLibrary, slice: Slice, left: number): void {
  slice.fd.left[0] = left;
  slice.whole = 0;
  slice.reading = Promise.all([
    lib.nsLinks(slice.dirs, slice.n, slice.inodes),
    lib.fdLinks(slice.dirs, slice.n, FDS_PER_PROCESS, FDS_ONCE_SPENT, slice.fd),
  ]).then(([, whole]) => {
    slice.whole = whole;
  });
}

/** The links of SLICE's Ith directory read here, kept in the slice as the C side keeps them. */
function readHere(slice: Slice, i: number, fds: FdBudget): Held {
  const held = readLinks(slice.dirs[i], fds);
  for (let k = 0, at = i * LINKS.length; k < LINKS.length; k++) slice.inodes[at + k] = inodes[k] ?? 0;
  return held;
}

/** The fds the C side read of SLICE's Ith directory, from its RECORDth record on: and where the next one's start. */
function heldOf(slice: Slice, i: number, record: number): [Held, number] {
  const { state, nsfds, count } = slice.fd;
  const held = new NsFds();
  for (; record < count[0] && nsfds[record * 4] === i; record++) {
    const r = record * 4;
    held.add(nsfds[r + 1], NSTYPES[nsfds[r + 2]], nsfds[r + 3]);
  }
  return [{ nsfds: held.list(), unread: Math.max(0, state[i * 2 + 1]) }, record];
}
