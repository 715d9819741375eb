// Pins: bind mounts of nsfs files that keep a namespace alive with no
// process in it. They live only in nsxd's pin directory (a private bind
// mount of itself, so pins never propagate and never sit on a shared mount),
// plus /run/netns for net so that `ip netns` sees them. Every file is created
// through the directory's fd and mounted onto by fd, so no symlink swapped in
// at any moment can redirect the mount. Who pinned what is kept beside them.
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { ResponseError } from 'vscode-jsonrpc/node';
import * as libc from '../../../native/libc';
import type { Caller } from '../access/access';
import { parseMountinfo } from '../discovery/mountinfo';
import { ErrorCodes, NSTYPES, NsKey, nsId, nsLinkOfNew, NsType, Pin, PinResult } from '../../common/protocol';
import { launch } from './launcher';
import { openNsFile, OpenedNs } from './targets';

export const NETNS_DIR = '/run/netns';
const PINS_PER_OPERATOR = 64;

/** Who pinned what. The inode makes a record stale once its name holds another namespace (after `ip netns delete` and `add`, say). */
interface PinRecord {
  uid: number;
  user: string;
  at: string;
  inode: number;
}

export class Pins {
  readonly dir: string;
  private readonly registryFile: string;
  private registry: Record<string, PinRecord> = {};

  constructor(runDir: string) {
    this.dir = join(runDir, 'pins');
    this.registryFile = join(runDir, 'pins.json');
  }

  /** Makes the pin directory a private mount of itself (once) and reads who pinned what. */
  init(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    if (!isMountPoint(this.dir)) libc.mount(this.dir, this.dir, null, libc.MS_BIND);
    libc.mount(null, this.dir, null, libc.MS_PRIVATE);
    for (const type of NSTYPES) mkdirSync(join(this.dir, type), { recursive: true, mode: 0o755 });
    try {
      this.registry = JSON.parse(readFileSync(this.registryFile, 'utf8'));
    } catch {
      this.registry = {};
    }
  }

  /**
   * What an nsfs mount in nsxd's mount namespace is (for the scanner): a pin
   * when nsxd made it (anything in its pin directory; in /run/netns, only what
   * its records say it made), else for /run/netns the `ip netns` name that
   * another tool gave it.
   */
  mountAt(path: string, type: NsType, inode: number): { pin: Pin } | { netns: string } | undefined {
    const inDir = fileIn(join(this.dir, type), path);
    const inNetns = type === 'net' ? fileIn(NETNS_DIR, path) : undefined;
    const name = inDir ?? inNetns;
    if (!name) return undefined;
    const by = this.recordOf(type, name, inode);
    if (!inDir && !by) return { netns: name };
    return { pin: { name, paths: [path], ...(by ? { by: { uid: by.uid, user: by.user } } : {}) } };
  }

  private recordOf(type: NsType, name: string, inode: number): PinRecord | undefined {
    const record = this.registry[`${type}/${name}`];
    return record?.inode === inode ? record : undefined;
  }

  /** The namespace a pin holds, opened and type-checked. */
  open(type: NsType, name: string): OpenedNs | undefined {
    return (
      openNsFile(join(this.dir, type, name), type) ??
      (type === 'net' ? openNsFile(join(NETNS_DIR, name), type) : undefined)
    );
  }

