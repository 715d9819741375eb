// The contract's basics: its version, the namespace types and how a namespace
// is named, the handshake every connection starts with, and the error codes.
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';
import * as parse from '../parse';

/** Bumped whenever a request or notification changes shape. */
export const PROTOCOL_VERSION = 5;
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
export function parseNsTypes(value: unknown): NsType[] {
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
  /** The host nsxd runs on, as its own uts namespace and kernel say (another host's words: text only). */
  host?: { hostname: string; kernel: string };
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
