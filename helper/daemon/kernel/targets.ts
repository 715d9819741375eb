// Opens the namespaces a request names, and checks them, before anything is
// done with them: a process's (its start time read before and after, so a
// recycled pid cannot slip in; inodes compared with what the client saw),
// a pin's, or any discovered namespace's through whatever holds it.
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { ResponseError } from 'vscode-jsonrpc/node';
import * as libc from '../../../native/libc';
import type { Scanner } from '../discovery/scanner';
import { parseStat, readFileCapped } from '../discovery/procfs';
import { openNamespace } from '../discovery/openNamespace';
import { ErrorCodes, NsKey, nsId, NsType } from '../../common/protocol';
import { closeAll } from '../fds';

export interface OpenedNs extends NsKey {
  fd: number;
}

function startTime(pid: number): { start: string; comm: string } {
  const text = readFileCapped(`/proc/${pid}/stat`, 'latin1');
  if (text === undefined)
    throw new ResponseError(ErrorCodes.NotFound, `process ${pid} does not exist (it may have exited)`);
  const { starttime, comm } = parseStat(text);
  return { start: starttime, comm };
}

/** /proc/PID/ns/TYPE for each type: the namespaces of the process itself, never *_for_children. */
export function openProcessNamespaces(
  pid: number,
  types: NsType[],
  expected: Partial<Record<NsType, number>> = {},
): { opened: OpenedNs[]; comm: string } {
  const before = startTime(pid);
  const opened: OpenedNs[] = [];
  try {
    for (const type of types) {
      let fd: number;
      try {
        fd = openSync(`/proc/${pid}/ns/${type}`, constants.O_RDONLY);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT')
          throw new ResponseError(
            ErrorCodes.NotFound,
            `process ${pid} has exited, or this kernel has no ${type} namespaces`,
          );
        throw new ResponseError(ErrorCodes.Failed, `cannot open the ${type} namespace of process ${pid}: ${code}`);
      }
      const inode = fstatSync(fd).ino;
      opened.push({ type, inode, fd });
      const want = expected[type];
      if (want !== undefined && want !== inode) {
        throw new ResponseError(
          ErrorCodes.Moved,
          `process ${pid} is no longer in ${nsId({ type, inode: want })} (now ${nsId({ type, inode })}); refresh and try again`,
        );
      }
    }
    if (startTime(pid).start !== before.start)
      throw new ResponseError(ErrorCodes.Moved, `process ${pid} was replaced while it was being opened; try again`);
    return { opened, comm: before.comm };
  } catch (err) {
    closeAll(opened);
    throw err;
  }
}

/**
 * Opens an nsfs file by path and checks it is a namespace of the type asked for.
 * A pin is a plain file with the namespace mounted on it: never follow a symlink
 * there. /proc/PID/ns/* are magic links and must be followed.
 */
export function openNsFile(path: string, type: NsType, opts: { follow?: boolean } = {}): OpenedNs | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (opts.follow ? 0 : constants.O_NOFOLLOW));
  } catch {
    return undefined;
  }
  try {
    if (libc.nsGetNstype(fd) === libc.CLONE_NEW[type]) return { type, inode: fstatSync(fd).ino, fd };
  } catch {
    // not an nsfs file: a pin name with nothing mounted on it
  }
  closeSync(fd);
  return undefined;
}

/** Any namespace nsxd discovered, by type and inode, through its processes, fds or mounts. */
export async function openDiscovered(scanner: Scanner, key: NsKey): Promise<OpenedNs> {
  const fd = await scanner.find(key, (_ns, model) => openNamespace(model, key), 5000);
  if (fd !== undefined) return { ...key, fd };
  throw new ResponseError(
    ErrorCodes.NotFound,
    `there is no ${nsId(key)} now, or nothing nsxd can open holds it (nsx list shows those there are)`,
  );
}
