// The whole contract between nsxd and its clients (nsx, the extension, the
// tests): JSON-RPC 2.0 with vscode-jsonrpc's Content-Length framing over a
// Unix socket. Each message says who sends it:
//   client → nsxd   requests (and a few notifications) a client sends
//   nsxd → client   notifications nsxd pushes
// Beside each message a client sends is the one parse nsxd runs on it; what
// fails a parse is an InvalidParams error, and nothing else is done.
// No side spells a method name itself: each uses the constants here.
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';
import * as parse from './parse';

/** Bumped whenever a request or notification changes shape. */
export const PROTOCOL_VERSION = 4;
/** Largest message either side accepts; a bigger one closes the connection. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

export const NSTYPES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'] as const;
export type NsType = (typeof NSTYPES)[number];
export function isNsType(value: unknown): value is NsType {
  return typeof value === 'string' && (NSTYPES as readonly string[]).includes(value);
}
export function parseNsType(value: unknown): NsType {
  if (!isNsType(value))
    throw parse.invalid(`not a namespace type: ${JSON.stringify(value)} (one of ${NSTYPES.join(', ')})`);
  return value;
}
function parseNsTypes(value: unknown): NsType[] {
  if (!Array.isArray(value) || value.length === 0)
    throw parse.invalid('types must be a non-empty array of namespace types');
  return [...new Set(value.map(parseNsType))];
}

/** A namespace is named by its type and the inode of its nsfs file, as `net:[4026531840]`. */
export interface NsKey {
  type: NsType;
  inode: number;
}
/** The /proc/PID/ns link a new namespace of TYPE is found at: pid and time apply to the children of who made them. */
export function nsLinkOfNew(type: NsType): string {
  return type === 'pid' || type === 'time' ? `${type}_for_children` : type;
}

export function nsId(ns: NsKey): string {
  return `${ns.type}:[${ns.inode}]`;
}
export function parseNsKey(value: unknown, what: string): NsKey {
  const p = parse.object(value, what);
  return { type: parseNsType(p.type), inode: parse.inode(p.inode) };
}

export interface Process {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string[];
  /** Effective uid, as the owner of /proc/PID. */
  uid: number;
  user: string;
  /** The inode of each of its namespaces, by type. */
  ns: Partial<Record<NsType, number>>;
  /** Set when the namespace its children get differs from its own (after unshare(CLONE_NEWPID) / CLONE_NEWTIME). */
  pidForChildren?: number;
  timeForChildren?: number;
}

/** Something other than a member process that keeps a namespace alive. */
export type Holder =
  /** `count` fds of that process hold it, of those the scan read (see ScanCut); the lowest is named. */
  | { kind: 'fd'; pid: number; fd: number; comm: string; count?: number }
  /** `pin`: nsxd's pin of that name. `netns`: an `ip netns` name that another tool (ip netns add, podman) made. */
  | { kind: 'mount'; path: string; mntns: number; pin?: string; netns?: string }
  | { kind: 'pid_for_children' | 'time_for_children'; pid: number; comm: string }
  | { kind: 'child'; of: NsKey }
  | { kind: 'owner'; of: NsKey };

export const MAX_HOLDERS = 32;

/** What a namespace belongs to: a container its engine reported (by its init process), else what a cgroup path says. */
export interface ContainerHint {
  runtime: 'docker' | 'containerd' | 'kubernetes' | 'podman' | 'cri-o' | 'nspawn' | 'lxc';
  id: string;
  name?: string;
}

/** A container as its engine (or its runtime's state on disk) reports it. nsxd only reads engines, never changes them. */
export interface Container {
  engine: 'docker' | 'podman' | 'containerd' | 'cri-o';
  /** Whose engine it is: 0 for the system's; a rootless engine's user otherwise. */
  engineUid: number;
  /** Full id; the first 12 hex digits are what people type. */
  id: string;
  name: string;
  image: string;
  /** running, exited, created, paused … as the engine says. */
  state: string;
  /** Kubernetes or podman pod, and compose project and service, from labels and annotations. */
  pod?: string;
  project?: string;
  service?: string;
  /** The container's first process on the host, while it runs. */
  pid?: number;
  hostname?: string;
  /** Its namespaces, from its first process: what a shell in it joins. */
  namespaces: NsKey[];
  /** Where nsxd learnt of it: the engine's API, or the OCI runtime's state. */
  source: 'api' | 'oci';
}

