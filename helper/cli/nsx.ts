// nsx: the command-line client of nsxd, with lsns-, nsenter- and unshare-like verbs.
import { parseArgs } from 'node:util';
import { ResponseError } from 'vscode-jsonrpc/node';
import { attach } from './attach';
import { Client, connect } from '../common/client';
import { defaultSocket } from '../common/deployment';
import {
  CreateNamespace, isNsType, ListNamespaces, ListPins, NamespaceDetails, nsId, NsType, NSTYPES, PinNamespace, UnpinNamespace,
} from '../common/protocol';
import { listJson, pinRows, printable, table, tree, unpinned } from './format';

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

/** What every verb gets: its positional arguments, the options, the command after `--`, and a connection maker. */
interface Invocation {
  args: string[];
  values: Options;
  command?: string[];
  withClient<T>(fn: (c: Client) => Promise<T>): Promise<T>;
}

const OPTIONS = {
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
} as const;
type Options = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

const VERBS: Record<string, (inv: Invocation) => Promise<number>> = {
  async list({ values, withClient }) {
    const snapshot = await withClient((c) => c.conn.sendRequest(ListNamespaces, {}));
    const only = types(values.type);
    const namespaces = snapshot.namespaces.filter((ns) => !only || only.includes(ns.type));
    process.stdout.write(values.json ? JSON.stringify(listJson(namespaces, snapshot), null, 2) + '\n' : printable(table(namespaces, snapshot)));
    return 0;
  },

  async tree({ withClient }) {
    process.stdout.write(printable(tree(await withClient((c) => c.conn.sendRequest(ListNamespaces, {})))));
    return 0;
  },

  async details({ args, withClient }) {
    const m = /^(\w+):\[?(\d+)\]?$/.exec(args[0] ?? '');
    if (!m) throw new UsageError('details wants TYPE:INODE, as net:4026531840 or net:[4026531840]');
    const d = await withClient((c) => c.conn.sendRequest(NamespaceDetails, { type: nsType(m[1]), inode: Number(m[2]) }));
    for (const s of d.sections) process.stdout.write(printable(`# ${s.title}\n${s.text.trimEnd()}\n\n`));
    return 0;
  },

  async enter({ args, values, command, withClient }) {
    let target;
    if (values.pin) {
      const [type, name] = values.pin.split('/');
      target = { pin: { type: nsType(type), name: name ?? '' } };
    } else {
      target = { pid: positiveInt(args[0], 'PID') };
    }
    return withClient((c) => attach(c.conn, { target, types: types(values.type), root: values.root, freshProc: values['fresh-proc'], command }));
  },

  async isolate({ values, command, withClient }) {
    return withClient((c) => attach(c.conn, { types: types(values.type), hostname: values.hostname, root: values.root, command }));
  },

  async pin({ args, values, withClient }) {
    const result = await withClient((c) => values.new
      ? c.conn.sendRequest(CreateNamespace, { type: nsType(args[0]), name: args[1] ?? '' })
      : c.conn.sendRequest(PinNamespace, { pid: positiveInt(args[0], 'PID'), type: nsType(args[1]), name: args[2] ?? '' }));
    process.stdout.write(`pinned ${nsId(result)} as ${result.pin.name}: ${result.pin.paths.join(', ')}\n`);
    return 0;
  },

  async unpin({ args, values, withClient }) {
    const r = await withClient((c) => c.conn.sendRequest(UnpinNamespace, { type: nsType(args[0]), name: args[1] ?? '', ...(values.force ? { force: true } : {}) }));
    process.stdout.write(unpinned(`${args[0]}/${args[1]}`, r));
    return 0;
  },

  async pins({ values, withClient }) {
    const pins = await withClient((c) => c.conn.sendRequest(ListPins));
    process.stdout.write(values.json ? JSON.stringify({ pins }, null, 2) + '\n' : pinRows(pins));
    return 0;
  },
};

async function main(argv: string[]): Promise<number> {
  // Everything after `--` is the command to run, options and all.
  const dashdash = argv.indexOf('--');
  const command = dashdash >= 0 ? argv.slice(dashdash + 1) : undefined;
  const { values, positionals } = parseArgs({ args: dashdash >= 0 ? argv.slice(0, dashdash) : argv, allowPositionals: true, options: OPTIONS });
  const [verb, ...args] = positionals;
  if (values.help || !verb) {
    process.stdout.write(USAGE);
    return verb || values.help ? 0 : 2;
  }
  const run = Object.hasOwn(VERBS, verb) ? VERBS[verb] : undefined;
  if (!run) throw new UsageError(`unknown command "${verb}"`);
  return run({
    args, values, command,
    async withClient(fn) {
      const client = await connect(values.socket ?? defaultSocket());
      try {
        return await fn(client);
      } finally {
        client.close();
      }
    },
  });
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
