// What one scan keeps for the next, owned by the Scanner and handed to the
// reads and the model builder it runs: each piece saves a scan of a busy host
// work it did last time, and each must be dropped for processes and
// namespaces that are gone, as a full scan starts (forget) or as the model is
// built (lineages), before a pid or an inode is reused for another. (procfs's
// read buffer and nsfs's device number stay where they are: neither holds
// anything of a process or a namespace, so there is nothing to forget.)
import type { NsType, Process } from '../../common/protocol';
import { NSTYPES } from '../../common/protocol';
import type { MountTable } from './mountTables';
import type { RawProcess } from './processes';

/**
 * A namespace's owner, parent and owner uid are fixed for its life, so they are
 * asked once per namespace and kept while it exists (a freed inode is dropped
 * at the next scan, before it can be reused for another namespace). Kept by
 * inode with the type: the kernel numbers namespaces of every type from one
 * pool, so an inode may come back as another type.
 */
export interface Lineage {
  type: NsType;
  owner?: number;
  parent?: number;
  ownerUid?: number;
}

/** How many distinct command lines argv() keeps at most, and comms comm(). */
const MAX_ARGVS = 65536;

export class ScanCache {
  /**
   * Command lines by their text: the thousands of processes of one program
   * and arguments on a busy host (workers, sleepers, a pod's pause) share one
   * array. Made anew by each full scan (see forget).
   */
  private readonly argvs = new Map<string, string[]>();

  /**
   * One record for each combination of namespaces: processes that share all
   * theirs (most of a host's; every process of a container) share it, and the
   * model builder works out the namespaces of each record once. Made anew
   * by each full scan (see forget).
   */
  private readonly interned = new Map<string, RawProcess['ns']>();

  /**
   * The Process each RawProcess became: a patched state hands the builder the
   * same RawProcess for every process no event touched, and gets the same
   * Process back, which the watcher's diff then passes over by identity.
   */
  readonly made = new WeakMap<RawProcess, Process>();

  /** Mount tables by mount namespace inode (see mountTables.ts), kept while the namespace has members (forgetMounts). */
  readonly mountTables = new Map<number, MountTable>();

  /** Lineages by inode (see Lineage): resolveHierarchy drops those of namespaces gone. */
  readonly lineages = new Map<number, Lineage>();

  /** The records interned since the last full scan, known by themselves: asked again, no key is made. */
  private readonly records = new Set<RawProcess['ns']>();

  /**
   * The one record of these namespaces (see interned). A scan asks it first
   * of the record a process had before, if its namespaces are the same, so
   * that an unchanged process is the same record again (see readProcess).
   */
  intern(ns: RawProcess['ns']): RawProcess['ns'] {
    if (this.records.has(ns)) return ns;
    const key = NSTYPES.map((type) => ns[type]).join(' ');
    const known = this.interned.get(key);
    if (known) return known;
    this.interned.set(key, ns);
    this.records.add(ns);
    return ns;
  }

  /**
   * comms by their text: a busy host's thousands of one program share one
   * string, and none is a slice that keeps its stat line alive (V8 makes a
   * slice of 13 characters or more a view of the whole). Made anew by each
   * full scan (see forget).
   */
  private readonly comms = new Map<string, string>();

  /** The one string of this comm (see comms). */
  comm(text: string): string {
    const known = this.comms.get(text);
    if (known !== undefined) return known;
    // Through bytes and back: a copy of its own, whatever V8 made of the slice.
    const own = Buffer.from(text, 'latin1').toString('latin1');
    if (this.comms.size >= MAX_ARGVS) this.comms.clear();
    this.comms.set(own, own);
    return own;
  }

  /** The one array of the arguments TEXT holds, NUL-ended each. */
  argv(text: string): string[] {
    const known = this.argvs.get(text);
    if (known) return known;
    const args = text.split('\0');
    if (args[args.length - 1] === '') args.pop();
    // Between full scans, a host that starts many different commands would grow it without end: it only saves memory.
    if (this.argvs.size >= MAX_ARGVS) this.argvs.clear();
    this.argvs.set(text, args);
    return args;
  }

  /** As a full scan starts: what it makes anew (the updates after it use its). What a process was, the state keeps. */
  forget(): void {
    this.interned.clear();
    this.records.clear();
    this.argvs.clear();
    this.comms.clear();
  }

  /** As a full scan ends: drops the mount tables of mount namespaces it did not find in LIVE. */
  forgetMounts(live: Map<number, unknown>): void {
    for (const mntns of this.mountTables.keys()) if (!live.has(mntns)) this.mountTables.delete(mntns);
  }
}