/**
 * An engine's API socket, and whether it answered the last time it was
 * asked. Without it nsxd knows that engine's containers only from the OCI
 * runtime's state: the running ones, named from what the engine keeps on disk.
 */
export interface EngineApi {
  engine: 'docker' | 'podman';
  /** 0 for the system's; a rootless engine's user otherwise. */
  uid: number;
  socket: string;
  answering: boolean;
  /** Why not, in the engine's or the kernel's words. */
  reason?: string;
}

/** A bind mount that nsxd made of a namespace, under a name. Mounts other tools made are holders. */
export interface Pin {
  name: string;
  /** Whoever pinned it; absent only when nsxd's record of it was lost. */
  by?: { uid: number; user: string };
  /** Where it is bind-mounted: in nsxd's pin directory and, for net, /run/netns. */
  paths: string[];
}

export interface Namespace extends NsKey {
  /** The pids of the processes in it. */
  pids: number[];
  /** At most MAX_HOLDERS of them (anyone can open a million fds to a namespace), plus every pin and ip netns name. */
  holders: Holder[];
  /** How many more holders there are than `holders` lists. */
  holdersOmitted?: number;
  /** Inode of the owning user namespace (NS_GET_USERNS). */
  owner?: number;
  /** Inode of the parent namespace, for pid and user (NS_GET_PARENT). */
  parent?: number;
  /** For user namespaces: the uid that created it (NS_GET_OWNER_UID). */
  ownerUid?: number;
  /** One of the namespaces of PID 1 in nsxd's view. */
  initial: boolean;
  container?: ContainerHint;
  /** For uts: its hostname, where a container engine said what it is. */
  hostname?: string;
  /** For net: its addresses (not loopback or link-local), a few at most. */
  addresses?: string[];
  pins: Pin[];
}

export interface Snapshot {
  namespaces: Namespace[];
  processes: Process[];
  containers: Container[];
  /** The engines' API sockets there are, and which answered. */
  engines?: EngineApi[];
  /** Milliseconds the scan took in nsxd. */
  scanMs: number;
  /** What the scan left unread to stay within its bounds; absent when it read everything. */
  cut?: ScanCut;
}

/**
 * The fds a scan did not read: a process may hold a million, and each is a
 * readlink, so nsxd reads a bounded number of each process's (the lowest)
 * and of all. A namespace that only the fds left unread hold is missing, and
 * a holder's count is of the fds read.
 */
export interface ScanCut {
  /** Processes some of whose fds were not read. */
  processes: number;
  /** How many fds that left unread; where the kernel does not say (before Linux 6.2), one a process at least. */
  fds: number;
  /** A few of those processes, MAX_CUT_PIDS at most. */
  pids: number[];
}
export const MAX_CUT_PIDS = 8;

// ---- handshake ------------------------------------------------------------

/** client → nsxd, first: the LSP-shaped handshake that vscode-languageclient sends. */
export interface InitializeParams {
  processId?: number | null;
  clientInfo?: { name: string; version?: string };
  capabilities?: unknown;
  initializationOptions?: { protocolVersion?: number };
}
export interface InitializeResult {
  capabilities: Record<string, never>;
  serverInfo: { name: 'nsxd'; version: string };
  protocolVersion: number;
  /** Who nsxd takes the caller to be (from SO_PEERCRED) and what the policy grants. */
  identity: Identity;
}
export interface Identity {
  uid: number;
  user: string;
  role: 'admin' | 'operator';
  rootShells: boolean;
  /** Namespace types the running kernel has (time needs Linux 5.6). */
  nstypes: NsType[];
}
/** Why a client of this release cannot talk to that nsxd; undefined when it can. Misread messages would show a tree that looks right and is not. */
export function protocolMismatch(server: InitializeResult): string | undefined {
  return server.protocolVersion === PROTOCOL_VERSION
    ? undefined
    : `nsxd ${server.serverInfo.version} speaks protocol ${server.protocolVersion}, this client ${PROTOCOL_VERSION}: install the nsxd of this release (see the README)`;
}
export const Initialize = new RequestType<InitializeParams, InitializeResult, void>('initialize');
/** client → nsxd, after the answer to initialize. */
export const Initialized = new NotificationType<Record<string, never>>('initialized');
/** client → nsxd: vscode-languageclient's goodbye (shutdown, then exit ends the connection). */
export const Shutdown = new RequestType0<null, void>('shutdown');
export const Exit = new NotificationType<void>('exit');

