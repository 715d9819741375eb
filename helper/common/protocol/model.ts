// The model nsxd keeps and sends: processes, namespaces, what holds them,
// containers, engines and pins, and a snapshot of them all.
import type { NsKey, NsType } from './core';

/** The inode of each of a process's namespaces, by type. */
export type NsSet = Partial<Record<NsType, number>>;

export interface Process {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string[];
  /** Effective uid, as the owner of /proc/PID. */
  uid: number;
  user: string;
  ns: NsSet;
  /** Set when the namespace its children get differs from its own (after unshare(CLONE_NEWPID) / CLONE_NEWTIME). */
  pidForChildren?: number;
  timeForChildren?: number;
}

/** Something other than a member process that keeps a namespace alive. */
export type Holder =
  /** `count` fds of that process hold it, of those the scan read (see ScanCut); the lowest is named. */
  | { kind: 'fd'; pid: number; fd: number; comm: string; count?: number }
  /** `pin`: nsxd's pin of that name. `netns`: an `ip netns` name that another tool (ip netns add, podman) made. */
  | { kind: 'mount'; path: string; mntns: number; pin?: string; netns?: string }
  | { kind: 'pid_for_children' | 'time_for_children'; pid: number; comm: string }
  | { kind: 'child'; of: NsKey }
  | { kind: 'owner'; of: NsKey };

export const MAX_HOLDERS = 32;

/** What a namespace belongs to: a container its engine reported (by its init process), else what a cgroup path says. */
export interface ContainerHint {
  runtime: 'docker' | 'containerd' | 'kubernetes' | 'podman' | 'cri-o' | 'nspawn' | 'lxc';
  id: string;
  name?: string;
}

/** A container as its engine (or its runtime's state on disk) reports it. nsxd only reads engines, never changes them. */
export interface Container {
  engine: 'docker' | 'podman' | 'containerd' | 'cri-o';
  /** Whose engine it is: 0 for the system's; a rootless engine's user otherwise. */
  engineUid: number;
  /** Full id; the first 12 hex digits are what people type. */
  id: string;
  name: string;
  image: string;
  /** running, exited, created, paused … as the engine says. */
  state: string;
  /** Kubernetes or podman pod, and compose project and service, from labels and annotations. */
  pod?: string;
  project?: string;
  service?: string;
  /** The container's first process on the host, while it runs. */
  pid?: number;
  hostname?: string;
  /** Its namespaces, from its first process: what a shell in it joins. */
  namespaces: NsKey[];
  /** Where nsxd learnt of it: the engine's API, or the OCI runtime's state. */
  source: 'api' | 'oci';
}

/**
 * An engine's API socket, and whether it answered the last time it was
 * asked. Without it nsxd knows that engine's containers only from the OCI
 * runtime's state: the running ones, named from what the engine keeps on disk.
 */
export interface EngineApi {
  engine: 'docker' | 'podman';
  /** 0 for the system's; a rootless engine's user otherwise. */
  uid: number;
  socket: string;
  answering: boolean;
  /** Why not, in the engine's or the kernel's words. */
  reason?: string;
}

/** A bind mount that nsxd made of a namespace, under a name. Mounts other tools made are holders. */
export interface Pin {
  name: string;
  /** Whoever pinned it; absent only when nsxd's record of it was lost. */
  by?: { uid: number; user: string };
  /** Where it is bind-mounted: in nsxd's pin directory and, for net, /run/netns. */
  paths: string[];
}

export interface Namespace extends NsKey {
  /** The pids of the processes in it. */
  pids: number[];
  /** At most MAX_HOLDERS of them (anyone can open a million fds to a namespace), plus every pin and ip netns name. */
  holders: Holder[];
  /** How many more holders there are than `holders` lists. */
  holdersOmitted?: number;
  /** Inode of the owning user namespace (NS_GET_USERNS). */
  owner?: number;
  /** Inode of the parent namespace, for pid and user (NS_GET_PARENT). */
  parent?: number;
  /** For user namespaces: the uid that created it (NS_GET_OWNER_UID). */
  ownerUid?: number;
  /** One of the namespaces of PID 1 in nsxd's view. */
  initial: boolean;
  container?: ContainerHint;
  /** For uts: its hostname, where a container engine said what it is. */
  hostname?: string;
  /** For net: its addresses (not loopback or link-local), a few at most. */
  addresses?: string[];
  pins: Pin[];
}

export interface Snapshot {
  namespaces: Namespace[];
  processes: Process[];
  containers: Container[];
  /** The engines' API sockets there are, and which answered. */
  engines?: EngineApi[];
  /** Milliseconds the scan took in nsxd. */
  scanMs: number;
  /** What the scan left unread to stay within its bounds; absent when it read everything. */
  cut?: ScanCut;
}

/**
 * A snapshot as nsxd sends it: each process names its namespaces by the
 * index of their set in nsSets. Most processes share all of theirs with
 * others (a host's daemons, a container's processes): written out in each,
 * the sets were 43% of a list's bytes at 20,000 processes, and so of the
 * time to write, send and read it. A change's processes, which are few, are
 * sent as they are.
 */
export interface WireSnapshot extends Omit<Snapshot, 'processes'> {
  processes: (Omit<Process, 'ns'> & { ns: number })[];
  nsSets: NsSet[];
}

/** SNAPSHOT as it is sent: each set once, as nsxd's processes share them (one object a set). */
export function toWire(snapshot: Snapshot): WireSnapshot {
  const index = new Map<NsSet, number>();
  const nsSets: NsSet[] = [];
  const processes = snapshot.processes.map((p) => {
    let i = index.get(p.ns);
    if (i === undefined) index.set(p.ns, (i = nsSets.push(p.ns) - 1));
    return { ...p, ns: i };
  });
  const { namespaces, processes: _, ...rest } = snapshot;
  return { namespaces, processes, nsSets, ...rest };
}

/**
 * The snapshot WIRE was made from, made in place (it is a message just
 * read): processes of a set share one object. A process whose set is not
 * there (a malformed answer) has none.
 */
export function fromWire(wire: WireSnapshot): Snapshot {
  const sets: unknown[] = Array.isArray(wire.nsSets) ? wire.nsSets : [];
  const processes = wire.processes as unknown as Process[];
  for (const p of processes) {
    const set = sets[p.ns as unknown as number];
    p.ns =
      Number.isInteger(p.ns) && set !== null && typeof set === 'object' && !Array.isArray(set) ? (set as NsSet) : {};
  }
  const { nsSets: _, ...snapshot } = wire;
  return { ...snapshot, processes };
}

/**
 * The fds a scan did not read: a process may hold a million, and each is a
 * readlink, so nsxd reads a bounded number of each process's (the lowest)
 * and of all. A namespace that only the fds left unread hold is missing, and
 * a holder's count is of the fds read.
 */
export interface ScanCut {
  /** Processes some of whose fds were not read. */
  processes: number;
  /** How many fds that left unread; where the kernel does not say (before Linux 6.2), one a process at least. */
  fds: number;
  /** A few of those processes, MAX_CUT_PIDS at most. */
  pids: number[];
}
export const MAX_CUT_PIDS = 8;
