// The capture area of the protocol: capture/start names network namespaces
// (a container, a pid, a pin, net:INODE) and, for each, the interfaces to
// capture on, and answers with a one-time token; the pcapng stream comes on
// a second connection to nsxd's socket that presents it (streamPreamble),
// not through JSON-RPC, while capture/stop and capture/end stay on this one.
// Also the words both clients print about a capture.
import { NotificationType, RequestType } from 'vscode-jsonrpc';
import * as parse from './parse';
import { field } from './format';
import { NsKey, nsId, parseNsKey, TerminalTarget } from './protocol';

export const CAPTURE_LIMITS = {
  targets: 16,
  /** Per namespace; nsx-capture takes at most 64 in all. */
  interfaces: 64,
  filterBytes: 4096,
  count: 1_000_000_000,
  /** A day: a capture nobody stops still ends. */
  seconds: 86_400,
  bytes: 64 * 1024 ** 3,
  snaplen: 262_144,
} as const;

/** Whose network namespace: as a terminal's target, or the host's (PID 1's, or the oldest process's nsxd can read). */
export type CaptureTarget = TerminalTarget | { host: true };

/** One namespace to capture in, and on which of its interfaces (all of them, lo too, when none is named). */
export interface CaptureTargetSpec {
  target: CaptureTarget;
  interfaces?: string[];
}

export interface CaptureStartParams {
  targets: CaptureTargetSpec[];
  /** A tcpdump filter expression (pcap-filter(7)). */
  filter?: string;
  /** Stop after this many packets, seconds, or bytes of pcapng; nsxd's caps apply when absent. */
  count?: number;
  seconds?: number;
  bytes?: number;
  snaplen?: number;
}

export interface CaptureInterface {
  /** The interface's name in its namespace: the namespace owner's bytes, to be escaped when printed. */
  name: string;
  /** What its namespace is called in the capture: a container's name, a pin's, `host`, a pid, net:[INODE]. */
  where: string;
  namespace: NsKey;
  /** pcapng link type: 1 Ethernet, 101 raw IP, 113 Linux cooked. */
  linktype: number;
}

export interface CaptureStartResult {
  capture: number;
  interfaces: CaptureInterface[];
  /**
   * 64 hex digits, for the stream connection to present (streamPreamble),
   * once, from the same user, within STREAM_TOKEN_SECONDS: else the capture
   * ends, failed.
   */
  token: string;
}

/** How long a capture's token waits for its stream connection. */
export const STREAM_TOKEN_SECONDS = 5;

/** What a stream connection says first, and all it ever says: then it only reads, until nsxd ends it. */
export function streamPreamble(token: string): string {
  return `NSX-STREAM 1 ${token}\n`;
}

/** client → nsxd: the interfaces a capture of these targets would have (for a pick); no packet is captured. */
export const CaptureInterfaces = new RequestType<CaptureStartParams, CaptureInterface[], void>('capture/interfaces');

/**
 * client → nsxd: answered once every socket is open; the stream (pcapng
 * from its first byte) goes to the connection that presents the answer's token.
 */
export const CaptureStart = new RequestType<CaptureStartParams, CaptureStartResult, void>('capture/start');

export interface CaptureParams {
  capture: number;
}

/** client → nsxd: stop now; capture/end follows, and the stream connection ends once what was captured is out. */
export const CaptureStop = new NotificationType<CaptureParams>('capture/stop');

export interface CaptureEndParams extends CaptureParams {
  /** count, seconds, bytes, stopped, output closed, interfaces gone; or failed. */
  reason: string;
  packets: number;
  dropped: number;
  /** Why it failed, when it did. */
  error?: string;
}
/** nsxd → client: once nsx-capture is gone and its stream was handed on (or the capture failed). */
export const CaptureEnd = new NotificationType<CaptureEndParams>('capture/end');

/** Interface names as the kernel takes them (dev_valid_name): 1 to 15 bytes, no '/', ':', space or NUL, not . or .. */
export function isInterfaceName(name: string): boolean {
  const bytes = Buffer.byteLength(name);
  return bytes >= 1 && bytes <= 15 && name !== '.' && name !== '..' && !/[/:\s\0]/.test(name);
}

const CONTAINER_REF = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/;