// ---- discovery ------------------------------------------------------------

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
export const ListNamespaces = new RequestType<ListParams | undefined, Snapshot, void>('namespaces/list');
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
export const Subscribe = new RequestType<Partial<SubscribeParams> | undefined, Snapshot, void>('namespaces/subscribe');
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
}
/** client → nsxd */
export const NamespaceDetails = new RequestType<DetailsParams, Details, void>('namespaces/details');
export function parseDetails(value: unknown): DetailsParams {
  return parseNsKey(value, 'params');
}

// ---- pins -----------------------------------------------------------------

/** Pin names: a file name in the pin directory, never a path. */
export const PIN_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const PIN_NAME_RULE = '1 to 64 of a-z 0-9 . _ - , starting with a letter or digit';
function parsePinName(value: unknown): string {
  if (typeof value !== 'string' || !PIN_NAME.test(value))
    throw parse.invalid(`bad pin name ${JSON.stringify(value)}: use ${PIN_NAME_RULE}`);
  return value;
}

/** Pin the TYPE namespace of a process, or (without pid) the namespace TYPE:[inode] through whatever holds it. */
export interface PinParams {
  pid?: number;
  type: NsType;
  name: string;
  /** The inode the client saw; the pin is refused if the process has moved on. Required without pid. */
  inode?: number;
}
export interface CreateParams {
  type: NsType;
  name: string;
}
export interface PinResult extends NsKey {
  pin: Pin;
}
/** client → nsxd */
export const PinNamespace = new RequestType<PinParams, PinResult, void>('namespaces/pin');
export function parsePin(value: unknown): PinParams {
  const p = parse.object(value);
  const out: PinParams = { type: parseNsType(p.type), name: parsePinName(p.name) };
  if (p.pid !== undefined) out.pid = parse.pid(p.pid);
  if (p.inode !== undefined) out.inode = parse.inode(p.inode);
  if (out.pid === undefined && out.inode === undefined)
    throw parse.invalid('name the namespace to pin by pid, or by inode');
  return out;
}
/** client → nsxd: a fresh namespace held by its pin alone. */
export const CreateNamespace = new RequestType<CreateParams, PinResult, void>('namespaces/create');
export function parseCreate(value: unknown): CreateParams {
  const p = parse.object(value);
  const out = { type: parseNsType(p.type), name: parsePinName(p.name) };
  // The first process in a pid namespace is its init, and the namespace is unusable once init exits.
  if (out.type === 'pid')
    throw parse.invalid(
      'a pid namespace cannot outlive its first process: pin the pid namespace of a running process instead',
    );
  return out;
}

export interface UnpinParams {
  type: NsType;
  name: string;
  /**
   * Also release an `ip netns` name that another tool made (podman's netns-…,
   * `ip netns add`): root or an admin only, and only once the user confirmed,
   * since the tool that made it may still rely on it.
   */
  force?: boolean;
}
export interface UnpinResult extends NsKey {
  /** What still holds the namespace after the pin is gone; empty means it is freed. */
  remaining: { processes: number; holders: Holder[] };
}
/** client → nsxd */
export const UnpinNamespace = new RequestType<UnpinParams, UnpinResult, void>('namespaces/unpin');
export function parseUnpin(value: unknown): UnpinParams {
  const p = parse.object(value);
  return { type: parseNsType(p.type), name: parsePinName(p.name), force: parse.bool(p.force, 'force') };
}
/** One namespace with all its pins (a namespace may be pinned under several names). */
export interface PinnedNamespace extends NsKey {
  pins: Pin[];
}
/** client → nsxd */
export const ListPins = new RequestType0<PinnedNamespace[], void>('pins/list');

// ---- terminals ------------------------------------------------------------

export type TerminalTarget =
  /** The namespaces of a process; `inodes` are those the client saw, checked before anything runs. */
  | { pid: number; inodes?: Partial<Record<NsType, number>> }
  /** A pin in nsxd's pin directory (or /run/netns for net). */
  | { pin: { type: NsType; name: string } }
  /** Any namespace nsxd discovered, opened through whatever holds it (process, fd, mount). */
  | { namespace: NsKey }
  /**
   * A running container, by name or by (a unique prefix of at least 4 of) its
   * id: its namespaces, its environment and working directory, as `docker exec`.
   */
  | { container: string };

/** Container names as engines allow them, and id prefixes. */
const CONTAINER_REF = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/;

