// The binding of libnsxscan (native/scan.c): a slice of processes'
// directories opened, and their stat lines and links read, in C on libuv's
// threads through koffi's async call, while nsxd's one thread does its other
// work (helper/daemon/discovery/sliceReader.ts drives it). Every array is the caller's and must not be touched until the
// promise settles: the C side writes into it from another thread. This module
// imports nothing of ours.
import koffi from 'koffi';

interface AsyncFn {
  async: (...args: unknown[]) => void;
}

/** What nsx_fd_links answers: see native/scan.c. */
export interface FdLinksOut {
  /** [0]: the budget of fds to read, in and out. */
  left: Int32Array;
  /** Per directory: fds listed (-1: no fd folder), fds not read. */
  state: Int32Array;
  /** Records of nsfs fds: [directory's index, fd, type's index, inode]. */
  nsfds: Uint32Array;
  /** [0]: how many records. */
  count: Int32Array;
}

export interface ScanLibrary {
  /** The directories /proc/PID of the first N of PIDS, opened into DIRS (-1: gone): the caller closes them. */
  openDirs(pids: Int32Array, n: number, dirs: Int32Array): Promise<void>;
  /** The stat lines of the N directories DIRS into BUF, where SPANS says, their owners into UIDS: how many were read. */
  stats(dirs: Int32Array, n: number, buf: Buffer, spans: Int32Array, uids: Int32Array): Promise<number>;
  /** The inodes of LINKS (as loaded) of the N directories DIRS into INODES[i * LINKS.length + k], 0 where unreadable. */
  nsLinks(dirs: Int32Array, n: number, inodes: Uint32Array): Promise<void>;
  /** The fd folders of the N directories DIRS into OUT: how many were read whole (the rest did not fit in OUT.nsfds). */
  fdLinks(dirs: Int32Array, n: number, perProcess: number, onceSpent: number, out: FdLinksOut): Promise<number>;
}

/** The library at PATH (which the caller has checked may be loaded as root), reading LINKS and knowing TYPES. */
export function loadScanLibrary(path: string, links: string[], types: readonly string[]): ScanLibrary {
  const lib = koffi.load(path);
  const nsFn = lib.func(
    'int nsx_ns_links(const int32_t *dirs, int32_t n, const char **links, int32_t nlinks, uint32_t *inodes)',
  ) as AsyncFn;
  const fdFn = lib.func(
    'int nsx_fd_links(const int32_t *dirs, int32_t n, const char **types, int32_t ntypes, int32_t per_process, ' +
      'int32_t once_spent, int32_t *left, int32_t *state, uint32_t *nsfds, int32_t cap, int32_t *count)',
  ) as AsyncFn;
  const openFn = lib.func('int nsx_open_dirs(const int32_t *pids, int32_t n, int32_t *dirs)') as AsyncFn;
  const statsFn = lib.func(
    'int nsx_stats(const int32_t *dirs, int32_t n, uint8_t *buf, uint32_t size, int32_t *spans, int32_t *uids)',
  ) as AsyncFn;
  const call = (fn: AsyncFn, args: unknown[]) =>
    new Promise<number>((resolve, reject) =>
      fn.async(...args, (err: Error | null, result: number) => (err ? reject(err) : resolve(result))),
    );
  const names = [...links];
  const typeNames = [...types];
  return {
    openDirs: async (pids, n, dirs) => {
      if (pids.length < n || dirs.length < n) throw new RangeError('openDirs: arrays too short');
      await call(openFn, [pids, n, dirs]);
    },
    stats: (dirs, n, buf, spans, uids) => {
      if (dirs.length < n || spans.length < n * 2 || uids.length < n) throw new RangeError('stats: arrays too short');
      return call(statsFn, [dirs, n, buf, buf.length, spans, uids]);
    },
    nsLinks: async (dirs, n, inodes) => {
      if (dirs.length < n || inodes.length < n * names.length) throw new RangeError('nsLinks: arrays too short');
      await call(nsFn, [dirs, n, names, names.length, inodes]);
    },
    fdLinks: (dirs, n, perProcess, onceSpent, out) => {
      if (dirs.length < n || out.state.length < n * 2 || out.left.length < 1 || out.count.length < 1)
        throw new RangeError('fdLinks: arrays too short');
      const cap = Math.floor(out.nsfds.length / 4);
      return call(fdFn, [
        dirs,
        n,
        typeNames,
        typeNames.length,
        perProcess,
        onceSpent,
        out.left,
        out.state,
        out.nsfds,
        cap,
        out.count,
      ]);
    },
  };
}
