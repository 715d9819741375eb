// Where a client finds nsxd on an installed machine, and what to tell a user
// when it cannot. (Deployment, not contract: nsxd takes --socket and --group.)
export const DEFAULT_SOCKET = '/run/nsx/nsxd.sock';
export const DEFAULT_GROUP = 'nsx';

export function defaultSocket(): string {
  return process.env.NSX_SOCKET || DEFAULT_SOCKET;
}

/**
 * A sentence that says what to do, for each way reaching nsxd can fail.
 * INSTALLER is where this copy's install.sh is (the extension knows its
 * folder); without it the README says.
 */
export function explainConnectError(err: NodeJS.ErrnoException, path: string, installer?: string): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      // The socket is there and nothing accepts: an nsxd that died, or one systemd gave up starting.
      return `nsxd is not answering on ${path} (the socket is there, nothing accepts): see why with \`systemctl status nsxd\` where it is installed, or start it with \`sudo nsxd\``;
    case 'ENOENT':
      return `nsxd is not running (nothing listens on ${path}): start it with \`sudo nsxd\`, or install it for good${installer ? ` with \`sudo bash ${installer}\`` : ''} (see the README's "Installing nsxd for good")`;
    case 'EACCES':
      return `permission denied on ${path}: only root and members of the group "${DEFAULT_GROUP}" may use nsxd; ask an admin to run \`sudo usermod -aG ${DEFAULT_GROUP} $USER\`, then log in again`;
    default:
      return `cannot reach nsxd at ${path}: ${err.message}`;
  }
}