/** Fresh namespaces, when a client names none: all the kernel has but time (a shell has no use for its own clocks). */
export function isolateDefault(available: readonly NsType[]): NsType[] {
  return available.filter((t) => t !== 'time');
}

/** A hostname as sethostname(2) and resolvers take it: dot-separated labels of letters, digits and inner hyphens. */
export const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
export const HOSTNAME_RULE = 'letters, digits and inner hyphens, in dot-separated labels of at most 63 (253 in all)';

/** The environment a client may pass to a session; the rest nsxd sets itself. */
const ENV_NAME = /^(TERM|COLORTERM|LANG|LC_[A-Z_]{1,32})$/;

export interface TerminalOpenParams {
  /** Join existing namespaces (setns), or start in fresh ones (unshare) when absent. */
  target?: TerminalTarget;
  /** Which namespaces to join or create; default: all that the target has / isolateDefault for fresh. */
  types?: NsType[];
  root?: boolean;
  /** For fresh namespaces: the hostname of the new uts namespace. */
  hostname?: string;
  /** For joins: give the shell a private mount namespace with a /proc of the joined pid namespace. */
  freshProc?: boolean;
  /** Without it the user's login shell runs. */
  command?: string[];
  /** A pty of this size, or plain pipes (stdout/stderr apart) when absent. */
  pty?: PtySize;
  /** Only TERM, COLORTERM, LANG and LC_* are taken. */
  env?: Record<string, string>;
  /**
   * The session outlives this connection: a connection that goes without
   * closing it (a window reloaded, a client killed) leaves it waiting to be
   * attached again, as a stopping nsxd does, until the orphan timeout.
   * Without it the session ends with its connection.
   */
  persistent?: boolean;
}
export interface PtySize {
  cols: number;
  rows: number;
}
export interface TerminalOpenResult {
  session: number;
  pid: number;
  /** Where the shell is, for the terminal's name: `net:[4026532201] nginx (1234)`. */
  title: string;
  namespaces: NsKey[];
  user: string;
  uid: number;
}
/** client → nsxd */
export const TerminalOpen = new RequestType<TerminalOpenParams, TerminalOpenResult, void>('terminal/open');
export function parseTerminalOpen(value: unknown): TerminalOpenParams {
  const p = parse.object(value);
  const req: TerminalOpenParams = {
    root: parse.bool(p.root, 'root'),
    freshProc: parse.bool(p.freshProc, 'freshProc'),
    persistent: parse.bool(p.persistent, 'persistent'),
  };
  if (p.target !== undefined) req.target = parseTarget(p.target);
  if (p.types !== undefined) req.types = parseNsTypes(p.types);
  if (p.hostname !== undefined) {
    const h = parse.text(p.hostname, 'hostname', 253);
    if (!HOSTNAME.test(h)) throw parse.invalid(`not a hostname: ${JSON.stringify(h)} (${HOSTNAME_RULE})`);
    req.hostname = h;
  }
  if (p.command !== undefined) {
    if (!Array.isArray(p.command) || p.command.length === 0 || p.command.length > 256)
      throw parse.invalid('command must be a non-empty array of at most 256 strings');
    req.command = p.command.map((a, i) => parse.text(a, `command[${i}]`, 65536));
  }
  if (p.pty !== undefined) req.pty = parsePtySize(parse.object(p.pty, 'pty'));
  if (p.env !== undefined) {
    req.env = {};
    for (const [k, val] of Object.entries(parse.object(p.env, 'env'))) {
      if (ENV_NAME.test(k)) req.env[k] = parse.text(val, `env.${k}`, 256);
    }
  }
  return req;
}

function parseTarget(value: unknown): TerminalTarget {
  const t = parse.object(value, 'target');
  if (t.pid !== undefined) {
    const inodes: Partial<Record<NsType, number>> = {};
    if (t.inodes !== undefined)
      for (const [k, i] of Object.entries(parse.object(t.inodes, 'inodes'))) inodes[parseNsType(k)] = parse.inode(i);
    return { pid: parse.pid(t.pid), inodes };
  }
  if (t.pin !== undefined) {
    const pin = parse.object(t.pin, 'pin');
    return { pin: { type: parseNsType(pin.type), name: parsePinName(pin.name) } };
  }
  if (t.namespace !== undefined) return { namespace: parseNsKey(t.namespace, 'namespace') };
  if (t.container !== undefined) {
    if (typeof t.container !== 'string' || !CONTAINER_REF.test(t.container))
      throw parse.invalid(`not a container name or id: ${JSON.stringify(t.container)}`);
    return { container: t.container };
  }
  throw parse.invalid('target must name a pid, a pin, a namespace or a container');
}

