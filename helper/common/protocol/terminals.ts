// terminal/*: sessions that run a shell or command in namespaces, their input, output and end.
import { NotificationType, RequestType } from 'vscode-jsonrpc';
import * as parse from '../parse';
import { NsKey, NsType, parseNsKey, parseNsType, parseNsTypes } from './core';
import { parsePinName } from './pins';

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

export function parseTarget(value: unknown): TerminalTarget {
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
