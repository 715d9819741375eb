// namespaces/details: what a namespace holds, read from a member process's
// /proc files where the kernel shows them there, or else by a short-lived
// nsx-exec that joins that one namespace (as root) and runs a host tool.
import { open, FileHandle } from 'node:fs/promises';
import { readProcFile } from './procfs';
import type { Model } from './snapshot';
import { openNamespace } from './snapshot';
import { launch } from '../kernel/launcher';
import { Details, Namespace, nsId } from '../../common/protocol';
import { describeHolder, netnsNames } from '../../common/words';
import { NETNS_DIR } from '../kernel/pins';
import { closeQuietly } from '../kernel/cgroup';

const MAX_OUTPUT = 256 * 1024;
const READ_DEADLINE_MS = 2000;

export async function readDetails(ns: Namespace, model: Model): Promise<Details> {
  const sections: Details['sections'] = [summary(ns)];
  const member = ns.pids[0];
  const fromMember = async (title: string, file: string) => {
    if (member === undefined) return;
    const text = await readForeign(`/proc/${member}/${file}`);
    if (text !== undefined) sections.push({ title: `${title} (of pid ${member})`, text });
  };
  const inside = async (title: string, command: string[]) => {
    sections.push({ title, text: await runInside(ns, model, command) });
  };
  const catInside = async (title: string, files: string[]) => {
    sections.push({ title, text: await runInside(ns, model, files, true) });
  };
  switch (ns.type) {
    case 'uts':
      await catInside('hostname and NIS domain name', ['/proc/sys/kernel/hostname', '/proc/sys/kernel/domainname']);
      break;
    case 'net':
      await inside('interfaces and addresses (ip address)', ['ip', 'address']);
      await inside('routes (ip route)', ['ip', 'route']);
      break;
    case 'mnt':
      if (member !== undefined) await fromMember('mount table', 'mountinfo');
      else sections.push({ title: 'mount table', text: 'No process is in this mount namespace; open a terminal in it to look around.' });
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
      await catInside('cgroup of a joining process, seen from inside (relative to the namespace root)', ['/proc/self/cgroup']);
      break;
    case 'ipc':
      await inside('System V IPC objects (ipcs)', ['ipcs']);
      break;
  }
  return { type: ns.type, inode: ns.inode, sections };
}

/** Said where a section stops short, so that no one takes a part for the whole. */
const TRUNCATED = `\n… truncated: only the first ${MAX_OUTPUT / 1024} KiB are shown`;

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
  if (deadline.aborted) return `${buf.toString('utf8', 0, Math.min(length, MAX_OUTPUT))}\n… truncated: reading it took longer than ${READ_DEADLINE_MS / 1000} s`;
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
  if (ns.container) lines.push(`container     ${ns.container.runtime} ${ns.container.name ?? ns.container.id}`);
  for (const pin of ns.pins) lines.push(`pin           ${pin.name}${pin.by ? ` by ${pin.by.user}` : ''}: ${pin.paths.join(', ')}`);
  for (const name of netnsNames(ns)) lines.push(`ip netns      ${name}, made by another tool: ${NETNS_DIR}/${name}`);
  for (const h of ns.holders) lines.push(`held by       ${describeHolder(h)}`);
  if (ns.holdersOmitted) lines.push(`held by       … and ${ns.holdersOmitted} more`);
  return { title: 'summary', text: lines.join('\n') };
}

function pidTranslations(ns: Namespace): string {
  const rows: string[] = [];
  for (const pid of ns.pids.slice(0, 200)) {
    const status = readProcFile(`/proc/${pid}/status`);
    const nspid = status && /^NSpid:\s*(.*)$/m.exec(status)?.[1];
    const comm = status && /^Name:\s*(.*)$/m.exec(status)?.[1];
    if (nspid) rows.push(`${String(pid).padStart(8)}: ${nspid.trim().split(/\s+/).join(' → ')}  ${comm ?? ''}`);
  }
  if (ns.pids.length > 200) rows.push(`… and ${ns.pids.length - 200} more`);
  return rows.length ? rows.join('\n') : 'No process is in this pid namespace.';
}

/** Runs a host command joined to this one namespace only, as root, and returns what it printed. */
async function runInside(ns: Namespace, model: Model, command: string[], cat = false): Promise<string> {
  const fd = openNamespace(model, ns);
  if (fd === undefined) return 'nsxd can no longer open this namespace.';
  const { child, ready } = launch({ joins: [{ type: ns.type, fd }], unshare: [], command, cat, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' } });
  closeQuietly(fd);
  child.stdin?.end();
  let out = '';
  let cut = false;
  const collect = (chunk: Buffer) => {
    if (out.length < MAX_OUTPUT) out += chunk.toString();
    if (out.length > MAX_OUTPUT) {
      out = out.slice(0, MAX_OUTPUT);
      cut = true;
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  try {
    await ready;
  } catch (err) {
    return `(${(err as Error).message})`;
  } finally {
    await exited;
    clearTimeout(timer);
  }
  return (out.trimEnd() || '(nothing)') + (cut ? TRUNCATED : '');
}
