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
  if (ns.type === 'net') {
    const wired = await net?.(ns).catch(() => undefined);
    if (wired) {
      sections.push(...wired.sections);
      return { type: ns.type, inode: ns.inode, sections, ...(wired.net && { net: wired.net }) };
    }
  }
  await TYPE_SECTIONS[ns.type](readers(ns, runInside, sections), ns);
  return { type: ns.type, inode: ns.inode, sections };
}

/** The ways a section is read: a member's /proc file, a host tool run inside, files printed from inside. */
interface Readers {
  member: number | undefined;
  fromMember(title: string, file: string): Promise<void>;
  inside(title: string, command: string[]): Promise<void>;
  catInside(title: string, files: string[]): Promise<void>;
  push(title: string, text: string): void;
}

function readers(ns: Namespace, runInside: RunInside, sections: Details['sections']): Readers {
  const member = ns.pids[0];
  return {
    member,
    fromMember: async (title, file) => {
      if (member === undefined) return;
      const text = await readForeign(`/proc/${member}/${file}`);
      if (text !== undefined) sections.push({ title: `${title} (of pid ${member})`, text });
    },
    inside: async (title, command) => void sections.push({ title, text: await runInside(ns, command) }),
    catInside: async (title, files) => void sections.push({ title, text: await runInside(ns, files, true) }),
    push: (title, text) => void sections.push({ title, text }),
  };
}

/** What each type of namespace says about itself, after the summary. */
const TYPE_SECTIONS: Record<Namespace['type'], (r: Readers, ns: Namespace) => Promise<void>> = {
  uts: (r) => r.catInside('hostname and NIS domain name', ['/proc/sys/kernel/hostname', '/proc/sys/kernel/domainname']),
  net: async (r) => {
    await r.inside('interfaces and addresses (ip address)', ['ip', 'address']);
    await r.inside('routes (ip route)', ['ip', 'route']);
  },
  mnt: async (r) => {
    if (r.member !== undefined) await r.fromMember('mount table', 'mountinfo');
    else r.push('mount table', 'No process is in this mount namespace; open a terminal in it to look around.');
  },
  user: async (r) => {
    if (r.member === undefined) return r.catInside('uid_map and gid_map', ['/proc/self/uid_map', '/proc/self/gid_map']);
    await r.fromMember('uid_map', 'uid_map');
    await r.fromMember('gid_map', 'gid_map');
    await r.fromMember('setgroups', 'setgroups');
  },
  pid: async (r, ns) => r.push('pid translations (host pid: NSpid, outermost first)', pidTranslations(ns)),
  time: (r) =>
    r.member !== undefined
      ? r.fromMember('clock offsets (timens_offsets)', 'timens_offsets')
      : r.catInside('clock offsets (timens_offsets)', ['/proc/self/timens_offsets']),
  cgroup: async (r) => {
    await r.fromMember('cgroup of a member, seen from nsxd', 'cgroup');
    await r.catInside('cgroup of a joining process, seen from inside (relative to the namespace root)', [
      '/proc/self/cgroup',
    ]);
  },
  ipc: (r) => r.inside('System V IPC objects (ipcs)', ['ipcs']),
};

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
