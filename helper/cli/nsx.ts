// nsx: the command-line client of nsxd, with lsns-, nsenter- and unshare-like verbs.
import { parseArgs } from 'node:util';
import { ResponseError } from 'vscode-jsonrpc/node';
import { attach } from './attach';
import { Client, connect } from '../common/client';
import { defaultSocket } from '../common/deployment';
import {
  CreateNamespace, isNsType, ListNamespaces, ListPins, Namespace, NamespaceDetails, nsId, NsType, NSTYPES, PinNamespace, Process, Snapshot, UnpinNamespace,
} from '../common/protocol';
import { describeHolder, netnsNames } from '../common/words';

const USAGE = `usage: nsx [--socket PATH] COMMAND
  list [--json] [-t TYPE]          every namespace, like lsns (NS TYPE NPROCS PID USER COMMAND)
  tree                             the user-namespace hierarchy and what each owns
  details TYPE:INODE               what a namespace holds (hostname, interfaces, mounts, maps ...)
  enter PID [-t TYPE,...] [--root] [--fresh-proc] [-- COMMAND ARGS...]
                                   a shell or command in the namespaces of PID (all by default)
  enter --pin TYPE/NAME [--root] [-- COMMAND ARGS...]
  isolate [-t TYPE,...] [--hostname NAME] [--root] [-- COMMAND ARGS...]
                                   a shell or command in fresh namespaces
  pin PID TYPE NAME                keep the TYPE namespace of PID alive as NAME
  pin --new TYPE NAME              a new, empty namespace held by its pin
  unpin TYPE NAME [--force]        --force: also an ip netns name another tool made (root, admins)
  pins [--json]
The socket is --socket, else $NSX_SOCKET, else /run/nsx/nsxd.sock.
`;

class UsageError extends Error {}

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

/** A text block whose tabs and newlines are layout (details sections). */
function printable(text: string): string {
  return text.replace(CONTROL, escapeChar);
}

/** One cell of a row: tabs and newlines in it are not ours either. */
function field(text: string): string {
  return text.replace(CONTROL_OR_LAYOUT, escapeChar);
}

/** The names a namespace goes by, with who made each (a net pin is what `ip netns exec NAME` enters). */
function names(ns: Namespace): string {
  return [
    ...ns.pins.map((pin) => `pin ${pin.name} (by ${pin.by?.user ?? 'an unrecorded user'})`),
    ...netnsNames(ns).map((name) => `ip netns ${name} (by another tool)`),
  ].join(', ');
}

function types(value: string | undefined): NsType[] | undefined {
  if (value === undefined) return undefined;
  const list = value.split(',').map((t) => t.trim()).filter(Boolean);
  for (const t of list) if (!isNsType(t)) throw new UsageError(`unknown namespace type "${t}" (one of ${NSTYPES.join(', ')})`);
  return list as NsType[];
}

function positiveInt(value: string | undefined, what: string): number {
  if (!value || !/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`${what} must be a positive number, not ${JSON.stringify(value ?? '')}`);
  return Number(value);
}

function nsType(value: string | undefined): NsType {
  if (!isNsType(value)) throw new UsageError(`unknown namespace type "${value ?? ''}" (one of ${NSTYPES.join(', ')})`);
  return value;
}

