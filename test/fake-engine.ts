// A user's own container engine, as any logged-in user may serve one: a
// podman-compatible API on /run/user/UID/podman/podman.sock, run as that user,
// that says whatever the test makes it say. nsxd must take every word of it as
// that user's, and nothing more.
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, rootDir, waitFor } from './support';

export interface FakeContainer {
  /** 64 hex digits. */
  id: string;
  name: string;
  state?: string;
  /** What its inspect calls the container's first process. */
  pid?: number;
  hostname?: string;
  env?: string[];
  workingDir?: string;
  /** Bytes of padding in its inspect answer (an engine that answers big). */
  padding?: number;
}

export interface FakeEngine {
  socket: string;
  /** The requests it has had, by path. */
  requests(): string[];
  /** The requests nsxd gave up on before they were answered (a hung engine's), and when (Date.now()). */
  aborted(): { path: string; at: number }[];
  stop(): void;
}

/**
 * Serves CONTAINERS as USER's rootless podman until stop(), which removes its
 * /run/user folder too. With hang, it never answers its list of containers.
 */
export async function fakeEngine(
  user: { name: string; uid: number },
  containers: FakeContainer[],
  opts: { hang?: boolean } = {},
): Promise<FakeEngine> {
  const dir = `/run/user/${user.uid}`;
  const socket = join(dir, 'podman/podman.sock');
  // A uid given again after a userdel finds the folder of the account before it.
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'podman'), { recursive: true });
  chownSync(dir, user.uid, user.uid);
  chownSync(join(dir, 'podman'), user.uid, user.uid);
  const scriptDir = rootDir('nsx-fake-engine-');
  const script = join(scriptDir, 'engine.js');
  const list = containers.map((c) => ({
    Id: c.id,
    Names: [c.name],
    Image: 'localhost/fake',
    State: c.state ?? 'running',
    Labels: {},
  }));
  const inspects = Object.fromEntries(
    containers.map((c) => [
      `/containers/${c.id}/json`,
      {
        Id: c.id,
        State: { Pid: c.pid ?? 0 },
        Config: { Hostname: c.hostname ?? 'fake', Env: c.env ?? [], WorkingDir: c.workingDir ?? '/' },
        ...(c.padding ? { Padding: c.padding } : {}),
      },
    ]),
  );
  writeFileSync(
    script,
    `
    const http = require('http');
    const routes = ${JSON.stringify({ '/_ping': 'OK', '/v4.0.0/libpod/containers/json?all=true': list, ...inspects })};
    const list = '/v4.0.0/libpod/containers/json?all=true';
    http.createServer((req, res) => {
      console.log('GET ' + req.url);
      res.on('close', () => { if (!res.writableFinished) console.log('ABORTED ' + Date.now() + ' ' + req.url); });
      if (${Boolean(opts.hang)} && req.url === list) return;
      const route = routes[req.url] ?? {};
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('Libpod-Api-Version', '4.0.0');
      res.end(JSON.stringify(route.Padding ? { ...route, Padding: 'x'.repeat(route.Padding) } : route));
    }).listen(${JSON.stringify(socket)}, () => console.log('ready'));
  `,
  );
  const proc = spawn('runuser', ['-u', user.name, '--', process.execPath, script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => {
    out += d;
  });
  const stop = () => {
    proc.kill();
    spawnSync('pkill', ['-u', user.name, '-f', script]);
    rmSync(dir, { recursive: true, force: true });
    removeDir(scriptDir);
  };
  try {
    await waitFor(() => out.includes('ready'), 10_000, "the user's engine");
  } catch (err) {
    stop();
    throw err;
  }
  return {
    socket,
    requests: () => [...out.matchAll(/^GET (.*)$/gm)].map((m) => m[1]),
    aborted: () => [...out.matchAll(/^ABORTED (\d+) (.*)$/gm)].map((m) => ({ path: m[2], at: Number(m[1]) })),
    stop,
  };
}
