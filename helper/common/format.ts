// What nsx prints: lsns-like tables, the user-namespace tree, the JSON of
// --json. Its words about a namespace are in words.ts, which the extension shares. Pure functions of protocol
// values, so that what reaches a terminal is tested without a daemon. nsxd
// uses them too, to answer namespaces/print with the table of `nsx list`.
import {
  Container,
  ListColumn,
  Namespace,
  nsId,
  NsType,
  PinnedNamespace,
  Process,
  ScanCut,
  Snapshot,
} from './protocol';
import { containerLabel, describeHolder, engineLabel, netnsNames, runtimeAndContainer } from './words';

/**
 * What processes and containers named themselves (comm, cmdline, interface
 * names) reaches the terminal only with control and bidirectional-formatting
 * characters made visible, so that no escape sequence in them acts on the
 * terminal and no newline or right-to-left override forges a row.
 */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
const CONTROL_OR_LAYOUT = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** What JSON.stringify writes as it is and a terminal may act on: DEL, the C1 controls (U+009B is a CSI to a terminal that reads UTF-8), the bidirectional marks and overrides. */
const JSON_RAW_CONTROL = /[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * VALUE as nsx's --json writes it: JSON.stringify escapes what is below
 * 0x20 only; the rest of what printable() makes visible is written as \u
 * escapes too (it can only be inside a string), which every JSON reader
 * decodes to the same text.
 */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    JSON_RAW_CONTROL,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A text block whose tabs and newlines are layout (details sections). */
export function printable(text: string): string {
  return text.replace(CONTROL, escapeChar);
}

/** Whether a name holds a character that would act on a terminal or reorder its line (engines' names with one are refused). */
export function hasControl(text: string): boolean {
  return new RegExp(CONTROL_OR_LAYOUT.source).test(text);
}

/** One cell of a row: tabs and newlines in it are not ours either. */
export function field(text: string): string {
  return text.replace(CONTROL_OR_LAYOUT, escapeChar);
}

/** The names a namespace goes by, with who made each (a net pin is what `ip netns exec NAME` enters). */
export function names(ns: Namespace): string {
  return [
    ...ns.pins.map((pin) => `pin ${pin.name} (by ${pin.by?.user ?? 'an unrecorded user'})`),
    ...netnsNames(ns).map((name) => `ip netns ${name} (by another tool)`),
  ].join(', ');
}

/**
 * The text of `nsx list --json`, in UTF-8 parts: jsonText of every namespace
 * with its processes spelled out, and of the containers (and engines, and
 * what the scan cut). A process is in each of its eight namespaces, all at
 * the same depth of the text, so its text is made and encoded once and put
 * in each: at 20,000 processes the whole is 37 MB, and making it as one
 * value's text (each process eight times, then escaping and encoding the
 * whole) took most of nsx's time.
 */
export function listJsonParts(namespaces: Namespace[], snapshot: Snapshot): Uint8Array[] {
  const byPid = new Map<number, Process>(snapshot.processes.map((p) => [p.pid, p]));
  const made = new Map<number, Buffer>();
  /** A process as a member of a processes array, after the comma: `,\n        {…}`. */
  const member = (pid: number): Buffer => {
    let bytes = made.get(pid);
    if (bytes === undefined) {
      const p = byPid.get(pid)!;
      const value = { pid: p.pid, ppid: p.ppid, comm: p.comm, cmdline: p.cmdline, uid: p.uid, user: p.user };
      made.set(pid, (bytes = utf8(`,\n        ${indented(jsonText(value), 4)}`)));
    }
    return bytes;
  };
  // Each object is written with a 0 where its array goes (its first or last member), which is then cut out.
  const top = jsonText({ namespaces: 0, ...others(snapshot) });
  const parts: Uint8Array[] = [utf8('{\n  "namespaces": ')];
  namespaces.forEach((ns, i) => {
    // What nsxd sent is not trusted to lack the two members added here: each comes once, the last.
    const {
      pids: all,
      nprocs: _n,
      processes: _p,
      ...rest
    } = ns as Namespace & { nprocs?: unknown; processes?: unknown };
    // Nor to list only pids it sent processes of: another is not counted.
    const pids = all.filter((pid) => byPid.has(pid));
    const text = indented(jsonText({ ...rest, nprocs: pids.length, processes: 0 }), 2);
    parts.push(utf8(`${i === 0 ? '[' : ','}\n    ${text.slice(0, -'0\n    }'.length)}${pids.length ? '[' : '[]'}`));
    pids.forEach((pid, j) => parts.push(j === 0 ? member(pid).subarray(1) : member(pid)));
    parts.push(pids.length ? CLOSE_PROCESSES : CLOSE_NAMESPACE);
  });
  parts.push(utf8(`${namespaces.length ? '\n  ]' : '[]'}${top.slice('{\n  "namespaces": 0'.length)}\n`));
  return parts;
}

const utf8 = (text: string) => Buffer.from(text, 'utf8');
const CLOSE_NAMESPACE = utf8('\n    }');
const CLOSE_PROCESSES = utf8('\n      ]\n    }');

/** What `nsx list --json` has beside the namespaces. */
function others(snapshot: Snapshot) {
  return {
    containers: snapshot.containers,
    ...(snapshot.engines ? { engines: snapshot.engines } : {}),
    ...(snapshot.cut ? { cut: snapshot.cut } : {}),
  };
}

/** TEXT, a value of the JSON at DEPTH: JSON.stringify indents what is inside by the depth (a string holds no raw newline). */
const indented = (text: string, depth: number) => text.replace(/\n/g, `\n${'  '.repeat(depth)}`);

/** Rows of cells under a header, columns padded (numbers to the right), the last column as it is. */
function columns(rows: string[][], numeric: number[]): string {
  if (rows.length === 0) return '';
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const cell = (text: string, i: number, last: boolean) =>
    last ? text : numeric.includes(i) ? text.padStart(widths[i]) : text.padEnd(widths[i]);
  return (
    rows
      .map((r) =>
        r
          .map((text, i) => cell(text, i, i === r.length - 1))
          .join(' ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** What a namespace's row shows in each column: its lowest process stands for it, as in lsns. */
interface Row {
  ns: Namespace;
  p?: Process;
}

/** The line `nsx list` and `nsx tree` write on stderr, under their output, when the scan left fds unread: the list may lack a namespace. */
export function cutNotice(cut: ScanCut): string {
  const pids = `${cut.pids.join(', ')}${cut.processes > cut.pids.length ? ', …' : ''}`;
  return `nsx: at least ${cut.fds.toLocaleString('en-US')} fds of ${cut.processes} processes (pids ${pids}) were not read, past what a scan reads of each and of all: a namespace that only they hold is not listed\n`;
}

/**
 * The columns of `nsx list`, by lsns's names (`lsns -o`), and CONTAINER,
 * ours. NSFS is where the namespace is bind-mounted (pins, ip netns names).
 */
const COLUMNS: Record<ListColumn, { numeric?: boolean; cell(r: Row): string }> = {
  NS: { numeric: true, cell: ({ ns }) => String(ns.inode) },
  TYPE: { cell: ({ ns }) => ns.type },
  PATH: { cell: ({ ns, p }) => (p ? `/proc/${p.pid}/ns/${ns.type}` : '') },
  NPROCS: { numeric: true, cell: ({ ns }) => String(ns.pids.length) },
  PID: { numeric: true, cell: ({ p }) => (p ? String(p.pid) : '') },
  PPID: { numeric: true, cell: ({ p }) => (p ? String(p.ppid) : '') },
  UID: { numeric: true, cell: ({ p }) => (p ? String(p.uid) : '') },
  USER: { cell: ({ p }) => p?.user ?? '' },
  NSFS: {
    cell: ({ ns }) =>
      [
        ...new Set([
          ...ns.pins.flatMap((pin) => pin.paths),
          ...ns.holders.flatMap((h) => (h.kind === 'mount' ? [h.path] : [])),
        ]),
      ].join(','),
  },
  PNS: { numeric: true, cell: ({ ns }) => (ns.parent !== undefined ? String(ns.parent) : '') },
  ONS: { numeric: true, cell: ({ ns }) => (ns.owner !== undefined ? String(ns.owner) : '') },
  CONTAINER: { cell: ({ ns }) => (ns.container ? containerLabel(ns.container) : '') },
  COMMAND: {
    cell: ({ ns, p }) =>
      p ? p.cmdline.join(' ') || `[${p.comm}]` : names(ns) || ns.holders.map(describeHolder).join('; '),
  },
};
export const DEFAULT_LIST_COLUMNS: ListColumn[] = [
  'NS',
  'TYPE',
  'NPROCS',
  'PID',
  'USER',
  'NSFS',
  'CONTAINER',
  'COMMAND',
];

/** How `nsx list` lays out its table: lsns's -o, -n and -r. */
export interface TableOptions {
  columns?: ListColumn[];
  noHeadings?: boolean;
  /** lsns -r: cells separated by one space, each blank and backslash in them written as \xNN. */
  raw?: boolean;
}

/** `nsx list`: lsns's columns, and the container each namespace belongs to; made printable. */
export function listTable(snapshot: Snapshot, types?: NsType[], opts: TableOptions = {}): string {
  return printable(
    table(
      snapshot.namespaces.filter((ns) => !types || types.includes(ns.type)),
      snapshot,
      opts,
    ),
  );
}

export function table(namespaces: Namespace[], snapshot: Snapshot, opts: TableOptions = {}): string {
  const byPid = new Map<number, Process>(snapshot.processes.map((p) => [p.pid, p]));
  const names = opts.columns ?? DEFAULT_LIST_COLUMNS;
  const sorted = [...namespaces].sort((a, b) => a.inode - b.inode || a.type.localeCompare(b.type));
  const rows = sorted.map((ns) => {
    const row = { ns, p: byPid.get(Math.min(...ns.pids)) };
    return names.map((name) => field(COLUMNS[name].cell(row)));
  });
  if (!opts.noHeadings) rows.unshift([...names]);
  if (opts.raw)
    return (
      rows
        .map((r) =>
          r
            .map((cell) => cell.replace(/[\s\\]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`))
            .join(' '),
        )
        .join('\n') + (rows.length ? '\n' : '')
    );
  return columns(
    rows,
    names.flatMap((name, i) => (COLUMNS[name].numeric ? [i] : [])),
  );
}

/** `nsx containers`: every container the engines reported. */
export function containerTable(containers: Container[]): string {
  const rows = [['ENGINE', 'NAME', 'ID', 'IMAGE', 'STATE', 'PID', 'POD', 'HOSTNAME']];
  const sorted = [...containers].sort((a, b) => a.engine.localeCompare(b.engine) || a.name.localeCompare(b.name));
  for (const c of sorted) {
    rows.push(
      [
        engineLabel(c.engine, c.engineUid),
        c.name,
        c.id.slice(0, 12),
        c.image,
        c.state,
        c.pid ? String(c.pid) : '',
        c.pod ?? c.project ?? '',
        c.hostname ?? '',
      ].map(field),
    );
  }
  return columns(rows, [5]);
}

export function tree(snapshot: Snapshot): string {
  const users = snapshot.namespaces.filter((ns) => ns.type === 'user');
  const known = new Set(users.map((u) => u.inode));
  const byPid = new Map<number, Process>(snapshot.processes.map((p) => [p.pid, p]));
  const label = (ns: Namespace) => {
    const p = byPid.get(Math.min(...ns.pids));
    const extra = [
      ns.initial ? 'initial' : '',
      ns.container ? runtimeAndContainer(ns.container) : '',
      names(ns),
      p ? `${p.comm} (${p.pid})` : '',
    ]
      .filter(Boolean)
      .map(field);
    return `${nsId(ns)}${ns.ownerUid !== undefined ? ` uid ${ns.ownerUid}` : ''}  ${ns.pids.length} procs${extra.length ? `  ${extra.join(', ')}` : ''}`;
  };
  const lines: string[] = [];
  const walk = (user: Namespace, indent: string) => {
    lines.push(`${indent}${label(user)}`);
    const owned = snapshot.namespaces.filter((ns) => ns.type !== 'user' && ns.owner === user.inode);
    for (const ns of owned.sort((a, b) => a.type.localeCompare(b.type))) lines.push(`${indent}  ├ ${label(ns)}`);
    for (const child of users.filter((u) => u.parent === user.inode)) walk(child, indent + '  ');
  };
  for (const root of users.filter((u) => u.parent === undefined || !known.has(u.parent))) walk(root, '');
  return lines.join('\n') + '\n';
}

/** `nsx pins`: one tab-separated row per pin. */
export function pinRows(pins: PinnedNamespace[]): string {
  return pins
    .flatMap((p) =>
      p.pins.map(
        (pin) =>
          `${[`${p.type}/${pin.name}`, nsId(p), pin.by?.user ?? '-', pin.paths.join(' ')].map(field).join('\t')}\n`,
      ),
    )
    .join('');
}