function parsePtySize(p: Record<string, unknown>): PtySize {
  return { cols: parse.int(p.cols, 'cols', 1, 1000), rows: parse.int(p.rows, 'rows', 1, 1000) };
}

/** Every message about an open session names it. */
export interface SessionParams {
  session: number;
}
function parseSession(p: Record<string, unknown>): number {
  return parse.int(p.session, 'session', 1, Number.MAX_SAFE_INTEGER);
}
export function parseSessionParams(value: unknown): SessionParams {
  return { session: parseSession(parse.object(value)) };
}

export interface TerminalAttachParams extends SessionParams {
  /** The shell's pid the client was told, so that an id reused after a restart never means another shell. */
  pid?: number;
}
/**
 * client → nsxd: takes up again a session whose connection went with an
 * nsxd that stopped (sessions outlive nsxd, each in its supervisor, for the
 * orphan timeout). Only its owner may; the answer is terminal/open's, and
 * the output that arrived meanwhile (bounded) follows as terminal/output.
 */
export const TerminalAttach = new RequestType<TerminalAttachParams, TerminalOpenResult, void>('terminal/attach');
export function parseTerminalAttach(value: unknown): TerminalAttachParams {
  const p = parse.object(value);
  return { session: parseSession(p), ...(p.pid !== undefined ? { pid: parse.pid(p.pid) } : {}) };
}

/** Bytes are base64 so that any byte survives JSON. */
export interface TerminalInputParams extends SessionParams {
  data: string;
}
/** client → nsxd: answered once the bytes are written to the pty, which is how the sender paces itself. */
export const TerminalInput = new RequestType<TerminalInputParams, null, void>('terminal/input');
export function parseTerminalInput(value: unknown): TerminalInputParams {
  const p = parse.object(value);
  return { session: parseSession(p), data: parse.text(p.data, 'data', 1024 * 1024) };
}
/** client → nsxd: closes the session's stdin (pipes only); a pty gets ^D from the client. */
export const TerminalEndInput = new NotificationType<SessionParams>('terminal/endInput');

export interface TerminalResizeParams extends SessionParams, PtySize {}
/** client → nsxd */
export const TerminalResize = new NotificationType<TerminalResizeParams>('terminal/resize');
export function parseTerminalResize(value: unknown): TerminalResizeParams {
  const p = parse.object(value);
  return { session: parseSession(p), ...parsePtySize(p) };
}
/** client → nsxd: kills the session's whole process tree. */
export const TerminalClose = new NotificationType<SessionParams>('terminal/close');

export interface TerminalOutputParams extends SessionParams {
  data: string;
  stream?: 'stderr';
}
/** nsxd → client */
export const TerminalOutput = new NotificationType<TerminalOutputParams>('terminal/output');

export interface TerminalAckParams extends SessionParams {
  bytes: number;
}
/** client → nsxd: the client has consumed this many bytes; nsxd keeps at most OUTPUT_WINDOW unacknowledged. */
export const TerminalAck = new NotificationType<TerminalAckParams>('terminal/ack');
export function parseTerminalAck(value: unknown): TerminalAckParams {
  const p = parse.object(value);
  return { session: parseSession(p), bytes: parse.int(p.bytes, 'bytes', 0, Number.MAX_SAFE_INTEGER) };
}
export const OUTPUT_WINDOW = 512 * 1024;

export interface TerminalExitParams extends SessionParams {
  /** Exit status, or 128 + signal number as shells report it. */
  code: number;
  signal?: string;
}
/** nsxd → client */
export const TerminalExit = new NotificationType<TerminalExitParams>('terminal/exit');

// ---- errors ---------------------------------------------------------------

/** JSON-RPC error codes nsxd answers with; messages are sentences for people. */
export const ErrorCodes = {
  AccessDenied: -32001,
  LimitExceeded: -32002,
  NotFound: -32003,
  Conflict: -32004,
  Moved: -32005,
  Failed: -32006,
  /** The request would undo another tool's work: ask the user, then send it again with `force`. */
  NeedsConfirmation: -32007,
  /** Not now, but soon: send it again in a moment (a session another attach of it is connecting to). */
  Busy: -32008,
  InvalidParams: -32602,
} as const;
