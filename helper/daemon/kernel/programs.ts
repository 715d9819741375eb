// The programs nsxd runs as root, beside its own file in dist/, and the one
// rule they keep: no one who could not already change nsxd may change them
// (the same owner as nsxd's own file, writable by that owner alone;
// helper/daemon/systemd/install.sh installs all of them as root's).
import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The launcher of every session and of what nsxd does inside namespaces for one request. */
export const LAUNCHER = join(__dirname, 'nsx-exec');
/** A session's supervisor: its pty, its relay; it outlives nsxd. */
export const SUPERVISOR = join(__dirname, 'nsx-session');
/** Packets of several namespaces as one pcapng. */
export const CAPTURER = join(__dirname, 'nsx-capture');
/** A port forward's connections, made inside its net namespace. */
export const CONNECTOR = join(__dirname, 'nsx-connect');
/** A mount namespace's files, as the requesting user, inside its root. */
export const FILES_HELPER = join(__dirname, 'nsx-files');

/** Throws, in words, unless PROGRAM keeps the rule; makes it executable if it came from a .vsix, which keeps no modes. */
export function checkProgram(program: string): void {
  const self = statSync(__filename);
  const st = statSync(program);
  if (!st.isFile() || st.uid !== self.uid || (st.mode & 0o022) !== 0)
    throw new Error(`${program} must be a file with the owner of ${__filename}, writable by that owner alone`);
  if ((st.mode & 0o100) === 0) chmodSync(program, 0o755);
}
