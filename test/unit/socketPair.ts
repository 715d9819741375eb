// Two ends of a real Unix socket, for tests of what goes over one; the
// socket's folder is removed as soon as they are connected.
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function socketPair(): Promise<[Socket, Socket]> {
  const dir = mkdtempSync(join(tmpdir(), 'nsx-pair-'));
  const server = createServer();
  try {
    await new Promise<void>((r) => server.listen(join(dir, 's'), r));
    const accepted = new Promise<Socket>((r) => server.once('connection', r));
    const client = createConnection(join(dir, 's'));
    return [client, await accepted];
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
