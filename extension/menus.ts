// Everything the `when` clauses in package.json match on, in one place: the
// context keys the extension sets, and the words of tree items' contextValue
//   nstype <type>
//   namespace <type> [pinned] [netns] [initial] [joinable]
//   container [running] · process joinable · holder
// (pinned: nsxd pins it; netns: an `ip netns` name another tool made;
// joinable: a process is in it, so a terminal can join it.)
import * as vscode from 'vscode';
import type { Container, Namespace, NsType } from '../helper/common/protocol';
import { netnsNames } from '../helper/common/words';

export type ContextKey = 'nsx.state' | 'nsx.grouping' | 'nsx.filtered' | 'nsx.activeTerminalIsOurs' | 'nsx.hasHosts';

export function setContextKey(key: ContextKey, value: unknown): void {
  void vscode.commands.executeCommand('setContext', key, value);
}

export function typeGroupContext(type: NsType): string {
  return `nstype ${type}`;
}

/** A namespace row; `joinable` is given for a process's own namespaces, whose process is known. */
export function namespaceContext(
  type: NsType,
  ns: Namespace | undefined,
  initial: boolean,
  joinable = (ns?.pids.length ?? 0) > 0,
): string {
  return [
    'namespace',
    type,
    ns?.pins.length ? 'pinned' : '',
    ns && netnsNames(ns).length ? 'netns' : '',
    initial ? 'initial' : '',
    joinable ? 'joinable' : '',
  ]
    .filter(Boolean)
    .join(' ');
}

/** A container row: `container running` can be joined. */
export function containerContext(c: Container): string {
  return c.pid !== undefined ? 'container running' : 'container';
}

export const PROCESS_CONTEXT = 'process joinable';
export const HOLDER_CONTEXT = 'holder';

/** A host's row, when nsx.hosts names other hosts: Retry is on it. */
export const HOST_CONTEXT = 'host';
