// nsx: the command-line client of nsxd, with lsns-, nsenter- and unshare-like verbs.
import { parseArgs } from 'node:util';
import { ResponseError } from 'vscode-jsonrpc/node';
import { attach } from './attach';
import { USAGE, UsageError } from './usage';
import { chosenHost, hostSession } from './remote';
import { connectHost } from '../common/bridge';
import { capture, CAPTURE_USAGE, captureArgv, CaptureUsageError, parseCaptureArgs } from './capture';
import { netCommand } from './net';
import * as portsCli from './ports';
import { cp, ls } from './files';
import { writeParts } from './output';
import { Client, connect, lostConnection } from '../common/client';
import { defaultSocket } from '../common/deployment';
import {
  CreateNamespace,
  fromWire,
  isNsType,
  LIST_COLUMNS,
  ListColumn,
  ListNamespaces,
  ListPins,
  NamespaceDetails,
  nsId,
  NsType,
  NSTYPES,
  PinNamespace,
  PrintNamespaces,
  TerminalTarget,
  UnpinNamespace,
} from '../common/protocol';
import {
  containerTable,
  cutNotice,
  DEFAULT_LIST_COLUMNS,
  jsonText,
  listJsonParts,
  pinRows,
  printable,
  tree,
} from '../common/format';
import { unpinned } from '../common/words';

declare const NSX_VERSION: string | undefined;
const VERSION = typeof NSX_VERSION === 'string' ? NSX_VERSION : '0.0.0-dev';

/** nsenter's flag for each type, long and short, as users type them. */
const TYPE_FLAGS: [NsType, string, string][] = [
  ['net', 'net', 'n'],
  ['pid', 'pid', 'p'],
  ['mnt', 'mount', 'm'],
  ['uts', 'uts', 'u'],
  ['ipc', 'ipc', 'i'],
  ['user', 'user', 'U'],
  ['cgroup', 'cgroup', 'C'],
  ['time', 'time', 'T'],
];

/** The types -t lists (any case, `mount` for mnt), and those nsenter's flags name (unless FLAGS is false: list's -n is lsns's); undefined for all. */
function types(values: Options, flags = true): NsType[] | undefined {
  const listed =
    values.type !== undefined && !/^\d+$/.test(values.type)
      ? values.type
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean)
          .map(nsType)
      : [];
  const flagged = flags ? TYPE_FLAGS.filter(([, long]) => values[long as keyof Options]).map(([type]) => type) : [];
  const all = [...new Set([...listed, ...flagged])];
  return values.all || all.length === 0 ? undefined : all;
}

/** lsns's -o: column names in any case, comma-separated; `+COL,...` adds them to the default columns. */
function outputColumns(value: string): ListColumn[] {
  const add = value.startsWith('+');
  const names = (add ? value.slice(1) : value)
    .split(',')
    .map((c) => c.trim().toUpperCase())
    .filter(Boolean);
  if (names.length === 0) throw new UsageError('-o wants column names, as -o NS,TYPE,NSFS or -o +PPID');
  for (const name of names)
    if (!(LIST_COLUMNS as readonly string[]).includes(name))
      throw new UsageError(`unknown column "${name}" (one of ${LIST_COLUMNS.join(', ')})`);
  return [...new Set([...(add ? DEFAULT_LIST_COLUMNS : []), ...(names as ListColumn[])])];
}

function positiveInt(value: string | undefined, what: string): number {
  if (!value || !/^\d+$/.test(value) || Number(value) < 1)
    throw new UsageError(`${what} must be a positive number, not ${JSON.stringify(value ?? '')}`);
  return Number(value);
}

function nsType(value: string | undefined): NsType {
  const t = value?.toLowerCase() === 'mount' ? 'mnt' : value?.toLowerCase();
  if (!isNsType(t)) throw new UsageError(`unknown namespace type "${value ?? ''}" (one of ${NSTYPES.join(', ')})`);
  return t;
}

