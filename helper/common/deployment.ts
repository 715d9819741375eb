// Where a client finds nsxd on an installed machine, and what to tell a user
// when it cannot. (Deployment, not contract: nsxd takes --socket and --group.)
export const DEFAULT_SOCKET = '/run/nsx/nsxd.sock';
export const DEFAULT_GROUP = 'nsx';

export function defaultSocket(): string {
  return process.env.NSX_SOCKET || DEFAULT_SOCKET;
}

/** A sentence that says what to do, for each way reaching nsxd can fail. */
export function explainConnectError(err: NodeJS.ErrnoException, path: string): string {
  switch (err.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      return `nsxd is not running (nothing listens on ${path}): install its systemd units (sudo bash helper/daemon/systemd/install.sh, see README), or run \`npm start\` in a checkout`;
    case 'EACCES':
      return `permission denied on ${path}: only root and members of the group "${DEFAULT_GROUP}" may use nsxd; ask an admin to run \`sudo usermod -aG ${DEFAULT_GROUP} $USER\`, then log in again`;
    default:
      return `cannot reach nsxd at ${path}: ${err.message}`;
  }
}
