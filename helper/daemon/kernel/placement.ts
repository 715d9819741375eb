// Where a session's shell goes (the namespaces it joins or gets anew, and a
// title that says so) and the refusals that need those namespaces opened:
// who a shell may run as inside them, and where a root shell may not go.
import { fstatSync } from 'node:fs';
import { ResponseError } from 'vscode-jsonrpc/node';
import * as libc from '../../../native/libc';
import * as parse from '../../common/parse';
import { ErrorCodes, isolateDefault, NsKey, nsId, NsType, TerminalOpenParams } from '../../common/protocol';
import type { Caller } from '../access/access';
import { resolveContainer } from '../discovery/containers';
import type { ContainerProcess } from '../discovery/engines';
import { KERNEL_NSTYPES, readNsLink } from '../discovery/procfs';
import type { Scanner } from '../discovery/scanner';
import { closeQuietly } from '../fds';
import type { RunAs } from './environment';
import { mapIntoUserns, MappedIds } from './idmap';
import type { SessionDeps } from './sessions';
import { openDiscovered, openProcessNamespaces, OpenedNs } from './targets';

/** Where the shell goes: the namespaces to join (opened, checked fds) or to create, and a title that says so. */
export interface Placement {
  joins: OpenedNs[];
  unshare: NsType[];
  title: string;
  /** In a container: its environment and working directory, as `docker exec` gives them. */
  inside?: ContainerProcess;
}

export async function place(
  req: TerminalOpenParams,
  caller: Caller,
  who: RunAs,
  deps: SessionDeps,
): Promise<Placement> {
  const t = req.target;
  if (!t) {
    const unshare = req.types ?? isolateDefault(KERNEL_NSTYPES);
    for (const type of unshare)
      if (!KERNEL_NSTYPES.includes(type)) throw parse.invalid(`this kernel has no ${type} namespaces`);
    return { joins: [], unshare, title: `isolated ${unshare.join(',')}${req.hostname ? ` (${req.hostname})` : ''}` };
  }
  if ('pid' in t) {
    const { opened, comm } = openProcessNamespaces(t.pid, req.types ?? KERNEL_NSTYPES, t.inodes);
    const shown = opened.find((ns) => ns.type === 'net') ?? opened[0];
    return { joins: opened, unshare: [], title: `${nsId(shown)} ${comm} (${t.pid})` };
  }
  if ('pin' in t) {
    const opened = deps.pins.open(t.pin.type, t.pin.name);
    if (!opened) throw new ResponseError(ErrorCodes.NotFound, `there is no pin ${t.pin.type}/${t.pin.name}`);
    return { joins: [opened], unshare: [], title: `${nsId(opened)} pin ${t.pin.name}` };
  }
  if ('namespace' in t)
    return { joins: [await openDiscovered(deps.scanner, t.namespace)], unshare: [], title: nsId(t.namespace) };
  const c = resolveContainer((await deps.scanner.model(2000)).containers, t.container);
  // The namespaces the engine's process was in at the scan: a pid reused since cannot redirect the shell.
  const inodes = Object.fromEntries(c.namespaces.map((k) => [k.type, k.inode]));
  const types = (req.types ?? c.namespaces.map((k) => k.type)).filter((type) => inodes[type] !== undefined);
  const { opened } = openProcessNamespaces(c.pid!, types, inodes);
  // Its environment and working directory are its engine's words about its files. They reach a shell only in the
  // container's own mount namespace (with the host's, LD_PRELOAD=/home/them/x.so would name a host file), and only
  // from an engine the shell's user already trusts: root's, or the user's own rootless engine for a shell that runs
  // as that user. A rootless engine never speaks into root's shell or another user's.
  const trusted = c.engineUid === 0 || (!who.asRoot && c.engineUid === caller.uid);
  const inside = types.includes('mnt') && trusted ? await c.exec?.().catch(() => undefined) : undefined;
  return { joins: opened, unshare: [], title: `${c.name} (${c.engine})`, ...(inside ? { inside } : {}) };
}

/** Refusals that need the opened namespaces; each leaves nothing behind (the caller closes the fds). */
export async function check(
  req: TerminalOpenParams,
  caller: Caller,
  deps: SessionDeps,
  who: RunAs,
  where: Placement,
): Promise<void> {
  const userns = where.joins.find((ns) => ns.type === 'user');
  if (userns && !who.asRoot) {
    // Inside a joined user namespace the shell's ids are that namespace's: translate the caller's.
    const t = req.target;
    const mapped = await idsInside(userns, t && 'pid' in t ? t.pid : undefined, caller, deps.scanner);
    if (typeof mapped === 'string') {
      throw new ResponseError(
        ErrorCodes.Failed,
        `cannot enter ${nsId(userns)} as ${caller.user}: ${mapped}; leave the user namespace out (-t without user) or ask for a root shell`,
      );
    }
    who.identity.uid = mapped.uid;
    who.identity.gid = mapped.gid;
  }
  if (who.asRoot) refuseForeignMounts(where.joins, deps.userName);
  if (req.freshProc && !where.joins.some((ns) => ns.type === 'pid'))
    throw parse.invalid('freshProc needs the pid namespace to be joined');
  if (req.hostname && !where.unshare.includes('uts')) throw parse.invalid('a hostname needs a new uts namespace');
}

/**
 * A root shell never runs in a mount namespace that a user other than root
 * made (through a user namespace of theirs): every binary and library there is
 * theirs to replace, and root would run them with root's powers over the host.
 * Joining that user namespace too is fine: root is then no more than its
 * owner already is there.
 */
function refuseForeignMounts(joins: OpenedNs[], userName: (uid: number) => string): void {
  const mnt = joins.find((ns) => ns.type === 'mnt');
  if (!mnt) return;
  const ownerFd = libc.nsGetUserns(mnt.fd);
  let owner: NsKey;
  let ownerUid: number;
  try {
    owner = { type: 'user', inode: fstatSync(ownerFd).ino };
    ownerUid = libc.nsGetOwnerUid(ownerFd);
  } finally {
    closeQuietly(ownerFd);
  }
  if (ownerUid === 0 || joins.some((ns) => ns.type === 'user' && ns.inode === owner.inode)) return;
  throw new ResponseError(
    ErrorCodes.AccessDenied,
    `no root shell in ${nsId(mnt)}: it belongs to ${nsId(owner)}, which ${userName(ownerUid)} (uid ${ownerUid}) made, so its files are theirs to change and a root shell would run them as root. ` +
      'Open the shell as yourself, join that user namespace too, or leave mnt out (-t without mnt)',
  );
}

/** The caller's ids in a user namespace, from the maps of a process that is in it (checked by inode after reading). */
async function idsInside(
  userns: NsKey,
  pid: number | undefined,
  caller: Caller,
  scanner: Scanner,
): Promise<MappedIds | string> {
  const candidates = pid !== undefined ? [pid] : ((await scanner.find(userns, (ns) => ns.pids, 5000)) ?? []);
  for (const p of candidates.slice(0, 5)) {
    try {
      const mapped = mapIntoUserns(p, caller.uid, caller.gid);
      if (readNsLink(`/proc/${p}/ns/user`)?.[1] === userns.inode) return mapped;
    } catch {
      // exited meanwhile: try the next
    }
  }
  return 'no process is in it to read its uid and gid maps from';
}
