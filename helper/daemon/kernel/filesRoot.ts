// Where a files handle looks: the root of a container's first process, of a
// process, or of a mount namespace held by a pin or found by nsxd. A
// process's root is opened O_PATH through /proc/PID/root, its start time read
// before and after (a recycled pid cannot slip in) and its mnt namespace
// compared with what the engine's scan saw; a namespace with no process to
// ask is handed to the helper, which enters it for one open("/").
import { closeSync, fstatSync, openSync, constants } from 'node:fs';
import { ResponseError } from 'vscode-jsonrpc/node';
import type { Caller } from '../access/access';
import { resolveContainer } from '../discovery/containers';
import { parseStat, readFileCapped } from '../discovery/procfs';
import type { Scanner } from '../discovery/scanner';
import type { Pins } from './pins';
import { openDiscovered } from './targets';
import type { LaunchIdentity } from './launcher';
import type { FilesTarget } from '../../common/files';
import { ErrorCodes } from '../../common/protocol';

/** open(2)'s O_PATH (Node's constants lack it): the same value on x86-64, arm64 and most others. */
const O_PATH = 0o10000000;

export interface FilesRoot {
  /** An O_PATH fd of the root folder, or an fd of the mount namespace; the caller closes it. */
  rootFd?: number;
  mntFd?: number;
  title: string;
}

function startTime(pid: number): string {
  const text = readFileCapped(`/proc/${pid}/stat`, 'latin1');
  if (text === undefined)
    throw new ResponseError(ErrorCodes.NotFound, `process ${pid} does not exist (it may have exited)`);
  return parseStat(text).starttime;
}

/** /proc/PID/root, O_PATH, checked: the same process before and after, in mnt namespace mnt if given. */
export function openProcessRoot(pid: number, mnt?: number): number {
  const before = startTime(pid);
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/root`, O_PATH | constants.O_DIRECTORY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ResponseError(
      code === 'ENOENT' ? ErrorCodes.NotFound : ErrorCodes.Failed,
      `cannot open the root of process ${pid}: ${code}`,
    );
  }
  try {
    if (mnt !== undefined) {
      const now = statNs(pid);
      if (now !== mnt)
        throw new ResponseError(ErrorCodes.Moved, `process ${pid} is no longer in mnt:[${mnt}]; refresh and try again`);
    }
    if (startTime(pid) !== before)
      throw new ResponseError(ErrorCodes.Moved, `process ${pid} was replaced while it was being opened; try again`);
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

function statNs(pid: number): number | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(`/proc/${pid}/ns/mnt`, constants.O_RDONLY);
    return fstatSync(fd).ino;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export async function openFilesRoot(target: FilesTarget, scanner: Scanner, pins: Pins): Promise<FilesRoot> {
  if ('pid' in target) {
    const rootFd = openProcessRoot(target.pid);
    const comm = parseStat(readFileCapped(`/proc/${target.pid}/stat`, 'latin1') ?? '()').comm;
    return { rootFd, title: `${comm} (${target.pid})` };
  }
  if ('pin' in target) {
    const opened = pins.open('mnt', target.pin);
    if (!opened) throw new ResponseError(ErrorCodes.NotFound, `there is no mnt pin ${target.pin}`);
    return { mntFd: opened.fd, title: `pin ${target.pin}` };
  }
  if ('mnt' in target) {
    const opened = await openDiscovered(scanner, { type: 'mnt', inode: target.mnt });
    return { mntFd: opened.fd, title: `mnt:[${target.mnt}]` };
  }
  // A container started a moment ago is in no model yet: a fresh scan before saying there is none.
  const c = await scanner
    .model(2000)
    .then((m) => resolveContainer(m.containers, target.container))
    .catch(async () => resolveContainer((await scanner.model(0)).containers, target.container));
  const mnt = c.namespaces.find((k) => k.type === 'mnt')?.inode;
  return { rootFd: openProcessRoot(c.pid!, mnt), title: `${c.name} (${c.engine})` };
}

/** Whom the files are seen as: root where asked and granted (or the caller is root), else the caller. */
export function filesIdentity(root: boolean, caller: Caller): { asRoot: boolean; identity: LaunchIdentity } {
  if (root || caller.uid === 0) return { asRoot: true, identity: { uid: 0, gid: 0, groups: [0] } };
  // Group 0 is root's even as a supplementary group.
  return {
    asRoot: false,
    identity: { uid: caller.uid, gid: caller.gid, groups: caller.groups.filter((g) => g !== 0) },
  };
}
