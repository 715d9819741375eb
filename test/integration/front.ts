// What the tests of nsx's C front share: a fake nsxd, the framing, the front
// run with its output kept as bytes, and the front built with AddressSanitizer.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SOCKET } from '../../helper/common/deployment';
import { PROTOCOL_VERSION } from '../../helper/common/protocol';
import { NSX_JS, ROOT } from '../support';

/** A server on a socket of its own that answers each connection as `answer` says; its connections, in order. */
export async function fakeDaemon(
  answer: (s: Socket, n: number) => void,
): Promise<{ socket: string; connections: Socket[]; close(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'nsx-fake-'));
  const socket = join(dir, 'nsxd.sock');
  const connections: Socket[] = [];
  const server: Server = createServer((s) => {
    connections.push(s);
    s.on('error', () => undefined);
    answer(s, connections.length);
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    socket,
    connections,
    close: () => {
      for (const s of connections) s.destroy();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const frame = (body: string) => `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
export const frameBytes = (body: Buffer) =>
  Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]);
export const HELLO = frame(
  JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    result: {
      capabilities: {},
      serverInfo: { name: 'nsxd', version: '0.0.1' },
      protocolVersion: PROTOCOL_VERSION,
      identity: { uid: 0, user: 'root', role: 'admin', rootShells: true, nstypes: [] },
    },
  }),
);
/** The front at `bin` run on `socket` as root, what it wrote kept as bytes. */
export function front(bin: string, args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; signal: string | null; stdout: Buffer; stderr: string }>((resolve) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    const stdout: Buffer[] = [];
    let stderr = '';
    p.stdout.on('data', (d) => {
      stdout.push(d);
    });
    p.stderr.on('data', (d) => {
      stderr += d;
    });
    p.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(stdout), stderr }));
  });
}

/** nsx's C files, as esbuild.mjs builds it. */
function nsxSources(): string[] {
  const programs = JSON.parse(readFileSync(join(ROOT, 'native/programs.json'), 'utf8')) as Record<string, string[]>;
  return programs.nsx.map((file) => join(ROOT, `native/${file}.c`));
}

/** nsx's C front built with AddressSanitizer into a folder of its own, beside a link to nsx.js for its hand-off. */
export function asanBuild(): { bin: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'nsx-asan-'));
  execFileSync(
    'cc',
    [
      '-std=gnu11',
      '-g',
      '-O1',
      '-fsanitize=address',
      '-fno-omit-frame-pointer',
      `-DNSX_PROTOCOL_VERSION=${PROTOCOL_VERSION}`,
      `-DNSX_DEFAULT_SOCKET=${JSON.stringify(DEFAULT_SOCKET)}`,
      '-o',
      join(dir, 'nsx'),
      ...nsxSources(),
    ],
    { stdio: 'inherit' },
  );
  symlinkSync(NSX_JS, join(dir, 'nsx.js'));
  return { bin: join(dir, 'nsx'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}
