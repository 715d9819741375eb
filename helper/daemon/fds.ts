// Closing what nsxd opened, whichever layer opened it: an fd handed on (to a
// supervisor, to nsx-exec) is closed here once the other side has its copy.
import { closeSync } from 'node:fs';

/** Closes fd if there is one; one already closed is no error. */
export function closeQuietly(fd: number | undefined): void {
  if (fd === undefined) return;
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

/** Closes the fd of each: the namespaces a request opened, once done with. */
export function closeAll(opened: { fd: number }[]): void {
  for (const { fd } of opened) closeQuietly(fd);
}
