// Reads a mountinfo: its entries, and the nsfs bind mounts among them (pins,
// ip netns names, other tools' mounts of a namespace).
import { NSTYPES, NsType } from '../../common/protocol';
import { NSFS_LINK } from './procfs';

export interface RawMount {
  type: NsType;
  inode: number;
  path: string;
}

/** A line of a mountinfo: what of its filesystem is mounted (root), where, and the filesystem's type. */
export interface MountEntry {
  root: string;
  mountPoint: string;
  fstype: string;
}

/**
 * The entries of a mountinfo, of one filesystem type when FSTYPE is given (a
 * mount table can be tens of megabytes: the other lines are skipped unsplit).
 */
export function parseMountinfo(mountinfo: string, fstype?: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of mountinfo.split('\n')) {
    if (fstype !== undefined && !line.includes(` - ${fstype} `)) continue;
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    if (dash < 0) continue;
    out.push({
      root: unescapeMountPath(fields[3]),
      mountPoint: unescapeMountPath(fields[4]),
      fstype: fields[dash + 1],
    });
  }
  return out;
}

/** nsfs entries of a mountinfo: the root field names the namespace, as `net:[4026532201]`. */
export function parseNsfsMounts(mountinfo: string): RawMount[] {
  const out: RawMount[] = [];
  for (const { root, mountPoint } of parseMountinfo(mountinfo, 'nsfs')) {
    const m = NSFS_LINK.exec(root);
    if (m && (NSTYPES as readonly string[]).includes(m[1]))
      out.push({ type: m[1] as NsType, inode: Number(m[2]), path: ownString(mountPoint) });
  }
  return out;
}

/**
 * S as a string of its own. A piece that split cuts from a string is, in V8,
 * a slice that keeps the whole string alive: a kept path would keep its mount
 * namespace's whole mountinfo (3.7 MB of them at 1,500 mount namespaces).
 * Decoded from bytes, a string is new.
 */
const ownString = (s: string) => Buffer.from(s).toString();

/** mountinfo writes space, tab, newline and backslash as octal escapes. */
export function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
