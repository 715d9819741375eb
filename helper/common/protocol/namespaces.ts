// namespaces/*: listing, printing, subscribing to changes, a namespace's details.
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';
import * as parse from '../parse';
import { NsKey, NsType, parseNsKey, parseNsTypes } from './core';
import type { Container, EngineApi, Namespace, Process, ScanCut, WireSnapshot } from './model';
import type { NetNamespace } from '../net';

export interface ListParams {
  /**
   * Read all of /proc now. Without it, where nsxd has the kernel's process
   * events, the answer is the model they keep (what an open view shows):
   * true of every process started, exec'd or exited, and of the rest (an fd
   * opened to a namespace, setns without exec, a mount in another mount
   * namespace) as of nsxd's last full scan, which is never older than a
   * subscriber's rescan would be. With it, the answer is of a full scan
   * that runs as it is asked, or a new one; but scans asked for take 1 in 5
   * of nsxd's time at most, whoever asks: a rescan asked sooner after the
   * last (within 4 of its durations, in time or CPU time) is answered from
   * that scan and the events since.
   */
  rescan?: boolean;
}
/** client → nsxd: every namespace and process, as now. */
export const ListNamespaces = new RequestType<ListParams | undefined, WireSnapshot, void>('namespaces/list');
export function parseList(value: unknown): ListParams {
  const p = parse.object(value ?? {});
  return { rescan: parse.bool(p.rescan, 'rescan') };
}

/** The columns of `nsx list`, by lsns's names, and CONTAINER. */
export const LIST_COLUMNS = [
  'NS',
  'TYPE',
  'PATH',
  'NPROCS',
  'PID',
  'PPID',
  'UID',
  'USER',
  'NSFS',
  'PNS',
  'ONS',
  'CONTAINER',
  'COMMAND',
] as const;
export type ListColumn = (typeof LIST_COLUMNS)[number];

export interface PrintParams extends ListParams {
  /** Only namespaces of these types; all when absent. */
  types?: NsType[];
  /** lsns's -o: these columns, by lsns's names (NS, TYPE, PATH, NPROCS, PID, PPID, UID, USER, NSFS, PNS, ONS, CONTAINER, COMMAND). */
  columns?: ListColumn[];
  /** lsns's -n. */
  noHeadings?: boolean;
  /** lsns's -r. */
  raw?: boolean;
}
/**
 * client → nsxd: the table `nsx list` prints, written here so that a client
 * need only copy it out. native/nsx.c, the C front of nsx, speaks this one
 * request: it starts in a millisecond where Node takes sixty. (--json stays
 * the Node client's: it spells each namespace's processes, many times the
 * snapshot, and that is no memory for a root daemon to spend.)
 */
export const PrintNamespaces = new RequestType<PrintParams, PrintResult, void>('namespaces/print');
export interface PrintResult {
  /** The table, for stdout. */
  text: string;
  /** A line for stderr, under the table: what the scan left unread (Snapshot.cut); absent when nothing. */
  notice?: string;
}
export function parsePrint(value: unknown): PrintParams {
  const p = parse.object(value ?? {});
  const req: PrintParams = { rescan: parse.bool(p.rescan, 'rescan') };
  if (parse.bool(p.noHeadings, 'noHeadings')) req.noHeadings = true;
  if (parse.bool(p.raw, 'raw')) req.raw = true;
  if (p.types !== undefined) req.types = parseNsTypes(p.types);
  if (p.columns !== undefined) {
    if (!Array.isArray(p.columns) || p.columns.length === 0 || p.columns.length > 32)
      throw parse.invalid('columns must be a non-empty array of at most 32 column names');
    req.columns = p.columns.map((c, i) => {
      const name = parse.text(c, `columns[${i}]`, 16);
      if (!(LIST_COLUMNS as readonly string[]).includes(name))
        throw parse.invalid(`unknown column ${JSON.stringify(name)} (one of ${LIST_COLUMNS.join(', ')})`);
      return name as ListColumn;
    });
  }
  return req;
}

export interface SubscribeParams {
  /** Poll interval nsxd may stretch when a scan is slow; where nsxd has the kernel's process events, it needs no poll and rescans at its own pace. */
  intervalMs: number;
}
/** client → nsxd: the snapshot now, then NamespacesChangedNotification on every change. */
export const Subscribe = new RequestType<Partial<SubscribeParams> | undefined, WireSnapshot, void>(
  'namespaces/subscribe',
);
export function parseSubscribe(value: unknown): SubscribeParams {
  const p = parse.object(value ?? {});
  return { intervalMs: p.intervalMs === undefined ? 2000 : parse.int(p.intervalMs, 'intervalMs', 500, 3_600_000) };
}
/** client → nsxd */
export const Unsubscribe = new RequestType0<null, void>('namespaces/unsubscribe');

/** A namespace that changed: its fields as now, but its pids as what joined and what left. */
export interface NamespaceChange extends Omit<Namespace, 'pids'> {
  pidsAdded: number[];
  pidsRemoved: number[];
}

/** Applies a change to the namespace it was made from (none: one the client has not seen, so all its pids are new). */
export function applyNamespaceChange(before: Namespace | undefined, change: NamespaceChange): Namespace {
  const { pidsAdded, pidsRemoved, ...rest } = change;
  const gone = new Set(pidsRemoved);
  const pids = (before?.pids ?? []).filter((pid) => !gone.has(pid));
  const have = new Set(pids);
  for (const pid of pidsAdded) if (!have.has(pid)) pids.push(pid);
  return { ...rest, pids };
}

/**
 * What changed since the previous change (or the snapshot subscribe
 * answered): a fork in the host's namespaces costs a pid per type, not every
 * pid they have.
 */
export interface NamespacesChanged {
  added: Namespace[];
  changed: NamespaceChange[];
  removed: NsKey[];
  processesAdded: Process[];
  processesChanged: Process[];
  processesRemoved: number[];
  /** Every container, when any of them changed. */
  containers?: Container[];
  /** Every engine's API, when any of them changed. */
  engines?: EngineApi[];
  scanMs: number;
  /** What the model as of this change left unread, as Snapshot.cut: sent with every change; absent when nothing. */
  cut?: ScanCut;
}
/** nsxd → client, while subscribed. */
export const NamespacesChangedNotification = new NotificationType<NamespacesChanged>('namespaces/changed');

export type DetailsParams = NsKey;
export interface Details extends NsKey {
  /** Title and text sections, each a short table or listing read inside the namespace. */
  sections: { title: string; text: string }[];
  /** For net: its interfaces, their other ends, addresses and routes (helper/common/net.ts). */
  net?: NetNamespace;
}
/** client → nsxd */
export const NamespaceDetails = new RequestType<DetailsParams, Details, void>('namespaces/details');
export function parseDetails(value: unknown): DetailsParams {
  return parseNsKey(value, 'params');
}