  /** A fresh namespace held by its pin alone: nsx-exec unshares and waits while nsxd pins it. */
  async create(type: NsType, name: string, caller: Caller): Promise<PinResult> {
    const { child, ready } = launch({
      joins: [],
      unshare: [type],
      hold: true,
      identity: { uid: 0, gid: 0, groups: [0] },
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await ready;
      // pid and time apply to children: the new namespace is the holder's *_for_children.
      const opened = openNsFile(`/proc/${child.pid}/ns/${nsLinkOfNew(type)}`, type, { follow: true });
      if (!opened) throw new ResponseError(ErrorCodes.Failed, `the new ${type} namespace could not be opened`);
      try {
        return { type, inode: opened.inode, pin: this.pin(opened, name, caller) };
      } finally {
        closeSync(opened.fd);
      }
    } catch (err) {
      if (err instanceof ResponseError) throw err;
      throw new ResponseError(ErrorCodes.Failed, `cannot create a ${type} namespace: ${(err as Error).message}`);
    } finally {
      child.stdin?.end();
      child.kill('SIGKILL');
      await exited;
    }
  }

  /** Bind-mounts an already opened, checked namespace fd as TYPE/NAME (and /run/netns/NAME for net). */
  pin(ns: OpenedNs, name: string, caller: Caller): Pin {
    // Each pin keeps a namespace (a whole mount table, for mnt) alive: operators get a quota.
    this.forgetVanished();
    const mine = Object.values(this.registry).filter((r) => r.uid === caller.uid).length;
    if (caller.role !== 'admin' && mine >= PINS_PER_OPERATOR) {
      throw new ResponseError(
        ErrorCodes.LimitExceeded,
        `you have ${mine} pins, the most an operator may keep; unpin some first`,
      );
    }
    const paths = this.pathsFor(ns.type, name);
    for (const path of paths) {
      if (existsOrLink(path))
        throw new ResponseError(
          ErrorCodes.Conflict,
          `the pin name ${ns.type}/${name} is in use (${path}); choose another`,
        );
    }
    const done: string[] = [];
    try {
      for (const path of paths) {
        bindAt(ns, path);
        done.push(path);
      }
    } catch (err) {
      for (const path of done) unmountAndRemove(path);
      if (err instanceof ResponseError) throw err;
      throw new ResponseError(ErrorCodes.Failed, `cannot pin ${nsId(ns)} as ${name}: ${(err as Error).message}`);
    }
    this.registry[`${ns.type}/${name}`] = {
      uid: caller.uid,
      user: caller.user,
      at: new Date().toISOString(),
      inode: ns.inode,
    };
    try {
      this.save();
    } catch (err) {
      // A pin nobody recorded would count for no one and be no one's to unpin: none at all is better.
      delete this.registry[`${ns.type}/${name}`];
      for (const path of done) unmountAndRemove(path);
      throw new ResponseError(
        ErrorCodes.Failed,
        `cannot record the pin ${ns.type}/${name}, so it was not made: ${(err as Error).message}`,
      );
    }
    return { name, by: { uid: caller.uid, user: caller.user }, paths };
  }

  unpin(type: NsType, name: string, caller: Caller, force = false): NsKey {
    const opened = this.open(type, name);
    if (!opened) throw new ResponseError(ErrorCodes.NotFound, `there is no pin ${type}/${name}`);
    closeSync(opened.fd);
    const owner = this.recordOf(type, name, opened.inode);
    if (!owner && !existsOrLink(join(this.dir, type, name))) {
      // /run/netns/NAME, made by `ip netns add` or a container engine: theirs, not a pin.
      const what = `net/${name} is an ip netns name that another tool made (ip netns add, podman), not a pin`;
      if (caller.role !== 'admin')
        throw new ResponseError(
          ErrorCodes.AccessDenied,
          `${what}: only root or an admin in /etc/nsx/nsxd.json may release it`,
        );
      if (!force)
        throw new ResponseError(
          ErrorCodes.NeedsConfirmation,
          `${what}; the tool that made it may still use it. Release it anyway with --force (as ip netns delete ${name} would)`,
        );
    }
    if (caller.role !== 'admin' && owner?.uid !== caller.uid) {
      const who = owner
        ? `${owner.user} pinned it`
        : 'it was not pinned through nsxd, or its name now holds another namespace';
      throw new ResponseError(
        ErrorCodes.AccessDenied,
        `you may only unpin your own pins (${who}); an admin in /etc/nsx/nsxd.json may release any`,
      );
    }
    // Only the paths that hold this very namespace: the same name elsewhere may be someone else's now.
    for (const path of this.pathsFor(type, name)) {
      const at = openNsFile(path, type);
      if (!at) continue;
      closeSync(at.fd);
      if (at.inode === opened.inode) unmountAndRemove(path);
    }
    delete this.registry[`${type}/${name}`];
    this.save();
    return { type, inode: opened.inode };
  }

  /** Records of pins that no longer hold their namespace (unmounted behind nsxd's back) count for nothing. */
  private forgetVanished(): void {
    let changed = false;
    for (const [key, record] of Object.entries(this.registry)) {
      const [type, name] = key.split('/') as [NsType, string];
      const at = this.open(type, name);
      if (at) closeSync(at.fd);
      if (at?.inode !== record.inode) {
        delete this.registry[key];
        changed = true;
      }
    }
    if (changed) this.save();
  }

  private pathsFor(type: NsType, name: string): string[] {
    return type === 'net' ? [join(this.dir, type, name), join(NETNS_DIR, name)] : [join(this.dir, type, name)];
  }

  private save(): void {
    const tmp = `${this.registryFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.registry, null, 1), { mode: 0o600 });
    renameSync(tmp, this.registryFile);
  }
}

/** NAME when PATH is DIR/NAME. */
function fileIn(dir: string, path: string): string | undefined {
  const name = path.startsWith(dir + '/') ? path.slice(dir.length + 1) : '';
  return name && !name.includes('/') ? name : undefined;
}

function existsOrLink(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
}

function isMountPoint(path: string): boolean {
  return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).some((m) => m.mountPoint === path);
}

/**
 * /run/netns made what `ip netns add` makes it: a shared mount of itself. Left
 * a plain directory, the first `ip netns add` after a net pin would bind
 * /run/netns over itself, and the pin's mount would live on underneath, where
 * no unpin can reach it.
 */
function prepareNetnsDir(): void {
  mkdirSync(NETNS_DIR, { recursive: true, mode: 0o755 });
  try {
    libc.mount('', NETNS_DIR, 'none', libc.MS_SHARED | libc.MS_REC);
  } catch (err) {
    if ((err as libc.ErrnoError).code !== 'EINVAL') throw err; // EINVAL: not a mount point yet
    libc.mount(NETNS_DIR, NETNS_DIR, 'none', libc.MS_BIND | libc.MS_REC);
    libc.mount('', NETNS_DIR, 'none', libc.MS_SHARED | libc.MS_REC);
  }
}

/** Creates DIR/NAME with O_EXCL through DIR's fd, then mounts onto that very file by its fd. */
function bindAt(ns: OpenedNs, path: string): void {
  const slash = path.lastIndexOf('/');
  const dir = path.slice(0, slash);
  const name = path.slice(slash + 1);
  if (dir === NETNS_DIR) prepareNetnsDir();
  const dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  let fileFd: number | undefined;
  try {
    try {
      // O_CREAT|O_EXCL never follows a symlink: a name that exists in any form fails here.
      fileFd = openSync(
        `/proc/self/fd/${dirFd}/${name}`,
        constants.O_CREAT | constants.O_EXCL | constants.O_RDONLY | constants.O_NOFOLLOW,
        0o444,
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST')
        throw new ResponseError(ErrorCodes.Conflict, `the pin name is in use (${path})`);
      throw err;
    }
    const created = fstatSync(fileFd).ino;
    try {
      libc.mount(`/proc/self/fd/${ns.fd}`, `/proc/self/fd/${fileFd}`, null, libc.MS_BIND);
    } catch (err) {
      // (nsxd's own mount namespace cannot be mounted inside itself, for one.) The name stays free.
      if (lstatSync(path, { throwIfNoEntry: false })?.ino === created) unlinkSync(path);
      throw err;
    }
    // The mount went onto the inode we created; if that inode is no longer at DIR/NAME, undo it.
    const now = lstatSync(path, { throwIfNoEntry: false });
    if (!now || now.ino !== ns.inode) {
      libc.umount2(`/proc/self/fd/${fileFd}`, libc.MNT_DETACH);
      throw new Error(`${path} was replaced while it was being pinned (created inode ${created})`);
    }
  } finally {
    if (fileFd !== undefined) closeSync(fileFd);
    closeSync(dirFd);
  }
}

function unmountAndRemove(path: string): void {
  try {
    libc.umount2(path, libc.MNT_DETACH | libc.UMOUNT_NOFOLLOW);
  } catch {
    // not mounted (a half-made pin); the file still goes
  }
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
