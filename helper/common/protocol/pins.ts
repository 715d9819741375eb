// Pins: a namespace kept alive by a bind mount under a name, and new persistent namespaces.
import { RequestType, RequestType0 } from 'vscode-jsonrpc';
import * as parse from '../parse';
import { NsKey, NsType, parseNsType } from './core';
import type { Holder, Pin } from './model';

/** Pin names: a file name in the pin directory, never a path. */
export const PIN_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const PIN_NAME_RULE = '1 to 64 of a-z 0-9 . _ - , starting with a letter or digit';
export function parsePinName(value: unknown): string {
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