/** What `enter` joins: --pin, --target PID (or nsenter's -t PID), or the argument, a pid or a container's name or id. */
function enterTarget(args: string[], values: Options): TerminalTarget {
  if (values.pin) {
    const [type, name] = values.pin.split('/');
    return { pin: { type: nsType(type), name: name ?? '' } };
  }
  const target =
    values.target ?? (values.type !== undefined && /^\d+$/.test(values.type) ? values.type : undefined) ?? args[0];
  if (target === undefined) throw new UsageError('enter wants a pid or a container: nsx enter 1234, nsx enter web');
  return /^\d+$/.test(target) ? { pid: positiveInt(target, 'PID') } : { container: target };
}

/** What every verb gets: its positional arguments, the options, the command after `--`, and a connection maker. */
interface Invocation {
  args: string[];
  values: Options;
  command?: string[];
  withClient<T>(fn: (c: Client) => Promise<T>): Promise<T>;
  /** A terminal session run to its end, here or (--host) on another host, attached again across dropped links. */
  session(what: Parameters<typeof attach>[1]): Promise<number>;
}

const OPTIONS = {
  socket: { type: 'string' },
  host: { type: 'string' },
  json: { type: 'boolean' },
  dot: { type: 'boolean' },
  rescan: { type: 'boolean' },
  type: { type: 'string', short: 't' },
  root: { type: 'boolean' },
  'fresh-proc': { type: 'boolean' },
  pin: { type: 'string' },
  new: { type: 'boolean' },
  force: { type: 'boolean' },
  hostname: { type: 'string' },
  target: { type: 'string' },
  all: { type: 'boolean', short: 'a' },
  net: { type: 'boolean', short: 'n' },
  pid: { type: 'boolean', short: 'p' },
  mount: { type: 'boolean', short: 'm' },
  uts: { type: 'boolean', short: 'u' },
  ipc: { type: 'boolean', short: 'i' },
  user: { type: 'boolean', short: 'U' },
  cgroup: { type: 'boolean', short: 'C' },
  time: { type: 'boolean', short: 'T' },
  output: { type: 'string', short: 'o' },
  noheadings: { type: 'boolean' },
  raw: { type: 'boolean', short: 'r' },
  tcp: { type: 'boolean' },
  keep: { type: 'boolean' },
  'any-user': { type: 'boolean' },
  address: { type: 'string' },
  version: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;
type Options = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

const VERBS: Record<string, (inv: Invocation) => Promise<number>> = {
  async list({ values, withClient }) {
    const only = types(values, false);
    if (!values.json) {
      // As lsns: -n is --noheadings here, not nsenter's --net.
      const layout = {
        ...(values.output !== undefined && { columns: outputColumns(values.output) }),
        noHeadings: values.noheadings || values.net,
        raw: values.raw,
      };
      const { text, notice } = await withClient((c) =>
        c.conn.sendRequest(PrintNamespaces, { rescan: values.rescan, ...(only && { types: only }), ...layout }),
      );
      // nsxd wrote it escaped; one on another host is judged here, not trusted (as the C front does).
      process.stdout.write(printable(text));
      if (notice) process.stderr.write(printable(notice));
      return 0;
    }
    const snapshot = fromWire(await withClient((c) => c.conn.sendRequest(ListNamespaces, { rescan: values.rescan })));
    const namespaces = snapshot.namespaces.filter((ns) => !only || only.includes(ns.type));
    writeParts(listJsonParts(namespaces, snapshot));
    if (snapshot.cut) process.stderr.write(cutNotice(snapshot.cut));
    return 0;
  },

  async tree({ values, withClient }) {
    const snapshot = fromWire(await withClient((c) => c.conn.sendRequest(ListNamespaces, { rescan: values.rescan })));
    process.stdout.write(printable(tree(snapshot)));
    if (snapshot.cut) process.stderr.write(cutNotice(snapshot.cut));
    return 0;
  },

  async details({ args, withClient }) {
    const m = /^(\w+):\[?(\d+)\]?$/.exec(args[0] ?? '');
    if (!m) throw new UsageError('details wants TYPE:INODE, as net:4026531840 or net:[4026531840]');
    const d = await withClient((c) =>
      c.conn.sendRequest(NamespaceDetails, { type: nsType(m[1]), inode: Number(m[2]) }),
    );
    for (const s of d.sections) process.stdout.write(printable(`# ${s.title}\n${s.text.trimEnd()}\n\n`));
    return 0;
  },

  async containers({ values, withClient }) {
    const { containers } = await withClient((c) => c.conn.sendRequest(ListNamespaces, {}));
    process.stdout.write(values.json ? jsonText({ containers }) + '\n' : printable(containerTable(containers)));
    return 0;
  },

  async enter({ args, values, command, session }) {
    const target = enterTarget(args, values);
    return session({ target, types: types(values), root: values.root, freshProc: values['fresh-proc'], command });
  },

  async isolate({ values, command, session }) {
    return session({ types: types(values), hostname: values.hostname, root: values.root, command });
  },

  async attach({ args, session }) {
    return session({ session: positiveInt(args[0], 'SESSION') });
  },

  async pin({ args, values, withClient }) {
    const result = await withClient((c) =>
      values.new
        ? c.conn.sendRequest(CreateNamespace, { type: nsType(args[0]), name: args[1] ?? '' })
        : c.conn.sendRequest(PinNamespace, {
            pid: positiveInt(args[0], 'PID'),
            type: nsType(args[1]),
            name: args[2] ?? '',
          }),
    );
    process.stdout.write(printable(`pinned ${nsId(result)} as ${result.pin.name}: ${result.pin.paths.join(', ')}\n`));
    return 0;
  },

  async unpin({ args, values, withClient }) {
    const r = await withClient((c) =>
      c.conn.sendRequest(UnpinNamespace, {
        type: nsType(args[0]),
        name: args[1] ?? '',
        ...(values.force ? { force: true } : {}),
      }),
    );
    process.stdout.write(`${unpinned(`${args[0]}/${args[1]}`, r)}\n`);
    return 0;
  },

  async net({ args, values, withClient }) {
    const text = await withClient((c) => netCommand(c.conn, args[0], { json: values.json, dot: values.dot }));
    process.stdout.write(text);
    return 0;
  },

  async ls({ args, values, withClient }) {
    if (args.length !== 1) throw new UsageError('ls wants one TARGET:PATH, as nsx ls web:/etc');
    return withClient((c) => ls(c.conn, args[0], { json: values.json, root: values.root }));
  },

  async cp({ args, values, withClient }) {
    if (args.length !== 2) throw new UsageError('cp wants a source and a destination, as nsx cp web:/etc/hostname .');
    return withClient((c) => cp(c.conn, args[0], args[1], { root: values.root }));
  },

  async pins({ values, withClient }) {
    const pins = await withClient((c) => c.conn.sendRequest(ListPins));
    process.stdout.write(values.json ? jsonText({ pins }) + '\n' : pinRows(pins));
    return 0;
  },

  ports: ({ args, values, withClient }) => withClient((c) => portsCli.ports(c, args, !!values.json, !!values.tcp)),
  forward: ({ args, values, withClient }) => {
    const req = portsCli.forwardRequest(args, {
      keep: values.keep,
      address: values.address,
      anyUser: values['any-user'],
    });
    return withClient((c) => portsCli.forward(c, req));
  },
  forwards: ({ values, withClient }) => withClient((c) => portsCli.forwards(c, !!values.json)),
  unforward: ({ args, withClient }) => {
    const id = portsCli.forwardId(args[0]);
    return withClient((c) => portsCli.unforward(c, id));
  },
};

/** The options and words of a command line; what node:util says of a bad one, in util-linux's words. */
function parsed(args: string[]) {
  try {
    return parseArgs({ args, allowPositionals: true, options: OPTIONS });
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    const option = /'(-[^',]+)/.exec(message)?.[1] ?? '';
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option ${option}`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE')
      throw new UsageError(
        /argument missing/.test(message) ? `option ${option} needs a value` : `option ${option} takes no value`,
      );
    throw new UsageError(message);
  }
}

/** capture has tcpdump's options (-i, -c, -w …), not nsenter's: it parses its own. */
async function captureCommand(argv: string[], hostName?: string): Promise<number> {
  const { params, write, socket, help } = parseCaptureArgs(argv);
  if (help) {
    process.stdout.write(CAPTURE_USAGE);
    return 0;
  }
  const host = socket === undefined ? chosenHost(hostName) : undefined;
  const path = host?.name ?? socket ?? defaultSocket();
  const client = host ? await connectHost(host) : await connect(path);
  try {
    return await capture(client, params, write);
  } catch (err) {
    throw lostConnection(err, path);
  } finally {
    client.close();
  }
}

async function main(argv: string[]): Promise<number> {
  // nsx [--host NAME] capture …: capture reads its own options (tcpdump's), the host goes first.
  const hostArgs = argv[0] === '--host' ? argv.slice(0, 2) : [];
  const captureArgs = captureArgv(argv.slice(hostArgs.length));
  if (captureArgs) return captureCommand(captureArgs, hostArgs[1]);
  // Everything after `--` is the command to run, options and all.
  const dashdash = argv.indexOf('--');
  const command = dashdash >= 0 ? argv.slice(dashdash + 1) : undefined;
  if (command?.length === 0)
    throw new UsageError('nothing to run after --: give a command, or leave -- out for a shell');
  const { values, positionals } = parsed(dashdash >= 0 ? argv.slice(0, dashdash) : argv);
  const [verb, ...args] = positionals;
  if (values.version) {
    process.stdout.write(`nsx ${VERSION}\n`);
    return 0;
  }
  if (values.help || !verb) {
    process.stdout.write(USAGE);
    return verb || values.help ? 0 : 2;
  }
  const run = Object.hasOwn(VERBS, verb) ? VERBS[verb] : undefined;
  if (!run) throw new UsageError(`unknown command "${verb}"`);
  if (values.host !== undefined && values.socket !== undefined)
    throw new UsageError('--host and --socket do not go together: nsxd on that host has its own socket');
  const host = values.socket === undefined ? chosenHost(values.host) : undefined;
  async function withClient<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    const path = host?.name ?? values.socket ?? defaultSocket();
    const client = host ? await connectHost(host) : await connect(path);
    try {
      return await fn(client);
    } catch (err) {
      throw lostConnection(err, path);
    } finally {
      client.close();
    }
  }
  return run({
    args,
    values,
    command,
    withClient,
    session: (what) => (host ? hostSession(host, what) : withClient((c) => attach(c.conn, what))),
  });
}

// vscode-jsonrpc rejects a request whose write failed twice: once to us, as a
// ResponseError we report, and once from inside its own promise executor,
// which nothing can catch. That second one (EPIPE, ECONNRESET: nsxd hung up)
// is not a second failure.
process.on('unhandledRejection', (err: NodeJS.ErrnoException) => {
  if (err?.syscall !== 'write') throw err;
});

// `nsx list | head` closes the pipe early: that is not an error. Any other
// failure to write (a full disk) is said in one line, in the C front's words.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  const why = /^\w+: ([^,]+)/.exec(err.message)?.[1] ?? err.message;
  process.stderr.write(`nsx: writing the output: ${why.charAt(0).toUpperCase()}${why.slice(1)}\n`);
  process.exit(1);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    // As util-linux says it: one line, then where the help is (exit status 2).
    const message =
      err instanceof CaptureUsageError
        ? `${err.message}\nTry 'nsx capture -h' for more information.`
        : err instanceof UsageError
          ? `${err.message}\nTry 'nsx --help' for more information.`
          : err instanceof ResponseError
            ? err.message
            : (err as Error).message;
    // An error may quote what nsxd read (a container's name, a user's): the same escapes as every other output.
    process.stderr.write(`nsx: ${printable(message)}\n`);
    const usage = err instanceof UsageError;
    process.exitCode = usage ? 2 : 1;
  },
);
