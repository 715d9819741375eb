// The one definition of the nsxd protocol: JSON-RPC 2.0 with vscode-jsonrpc's
// Content-Length framing over a Unix socket. nsxd, nsx and the extension all
// import these constants; no side ever spells a method name itself.
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';

/** Bumped whenever a request or notification changes shape. */
export const PROTOCOL_VERSION = 1;
export const DEFAULT_SOCKET = '/run/nsx/nsxd.sock';
export const DEFAULT_GROUP = 'nsx';
/** Largest message either side accepts; a bigger one closes the connection. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

export const NSTYPES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'] as const;
export type NsType = (typeof NSTYPES)[number];
export function isNsType(value: unknown): value is NsType {
  return typeof value === 'string' && (NSTYPES as readonly string[]).includes(value);
}

/** A namespace is named by its type and the inode of its nsfs file, as `net:[4026531840]`. */
export interface NsKey {
  type: NsType;
  inode: number;
}
export function nsId(ns: NsKey): string {
  return `${ns.type}:[${ns.inode}]`;
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
  /** `count` fds of that process hold it; the lowest is named. */
  | { kind: 'fd'; pid: number; fd: number; comm: string; count?: number }
  /** `pin`: nsxd's pin of that name. `netns`: an `ip netns` name that another tool (ip netns add, podman) made. */
  | { kind: 'mount'; path: string; mntns: number; pin?: string; netns?: string }
  | { kind: 'pid_for_children' | 'time_for_children'; pid: number; comm: string }
  | { kind: 'child'; of: NsKey }
  | { kind: 'owner'; of: NsKey };

/** A holder in words, as nsx and the extension show it. */
export function describeHolder(h: Holder): string {
  switch (h.kind) {
    case 'fd': return `fd ${h.fd}${h.count && h.count > 1 ? ` (and ${h.count - 1} more)` : ''} of ${h.comm} (${h.pid})`;
    case 'mount': return `bind mount ${h.path} in mnt:[${h.mntns}]${h.pin ? ` (pin ${h.pin})` : h.netns ? ` (ip netns ${h.netns}, made by another tool)` : ''}`;
    case 'pid_for_children':
    case 'time_for_children': return `${h.kind} of ${h.comm} (${h.pid})`;
    case 'child': return `child namespace ${nsId(h.of)}`;
    case 'owner': return `namespace it owns, ${nsId(h.of)}`;
  }
}

export const MAX_HOLDERS = 32;

export interface ContainerHint {
  runtime: 'docker' | 'containerd' | 'kubernetes' | 'podman' | 'nspawn' | 'lxc';
  id: string;
  name?: string;
}

/** The `ip netns` names other tools gave a namespace (nsxd's own net pins are in `pins`). */
export function netnsNames(ns: Namespace): string[] {
  return ns.holders.flatMap((h) => (h.kind === 'mount' && h.netns ? [h.netns] : []));
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
  pins: Pin[];
}

export interface Snapshot {
  namespaces: Namespace[];
  processes: Process[];
  /** Milliseconds the scan took in nsxd. */
  scanMs: number;
}

// ---- handshake ------------------------------------------------------------

/** The LSP-shaped handshake that vscode-languageclient sends first. */
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
export const Initialize = new RequestType<InitializeParams, InitializeResult, void>('initialize');
export const Initialized = new NotificationType<Record<string, never>>('initialized');
export const Shutdown = new RequestType0<null, void>('shutdown');
export const Exit = new NotificationType<void>('exit');

// ---- discovery ------------------------------------------------------------

export const ListNamespaces = new RequestType<Record<string, never> | undefined, Snapshot, void>('namespaces/list');

export interface SubscribeParams {
  /** Poll interval nsxd may stretch when a scan is slow. */
  intervalMs?: number;
}
export const Subscribe = new RequestType<SubscribeParams, Snapshot, void>('namespaces/subscribe');
export const Unsubscribe = new RequestType0<null, void>('namespaces/unsubscribe');

export interface NamespacesChanged {
  added: Namespace[];
  changed: Namespace[];
  removed: NsKey[];
  processesAdded: Process[];
  processesChanged: Process[];
  processesRemoved: number[];
  scanMs: number;
}
export const NamespacesChangedNotification = new NotificationType<NamespacesChanged>('namespaces/changed');

export interface DetailsParams extends NsKey {}
export interface Details extends NsKey {
  /** Title and text sections, each a short table or listing read inside the namespace. */
  sections: { title: string; text: string }[];
}
export const NamespaceDetails = new RequestType<DetailsParams, Details, void>('namespaces/details');

// ---- pins -----------------------------------------------------------------

/** Pin names: a file name in the pin directory, never a path. */
export const PIN_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

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
export const PinNamespace = new RequestType<PinParams, PinResult, void>('namespaces/pin');
export const CreateNamespace = new RequestType<CreateParams, PinResult, void>('namespaces/create');

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
export const UnpinNamespace = new RequestType<UnpinParams, UnpinResult, void>('namespaces/unpin');
/** Each pinned namespace with all its pins (one namespace may be pinned under several names). */
export const ListPins = new RequestType0<(NsKey & { pins: Pin[] })[], void>('pins/list');

// ---- terminals ------------------------------------------------------------

export type TerminalTarget =
  /** The namespaces of a process; `inodes` are those the client saw, checked before anything runs. */
  | { pid: number; inodes?: Partial<Record<NsType, number>> }
  /** A pin in nsxd's pin directory (or /run/netns for net). */
  | { pin: { type: NsType; name: string } }
  /** Any namespace nsxd discovered, opened through whatever holds it (process, fd, mount). */
  | { namespace: NsKey };

export interface TerminalOpenParams {
  /** Join existing namespaces (setns), or start in fresh ones (unshare) when absent. */
  target?: TerminalTarget;
  /** Which namespaces to join or create; default: all that the target has / all but time for fresh. */
  types?: NsType[];
  root?: boolean;
  /** For fresh namespaces: the hostname of the new uts namespace. */
  hostname?: string;
  /** For joins: give the shell a private mount namespace with a /proc of the joined pid namespace. */
  freshProc?: boolean;
  /** Without it the user's login shell runs. */
  command?: string[];
  /** A pty of this size, or plain pipes (stdout/stderr apart) when absent. */
  pty?: { cols: number; rows: number };
  /** Only TERM, COLORTERM, LANG and LC_* are taken. */
  env?: Record<string, string>;
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
export const TerminalOpen = new RequestType<TerminalOpenParams, TerminalOpenResult, void>('terminal/open');

/** Bytes are base64 so that any byte survives JSON. */
export interface TerminalInputParams {
  session: number;
  data: string;
}
/** Answered once the bytes are written to the pty, which is how the sender paces itself. */
export const TerminalInput = new RequestType<TerminalInputParams, null, void>('terminal/input');
/** Closes the session's stdin (pipes only); a pty gets ^D from the client. */
export const TerminalEndInput = new NotificationType<{ session: number }>('terminal/endInput');
export const TerminalResize = new NotificationType<{ session: number; cols: number; rows: number }>('terminal/resize');
/** Kills the session's whole process tree. */
export const TerminalClose = new NotificationType<{ session: number }>('terminal/close');

export interface TerminalOutputParams {
  session: number;
  data: string;
  stream?: 'stderr';
}
export const TerminalOutput = new NotificationType<TerminalOutputParams>('terminal/output');
/** The client has consumed this many bytes; nsxd keeps at most OUTPUT_WINDOW unacknowledged. */
export const TerminalAck = new NotificationType<{ session: number; bytes: number }>('terminal/ack');
export const OUTPUT_WINDOW = 512 * 1024;

export interface TerminalExitParams {
  session: number;
  /** Exit status, or 128 + signal number as shells report it. */
  code: number;
  signal?: string;
}
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
  InvalidParams: -32602,
} as const;
