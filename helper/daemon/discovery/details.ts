// namespaces/details: what a namespace holds, read from a member process's
// /proc files where the kernel shows them there, or else from a host tool run
// inside that one namespace (the kernel layer's act, handed in as `inside`:
// discovery reads, it does not launch).
import { open, FileHandle } from 'node:fs/promises';
import { readFileCapped } from './procfs';
import { Details, Namespace, nsId } from '../../common/protocol';
import { describeHolder, netnsNames, runtimeAndContainer } from '../../common/words';

export const MAX_OUTPUT = 256 * 1024;

/** Runs a host command (or, with cat, reads files) joined to NS alone, and says what it printed. */
export type RunInside = (ns: Namespace, command: string[], cat?: boolean) => Promise<string>;
const READ_DEADLINE_MS = 2000;

/** A net namespace's sections from the wiring nsxd keeps; undefined to fall back on ip's text. */
export type NetSections = (ns: Namespace) => Promise<Pick<Details, 'sections' | 'net'> | undefined>;

export async function readDetails(ns: Namespace, runInside: RunInside, net?: NetSections): Promise<Details> {
  const sections: Details['sections'] = [summary(ns)];
  const member = ns.pids[0];
  const fromMember = async (title: string, file: string) => {
    if (member === undefined) return;
    const text = await readForeign(`/proc/${member}/${file}`);
    if (text !== undefined) sections.push({ title: `${title} (of pid ${member})`, text });
  };
  const inside = async (title: string, command: string[]) => {
    sections.push({ title, text: await runInside(ns, command) });
  };
  const catInside = async (title: string, files: string[]) => {
    sections.push({ title, text: await runInside(ns, files, true) });
  };
  switch (ns.type) {
    case 'uts':
      await catInside('hostname and NIS domain name', ['/proc/sys/kernel/hostname', '/proc/sys/kernel/domainname']);
      break;
    case 'net': {
      const wired = await net?.(ns).catch(() => undefined);
      if (wired) {
        sections.push(...wired.sections);
        return { type: ns.type, inode: ns.inode, sections, ...(wired.net && { net: wired.net }) };
      }
      await inside('interfaces and addresses (ip address)', ['ip', 'address']);
      await inside('routes (ip route)', ['ip', 'route']);
      break;
    }
    case 'mnt':
      if (member !== undefined) await fromMember('mount table', 'mountinfo');
      else
        sections.push({
          title: 'mount table',
          text: 'No process is in this mount namespace; open a terminal in it to look around.',
        });
      break;
    case 'user':
      if (member !== undefined) {
        await fromMember('uid_map', 'uid_map');
        await fromMember('gid_map', 'gid_map');
        await fromMember('setgroups', 'setgroups');
      } else {
        await catInside('uid_map and gid_map', ['/proc/self/uid_map', '/proc/self/gid_map']);
      }
      break;
    case 'pid':
      sections.push({ title: 'pid translations (host pid: NSpid, outermost first)', text: pidTranslations(ns) });
      break;
    case 'time':
      if (member !== undefined) await fromMember('clock offsets (timens_offsets)', 'timens_offsets');
      else await catInside('clock offsets (timens_offsets)', ['/proc/self/timens_offsets']);
      break;
    case 'cgroup':
      await fromMember('cgroup of a member, seen from nsxd', 'cgroup');
      await catInside('cgroup of a joining process, seen from inside (relative to the namespace root)', [
        '/proc/self/cgroup',
      ]);
      break;
    case 'ipc':
      await inside('System V IPC objects (ipcs)', ['ipcs']);
      break;
  }
  return { type: ns.type, inode: ns.inode, sections };
}

/** Said where a section stops short, so that no one takes a part for the whole. */
export const TRUNCATED = `\n… truncated: only the first ${MAX_OUTPUT / 1024} KiB are shown`;

/**
 * A file of a process someone else controls (a mount table can be made 74 MB
 * long): read off the main thread, at most MAX_OUTPUT of it, within a deadline.
 */
async function readForeign(path: string): Promise<string | undefined> {
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch {
    return undefined;
  }
  const deadline = AbortSignal.timeout(READ_DEADLINE_MS);
  const buf = Buffer.alloc(MAX_OUTPUT + 1);
  let length = 0;
  try {
    while (length < buf.length && !deadline.aborted) {
      const { bytesRead } = await file.read(buf, length, buf.length - length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
  } catch {
    return undefined;
  } finally {
    await file.close();
  }
  if (deadline.aborted)
    return `${buf.toString('utf8', 0, Math.min(length, MAX_OUTPUT))}\n… truncated: reading it took longer than ${READ_DEADLINE_MS / 1000} s`;
  if (length > MAX_OUTPUT) return buf.toString('utf8', 0, MAX_OUTPUT) + TRUNCATED;
  return buf.toString('utf8', 0, length);
}

function summary(ns: Namespace): { title: string; text: string } {
  const lines = [
    `namespace     ${nsId(ns)}${ns.initial ? '  (initial)' : ''}`,
    `processes     ${ns.pids.length}${ns.pids.length ? `: ${ns.pids.slice(0, 20).join(' ')}${ns.pids.length > 20 ? ' …' : ''}` : ''}`,
  ];
  if (ns.owner !== undefined) lines.push(`owner         user:[${ns.owner}]`);
  if (ns.parent !== undefined) lines.push(`parent        ${ns.type}:[${ns.parent}]`);
  if (ns.ownerUid !== undefined) lines.push(`owner uid     ${ns.ownerUid}`);
  if (ns.container) lines.push(`container     ${runtimeAndContainer(ns.container)}`);
  for (const pin of ns.pins)
    lines.push(`pin           ${pin.name}${pin.by ? ` by ${pin.by.user}` : ''}: ${pin.paths.join(', ')}`);
  for (const name of netnsNames(ns)) {
    const path = ns.holders.find((h) => h.kind === 'mount' && h.netns === name);
    lines.push(`ip netns      ${name}, made by another tool${path?.kind === 'mount' ? `: ${path.path}` : ''}`);
  }
  for (const h of ns.holders) lines.push(`held by       ${describeHolder(h)}`);
  if (ns.holdersOmitted) lines.push(`held by       … and ${ns.holdersOmitted} more`);
  return { title: 'summary', text: lines.join('\n') };
}

function pidTranslations(ns: Namespace): string {
  const rows: string[] = [];
  for (const pid of ns.pids.slice(0, 200)) {
    const status = readFileCapped(`/proc/${pid}/status`);
    const nspid = status && /^NSpid:\s*(.*)$/m.exec(status)?.[1];
    const comm = status && /^Name:\s*(.*)$/m.exec(status)?.[1];
    if (nspid) rows.push(`${String(pid).padStart(8)}: ${nspid.trim().split(/\s+/).join(' → ')}  ${comm ?? ''}`);
  }
  if (ns.pids.length > 200) rows.push(`… and ${ns.pids.length - 200} more`);
  return rows.length ? rows.join('\n') : 'No process is in this pid namespace.';
}
