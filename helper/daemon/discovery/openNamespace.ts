// Opens a namespace of the model again, by what the last scan saw holding it.
import { closeSync, constants, fstatSync, openSync, statSync } from 'node:fs';
import * as libc from '../../../native/libc';
import type { Namespace, NsKey } from '../../common/protocol';
import type { Model } from './snapshot';

/**
 * The paths nsxd can open a namespace by again: a few members' links, then
 * what holds it. Each must be checked after open (openChecked): a process
 * may have exited and its pid been reused.
 */
export function openers(model: Model, ns: Namespace): string[] {
  const paths = ns.pids.slice(0, 3).map((pid) => `/proc/${pid}/ns/${ns.type}`);
  for (const h of ns.holders) {
    if (h.kind === 'fd') paths.push(`/proc/${h.pid}/fd/${h.fd}`);
    else if (h.kind === 'pid_for_children' || h.kind === 'time_for_children') paths.push(`/proc/${h.pid}/ns/${h.kind}`);
    else if (h.kind === 'mount')
      paths.push(h.mntns === model.selfMntns ? h.path : `/proc/${model.mountReaders.get(h.mntns)}/root${h.path}`);
  }
  return paths;
}

/** An fd to a namespace of the model, opened by the first of its paths that still holds it; undefined if none does. */
export function openNamespace(model: Model, key: NsKey): number | undefined {
  const ns = model.byInode.get(key.inode);
  return ns?.type === key.type ? openChecked(openers(model, ns), key) : undefined;
}

/** The device of nsfs: every namespace file is on it. */
let nsfsDev: number | undefined;

/**
 * Opens a namespace by the first of its paths whose nsfs inode still matches.
 * A path through another process's root (a bind mount in a container) may have
 * been bent by that container to point anywhere, a device or a FIFO included,
 * so it is first only named (O_PATH: nothing is opened, nothing waits), and
 * opened for real, through that very fd, only once it is the namespace.
 */
export function openChecked(paths: string[], expected: NsKey): number | undefined {
  nsfsDev ??= statSync('/proc/self/ns/net').dev;
  for (const path of paths) {
    let named: number;
    try {
      named = openSync(path, libc.O_PATH); // Node opens every fd close-on-exec
    } catch {
      continue;
    }
    let fd: number | undefined;
    try {
      const st = fstatSync(named);
      if (st.dev === nsfsDev && st.ino === expected.inode) fd = openSync(`/proc/self/fd/${named}`, constants.O_RDONLY);
      if (fd !== undefined && libc.nsGetNstype(fd) === libc.CLONE_NEW[expected.type]) return fd;
    } catch {
      // gone, or not a namespace after all
    } finally {
      closeSync(named);
    }
    if (fd !== undefined) closeSync(fd);
  }
  return undefined;
}
