// The ports part of the contract (issue 23): what listens where, and port
// forwards from the host's 127.0.0.1 into a net namespace, or (for a client
// on another host, which listens on its own 127.0.0.1) from that client's
// stream connections, one per connection it accepted. Typed once here,
// with the parse nsxd runs on each message a client sends, as protocol.ts
// does for the rest.
import { isIP } from 'node:net';
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';
import * as parse from './parse';
import { ContainerHint, parseTarget, TerminalTarget } from './protocol';

/**
 * What a ports request names: any target a terminal takes, or a name as
 * people type it (a container, a net pin, an `ip netns` name, or `host`).
 */
export type PortsTarget = TerminalTarget | { name: string };

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/;

export function parsePortsTarget(value: unknown): PortsTarget {
  const t = parse.object(value, 'target');
  if (t.name !== undefined) {
    if (typeof t.name !== 'string' || !NAME.test(t.name))
      throw parse.invalid(`not a container, pin or ip netns name: ${JSON.stringify(t.name)}`);
    return { name: t.name };
  }
  return parseTarget(value);
}

/** A socket that listens (TCP) or is bound and unconnected (UDP) in a net namespace. */
export interface ListeningSocket {
  protocol: 'tcp' | 'udp';
  /** As the kernel has it: 0.0.0.0, ::, 127.0.0.1, an IPv6 address in RFC 5952 form. */
  address: string;
  port: number;
  /** The socket's inode (`socket:[INODE]` among its processes' fds) and the uid that made it. */
  inode: number;
  uid: number;
  /** The processes that hold it, as far as their fds were read. */
  processes: { pid: number; comm: string; fd: number }[];
}

/** One net namespace's listening sockets, and what the namespace is in people's words. */
export interface NetPorts {
  inode: number;
  /** A container, a pin, an `ip netns` name, `host`, or the namespace's id when it has none of those. */
  label: string;
  container?: ContainerHint;
  initial: boolean;
  sockets: ListeningSocket[];
  /** Why its sockets could not be read (no process of it to read them through, say). */
  unread?: string;
}

export interface PortsListParams {
  target?: PortsTarget;
  /** Bound UDP sockets too (default true). */
  udp?: boolean;
}
export interface PortsListResult {
  namespaces: NetPorts[];
  /** How many processes had fds left unread, past what one list reads: a socket may lack its process. */
  processesCut?: number;
}
/** client → nsxd */
export const ListPorts = new RequestType<PortsListParams | undefined, PortsListResult, void>('ports/list');
export function parsePortsList(value: unknown): PortsListParams {
  if (value === undefined || value === null) return {};
  const p = parse.object(value);
  const out: PortsListParams = { udp: p.udp === undefined ? true : parse.bool(p.udp, 'udp') };
  if (p.target !== undefined) out.target = parsePortsTarget(p.target);
  return out;
}

export interface ForwardParams {
  target: PortsTarget;
  /** The port inside the namespace. */
  port: number;
  /** Where inside to connect: default 127.0.0.1. */
  address?: string;
  /** The host's port on 127.0.0.1: 0 or absent lets nsxd pick one; below 1024 only for root. */
  hostPort?: number;
  /** Outlive the connection that opened it, until ports/unforward or nsxd stops. */
  keep?: boolean;
  /** Root only: let every local user's connections through, not only root's. */
  anyUser?: boolean;
  /**
   * No port on this host: each connection comes as a stream connection that
   * presents a token of ports/connect (a client on another host listens on
   * its own 127.0.0.1 and carries what it accepts over its link).
   */
  streams?: boolean;
}

export interface Forward {
  id: number;
  /** The target in people's words, as `web` or `net:[4026532201]`. */
  target: string;
  netns: number;
  address: string;
  port: number;
  hostAddress: '127.0.0.1';
  hostPort: number;
  uid: number;
  user: string;
  keep: boolean;
  anyUser: boolean;
  /** Connections open through it now, and since it opened. */
  connections: number;
  total: number;
  /** Its connections come as stream connections (ForwardParams.streams): hostPort is 0, nothing listens here. */
  streams?: boolean;
}
/** client → nsxd */
export const ForwardPort = new RequestType<ForwardParams, Forward, void>('ports/forward');
export function parseForward(value: unknown): ForwardParams {
  const p = parse.object(value);
  if (p.target === undefined) throw parse.invalid('a forward needs a target');
  const out: ForwardParams = {
    target: parsePortsTarget(p.target),
    port: parse.int(p.port, 'port', 1, 65535),
    keep: parse.bool(p.keep, 'keep'),
    anyUser: parse.bool(p.anyUser, 'anyUser'),
  };
  if (p.hostPort !== undefined) out.hostPort = parse.int(p.hostPort, 'hostPort', 0, 65535);
  if (p.streams !== undefined) out.streams = parse.bool(p.streams, 'streams');
  if (p.address !== undefined) {
    const a = parse.text(p.address, 'address', 64);
    if (isIP(a) === 0) throw parse.invalid(`address must be an IPv4 or IPv6 address, not ${JSON.stringify(a)}`);
    out.address = a;
  }
  return out;
}

/**
 * client → nsxd: a token for one connection through a streams forward of the
 * caller's own: a stream connection (`NSX-STREAM 1 TOKEN`, as a capture's)
 * that presents it within a few seconds, as the same uid, is connected
 * inside; nsxd then writes FORWARD_CONNECTED and the bytes flow both ways.
 */
export const ForwardConnect = new RequestType<{ forward: number }, { token: string }, void>('ports/connect');
export function parseForwardConnect(value: unknown): { forward: number } {
  return { forward: parse.int(parse.object(value).forward, 'forward', 1, Number.MAX_SAFE_INTEGER) };
}
/** What nsxd writes on a forward's stream connection once it is connected inside: the client's bytes may follow. */
export const FORWARD_CONNECTED = 'NSX-STREAM CONNECTED\n';

/** client → nsxd: ends a forward of the caller's (any, for root and admins). */
export const Unforward = new RequestType<{ id: number }, null, void>('ports/unforward');
export function parseUnforward(value: unknown): { id: number } {
  return { id: parse.int(parse.object(value).id, 'id', 1, Number.MAX_SAFE_INTEGER) };
}

/** client → nsxd: the caller's forwards (everyone's, for root and admins). */
export const ListForwards = new RequestType0<Forward[], void>('ports/forwards');

/** nsxd → client: a forward this connection opened has ended (its target went away, say). */
export const ForwardClosed = new NotificationType<{ id: number; reason: string }>('ports/forwardClosed');

/** `forwarding 127.0.0.1:18080 → web:8080` */
export function describeForward(f: Forward): string {
  const inside = f.address === '127.0.0.1' ? f.target : `${f.target} ${f.address}`;
  return `${f.hostAddress}:${f.hostPort} → ${inside}:${f.port}`;
}