function parseCaptureTarget(value: unknown, what: string): CaptureTarget {
  const t = parse.object(value, what);
  if (t.host === true) return { host: true };
  if (t.pid !== undefined) return { pid: parse.pid(t.pid) };
  if (t.pin !== undefined) {
    const name = parse.text(parse.object(t.pin, `${what}.pin`).name, `${what}.pin.name`, 255);
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(name)) throw parse.invalid(`bad pin name ${JSON.stringify(name)}`);
    return { pin: { type: 'net', name } };
  }
  if (t.namespace !== undefined) {
    const key = parseNsKey(t.namespace, `${what}.namespace`);
    if (key.type !== 'net') throw parse.invalid(`packets are captured in network namespaces, not in ${nsId(key)}`);
    return { namespace: key };
  }
  if (typeof t.container === 'string' && CONTAINER_REF.test(t.container)) return { container: t.container };
  throw parse.invalid(`${what} must name the host, a pid, a net pin, a net namespace or a container`);
}

function parseInterfaces(value: unknown, what: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > CAPTURE_LIMITS.interfaces)
    throw parse.invalid(`${what} must be a list of at most ${CAPTURE_LIMITS.interfaces} interface names`);
  const names = value.map((name, i) => {
    if (typeof name !== 'string' || !isInterfaceName(name))
      throw parse.invalid(`not an interface name: ${JSON.stringify(name)} (${what}[${i}])`);
    return name;
  });
  // Each once: a name given twice would capture each of its packets twice.
  return [...new Set(names)];
}

function limit(value: unknown, what: string, max: number): number | undefined {
  return value === undefined ? undefined : parse.int(value, what, 1, max);
}

export function parseCaptureStart(value: unknown): CaptureStartParams {
  const p = parse.object(value);
  if (!Array.isArray(p.targets) || p.targets.length === 0 || p.targets.length > CAPTURE_LIMITS.targets)
    throw parse.invalid(`targets must name from 1 to ${CAPTURE_LIMITS.targets} namespaces to capture in`);
  const targets = p.targets.map((t, i): CaptureTargetSpec => {
    const spec = parse.object(t, `targets[${i}]`);
    const interfaces = parseInterfaces(spec.interfaces, `targets[${i}].interfaces`);
    return { target: parseCaptureTarget(spec.target, `targets[${i}].target`), ...(interfaces && { interfaces }) };
  });
  const req: CaptureStartParams = { targets };
  if (p.filter !== undefined && p.filter !== '')
    req.filter = parse.text(p.filter, 'filter', CAPTURE_LIMITS.filterBytes);
  for (const key of ['count', 'seconds', 'bytes', 'snaplen'] as const) {
    const v = limit(p[key], key, CAPTURE_LIMITS[key]);
    if (v !== undefined) req[key] = v;
  }
  if (req.snaplen !== undefined && req.snaplen < 64) throw parse.invalid('snaplen must be at least 64');
  return req;
}

export function parseCaptureParams(value: unknown): CaptureParams {
  return { capture: parse.int(parse.object(value).capture, 'capture', 1, Number.MAX_SAFE_INTEGER) };
}

/**
 * eth0@web, as the capture names it, for a terminal: a name with anything but
 * letters, digits and . _ - @ : + is quoted, its quotes and backslashes
 * escaped, and its control characters made visible (\x01).
 */
export function interfaceLabel(i: Pick<CaptureInterface, 'name' | 'where'>): string {
  const label = `${i.name}@${i.where}`;
  return /^[\w.@:+[\]-]+$/.test(label) ? label : `"${field(label.replace(/["\\]/g, '\\$&'))}"`;
}

/** What tcpdump says first, to stderr. */
export function capturingOn(interfaces: CaptureInterface[]): string {
  return `capturing on ${interfaces.map(interfaceLabel).join(', ')}`;
}

/** What tcpdump says last. */
export function captureSummary(end: Pick<CaptureEndParams, 'packets' | 'dropped'>): string {
  const n = (k: number, word: string) => `${k} ${word}${k === 1 ? '' : 's'}`;
  return `${n(end.packets, 'packet')} captured, ${end.dropped} dropped`;
}

/**
 * The targets of a capture whose interfaces were picked from what
 * capture/interfaces listed for TARGETS: each with those picked of its
 * namespace, none named when all are; a target with none picked left out.
 * nsxd lists each namespace's interfaces together, in the targets' order,
 * and every namespace has lo: the k-th namespace listed is the k-th target's.
 */
export function pickedTargets(
  targets: CaptureTarget[],
  listed: CaptureInterface[],
  picked: CaptureInterface[],
): CaptureTargetSpec[] {
  const order = [...new Set(listed.map((i) => i.namespace.inode))];
  return targets.flatMap((target, k) => {
    const of = (list: CaptureInterface[]) => list.filter((i) => i.namespace.inode === order[k]);
    const mine = of(picked);
    if (mine.length === 0) return [];
    const interfaces = mine.length === of(listed).length ? undefined : mine.map((i) => i.name);
    return [{ target, ...(interfaces && { interfaces }) }];
  });
}