async function main(argv: string[]): Promise<number> {
  const dashdash = argv.indexOf('--');
  const command = dashdash >= 0 ? argv.slice(dashdash + 1) : undefined;
  const { values, positionals } = parseArgs({
    args: dashdash >= 0 ? argv.slice(0, dashdash) : argv,
    allowPositionals: true,
    options: {
      socket: { type: 'string' },
      json: { type: 'boolean' },
      type: { type: 'string', short: 't' },
      root: { type: 'boolean' },
      'fresh-proc': { type: 'boolean' },
      pin: { type: 'string' },
      new: { type: 'boolean' },
      force: { type: 'boolean' },
      hostname: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [verb, ...args] = positionals;
  if (values.help || !verb) {
    process.stdout.write(USAGE);
    return verb || values.help ? 0 : 2;
  }
  const withClient = async <T>(fn: (c: Client) => Promise<T>): Promise<T> => {
    const client = await connect(values.socket ?? defaultSocket());
    try {
      return await fn(client);
    } finally {
      client.close();
    }
  };

  switch (verb) {
    case 'list': {
      const snapshot = await withClient((c) => c.conn.sendRequest(ListNamespaces, {}));
      const only = types(values.type);
      const namespaces = snapshot.namespaces.filter((ns) => !only || only.includes(ns.type));
      process.stdout.write(values.json ? JSON.stringify(listJson(namespaces, snapshot), null, 2) + '\n' : printable(table(namespaces, snapshot)));
      return 0;
    }
    case 'tree': {
      const snapshot = await withClient((c) => c.conn.sendRequest(ListNamespaces, {}));
      process.stdout.write(printable(tree(snapshot)));
      return 0;
    }
    case 'details': {
      const m = /^(\w+):\[?(\d+)\]?$/.exec(args[0] ?? '');
      if (!m) throw new UsageError('details wants TYPE:INODE, as net:4026531840 or net:[4026531840]');
      const d = await withClient((c) => c.conn.sendRequest(NamespaceDetails, { type: nsType(m[1]), inode: Number(m[2]) }));
      for (const s of d.sections) process.stdout.write(printable(`# ${s.title}\n${s.text.trimEnd()}\n\n`));
      return 0;
    }
    case 'enter': {
      let target;
      if (values.pin) {
        const [type, name] = values.pin.split('/');
        target = { pin: { type: nsType(type), name: name ?? '' } };
      } else {
        target = { pid: positiveInt(args[0], 'PID') };
      }
      return withClient((c) => attach(c.conn, { target, types: types(values.type), root: values.root, freshProc: values['fresh-proc'], command }));
    }
    case 'isolate':
      return withClient((c) => attach(c.conn, { types: types(values.type), hostname: values.hostname, root: values.root, command }));
    case 'pin': {
      const result = await withClient((c) => values.new
        ? c.conn.sendRequest(CreateNamespace, { type: nsType(args[0]), name: args[1] ?? '' })
        : c.conn.sendRequest(PinNamespace, { pid: positiveInt(args[0], 'PID'), type: nsType(args[1]), name: args[2] ?? '' }));
      process.stdout.write(`pinned ${nsId(result)} as ${result.pin.name}: ${result.pin.paths.join(', ')}\n`);
      return 0;
    }
    case 'unpin': {
      const r = await withClient((c) => c.conn.sendRequest(UnpinNamespace, { type: nsType(args[0]), name: args[1] ?? '', ...(values.force ? { force: true } : {}) }));
      const rest = [r.remaining.processes ? `${r.remaining.processes} process(es)` : '', ...r.remaining.holders.map(describeHolder)].filter(Boolean);
      process.stdout.write(rest.length
        ? `unpinned ${args[0]}/${args[1]}; ${nsId(r)} lives on, held by ${rest.join('; ')}\n`
        : `unpinned ${args[0]}/${args[1]}; nothing else holds ${nsId(r)}, so it is gone\n`);
      return 0;
    }
    case 'pins': {
      const pins = await withClient((c) => c.conn.sendRequest(ListPins));
      if (values.json) process.stdout.write(JSON.stringify({ pins }, null, 2) + '\n');
      else for (const p of pins) for (const pin of p.pins) process.stdout.write(`${[`${p.type}/${pin.name}`, nsId(p), pin.by?.user ?? '-', pin.paths.join(' ')].map(field).join('\t')}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${verb}"`);
  }
}

/** The JSON of `nsx list --json`: each namespace with its processes spelled out. */
function listJson(namespaces: Namespace[], snapshot: Snapshot) {
  const byPid = new Map<number, Process>(snapshot.processes.map((p) => [p.pid, p]));
  return {
    namespaces: namespaces.map(({ pids, ...ns }) => ({
      ...ns,
      nprocs: pids.length,
      processes: pids.map((pid) => {
        const p = byPid.get(pid)!;
        return { pid: p.pid, ppid: p.ppid, comm: p.comm, cmdline: p.cmdline, uid: p.uid, user: p.user };
      }),
    })),
  };
}

function table(namespaces: Namespace[], snapshot: Snapshot): string {
  const byPid = new Map<number, Process>(snapshot.processes.map((p) => [p.pid, p]));
  const rows = [['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'COMMAND']];
  const sorted = [...namespaces].sort((a, b) => a.inode - b.inode || a.type.localeCompare(b.type));
  for (const ns of sorted) {
    const lowest = Math.min(...ns.pids);
    const p = byPid.get(lowest);
    const what = p ? (p.cmdline.join(' ') || `[${p.comm}]`) : names(ns) || ns.holders.map(describeHolder).join('; ');
    rows.push([String(ns.inode), ns.type, String(ns.pids.length), p ? String(p.pid) : '', p?.user ?? '', what].map(field));
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : i === 2 || i === 3 || i === 0 ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join(' ')).join('\n') + '\n';
}

function tree(snapshot: Snapshot): string {
  const users = snapshot.namespaces.filter((ns) => ns.type === 'user');
  const known = new Set(users.map((u) => u.inode));
  const byPid = new Map<number, Process>(snapshot.processes.map((p) => [p.pid, p]));
  const label = (ns: Namespace) => {
    const p = byPid.get(Math.min(...ns.pids));
    const extra = [ns.initial ? 'initial' : '', ns.container ? `${ns.container.runtime} ${ns.container.name ?? ns.container.id}` : '', names(ns), p ? `${p.comm} (${p.pid})` : ''].filter(Boolean).map(field);
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

// `nsx list | head` closes the pipe early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') process.exit(0); throw err; });

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    const message = err instanceof UsageError ? `${err.message}\n\n${USAGE}` : err instanceof ResponseError ? err.message : (err as Error).message;
    process.stderr.write(`nsx: ${message}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
