// Turns what the scan workers read into the namespace model: members,
// holders, pins, container hints, and the hierarchy the nsfs ioctls report
// (owning user namespace, parent, owner uid). Namespaces that nothing but a
// child or an owned namespace keeps alive are found through those ioctls.
import { closeSync, constants, fstatSync, openSync, statSync } from 'node:fs';
import * as libc from '../../../native/libc';
import { Holder, MAX_HOLDERS, Namespace, NsKey, NsType, NSTYPES, Pin, Process, Snapshot, nsId } from '../../common/protocol';
import { containerFromCgroup } from './containers';
import type { RawScan } from './procfs';

/** How nsxd can open a namespace again: paths whose nsfs inode must be checked after open. */
export type Openers = Map<string, string[]>;

export interface ScanContext {
  /** nsxd's own mount namespace: mount paths in it are opened directly. */
  selfMntns: number;
  userName(uid: number): string;
  /** Recognizes a pin, or another tool's `ip netns` name, among nsfs mount paths of nsxd's mount namespace. */
  mountAt(path: string, type: NsType, inode: number): { pin: Pin } | { netns: string } | undefined;
}

export interface Model {
  snapshot: Snapshot;
  openers: Openers;
}

export function buildModel(raws: RawScan[], ctx: ScanContext, started: number): Model {
  const namespaces = new Map<string, Namespace>();
  const openers: Openers = new Map();
  const get = (type: NsType, inode: number): Namespace => {
    const id = nsId({ type, inode });
    let ns = namespaces.get(id);
    if (!ns) {
      ns = { type, inode, pids: [], holders: [], initial: false, pins: [] };
      namespaces.set(id, ns);
      openers.set(id, []);
    }
    return ns;
  };
  const addHolder = (ns: Namespace, holder: Holder) => {
    // Names (pins, ip netns names) always count: only root can make them, and they are what users know a namespace by.
    const named = holder.kind === 'mount' && (holder.pin !== undefined || holder.netns !== undefined);
    if (ns.holders.length < MAX_HOLDERS || named) ns.holders.push(holder);
    else ns.holdersOmitted = (ns.holdersOmitted ?? 0) + 1;
  };
  const addOpener = (ns: NsKey, path: string) => {
    const list = openers.get(nsId(ns))!;
    if (list.length < 3) list.push(path);
  };

  const processes: Process[] = [];
  const hintVotes = new Map<string, Map<string, number>>();
  const hints = new Map<string, ReturnType<typeof containerFromCgroup>>();
  const comms = new Map<number, string>();
  for (const raw of raws) for (const p of raw.processes) comms.set(p.pid, p.comm);

  for (const raw of raws) {
    for (const p of raw.processes) {
      const proc: Process = { pid: p.pid, ppid: p.ppid, comm: p.comm, cmdline: p.cmdline, uid: p.uid, user: ctx.userName(p.uid), ns: p.ns };
      const hint = p.cgroup !== undefined ? containerFromCgroup(p.cgroup) : undefined;
      const hintKey = hint && JSON.stringify(hint);
      if (hint && hintKey) hints.set(hintKey, hint);
      for (const type of NSTYPES) {
        const inode = p.ns[type];
        if (inode === undefined) continue;
        const ns = get(type, inode);
        ns.pids.push(p.pid);
        addOpener(ns, `/proc/${p.pid}/ns/${type}`);
        if (hintKey) {
          const votes = hintVotes.get(nsId(ns)) ?? new Map<string, number>();
          votes.set(hintKey, (votes.get(hintKey) ?? 0) + 1);
          hintVotes.set(nsId(ns), votes);
        }
      }
      if (p.pidForChildren !== undefined) {
        proc.pidForChildren = p.pidForChildren;
        const ns = get('pid', p.pidForChildren);
        addHolder(ns, { kind: 'pid_for_children', pid: p.pid, comm: p.comm });
        addOpener(ns, `/proc/${p.pid}/ns/pid_for_children`);
      }
      if (p.timeForChildren !== undefined) {
        proc.timeForChildren = p.timeForChildren;
        const ns = get('time', p.timeForChildren);
        addHolder(ns, { kind: 'time_for_children', pid: p.pid, comm: p.comm });
        addOpener(ns, `/proc/${p.pid}/ns/time_for_children`);
      }
      for (const [fd, type, inode, count] of p.nsfds) {
        const ns = get(type, inode);
        addHolder(ns, { kind: 'fd', pid: p.pid, fd, comm: p.comm, ...(count > 1 ? { count } : {}) });
        addOpener(ns, `/proc/${p.pid}/fd/${fd}`);
      }
      processes.push(proc);
    }
  }

  const seenMntns = new Set<number>();
  for (const raw of raws) {
    for (const [mntns, pid, mounts] of raw.mounts) {
      if (seenMntns.has(mntns)) continue;
      seenMntns.add(mntns);
      for (const m of mounts) {
        const ns = get(m.type, m.inode);
        const own = mntns === ctx.selfMntns;
        const what = own ? ctx.mountAt(m.path, m.type, m.inode) : undefined;
        const pin = what && 'pin' in what ? what.pin : undefined;
        const netns = what && 'netns' in what ? what.netns : undefined;
        addHolder(ns, { kind: 'mount', path: m.path, mntns, ...(pin ? { pin: pin.name } : {}), ...(netns ? { netns } : {}) });
        if (pin) {
          const same = ns.pins.find((p) => p.name === pin.name);
          if (same) same.paths.push(...pin.paths);
          else ns.pins.push(pin);
        }
        addOpener(ns, own ? m.path : `/proc/${pid}/root${m.path}`);
      }
    }
  }

  for (const [id, votes] of hintVotes) {
    const ns = namespaces.get(id)!;
    // A namespace is a container's only when its processes agree and some are not in it by chance (the host).
    if (votes.size === 1) {
      const [[key, count]] = [...votes];
      if (count * 2 > ns.pids.length) ns.container = hints.get(key);
    }
  }

  // The initial namespaces are PID 1's; where PID 1 hides its links (a sandbox's
  // init may), the oldest process whose links nsxd can read stands in.
  const init = processes.reduce<Process | undefined>((a, p) => (!a || p.pid < a.pid ? p : a), undefined);
  if (init) for (const type of NSTYPES) {
    const inode = init.ns[type];
    if (inode !== undefined) get(type, inode).initial = true;
  }

  resolveHierarchy(namespaces, openers, get);
  return {
    snapshot: { namespaces: [...namespaces.values()], processes, scanMs: Date.now() - started },
    openers,
  };
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
export function openChecked(paths: string[] | undefined, expected: NsKey): number | undefined {
  nsfsDev ??= statSync('/proc/self/ns/net').dev;
  for (const path of paths ?? []) {
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

/**
 * A namespace's owner, parent and owner uid are fixed for its life, so they are
 * asked once per namespace and kept while it exists (a freed inode is dropped
 * at the next scan, before it can be reused for another namespace).
 */
interface Lineage {
  owner?: number;
  parent?: number;
  ownerUid?: number;
}
const lineages = new Map<string, Lineage>();

function resolveHierarchy(namespaces: Map<string, Namespace>, openers: Openers, get: (type: NsType, inode: number) => Namespace): void {
  for (const id of lineages.keys()) if (!namespaces.has(id)) lineages.delete(id);
  // Known lineages first: their related namespaces must exist in the map too.
  for (const [id, ns] of namespaces) {
    const known = lineages.get(id);
    if (!known) continue;
    Object.assign(ns, known);
    if (known.owner !== undefined && !namespaces.has(nsId({ type: 'user', inode: known.owner }))) lineages.delete(id);
    if (known.parent !== undefined && !namespaces.has(nsId({ type: ns.type, inode: known.parent }))) lineages.delete(id);
  }
  resolveUnknown(namespaces, openers, get);
  for (const [id, ns] of namespaces) {
    if (!lineages.has(id) && (ns.owner !== undefined || ns.parent !== undefined)) {
      lineages.set(id, { owner: ns.owner, parent: ns.parent, ownerUid: ns.ownerUid });
    }
  }
}

function resolveUnknown(namespaces: Map<string, Namespace>, openers: Openers, get: (type: NsType, inode: number) => Namespace): void {
  // Fds from the ioctls open namespaces that may have no path at all; they are
  // processed in the same queue and closed when done.
  const done = new Set<string>([...lineages.keys()].filter((id) => namespaces.has(id)));
  const queue: [Namespace, number | undefined][] = [...namespaces.entries()].filter(([id]) => !done.has(id)).map(([, ns]) => [ns, undefined]);
  while (queue.length > 0) {
    const [ns, given] = queue.pop()!;
    const id = nsId(ns);
    if (done.has(id)) {
      if (given !== undefined) closeSync(given);
      continue;
    }
    const fd = given ?? openChecked(openers.get(id), ns);
    if (fd === undefined) continue;
    done.add(id);
    try {
      const related = (ioctl: (fd: number) => number, type: NsType, holder: Holder): number | undefined => {
        let rfd: number;
        try {
          rfd = ioctl(fd);
        } catch {
          return undefined; // EPERM at the top of nsxd's view, or not applicable
        }
        const inode = fstatSync(rfd).ino;
        const other = namespaces.get(nsId({ type, inode }));
        if (other && done.has(nsId(other))) {
          closeSync(rfd);
        } else {
          const target = other ?? get(type, inode);
          if (!other || (target.pids.length === 0 && target.holders.length === 0)) target.holders.push(holder);
          queue.push([target, rfd]);
        }
        return inode;
      };
      ns.owner = related(libc.nsGetUserns, 'user', { kind: 'owner', of: { type: ns.type, inode: ns.inode } });
      if (ns.type === 'pid' || ns.type === 'user') {
        ns.parent = related(libc.nsGetParent, ns.type, { kind: 'child', of: { type: ns.type, inode: ns.inode } });
      }
      if (ns.type === 'user') ns.ownerUid = libc.nsGetOwnerUid(fd);
    } finally {
      closeSync(fd);
    }
  }
}
