#!/usr/bin/env node
// npm start: nsxd on the default socket (with sudo when not root), then VS Code
// with the extension — the desktop `code` when there is one, else a local
// code-server (installed into .vscode-test/ on first use) whose URL is printed.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { codeServerBin } from '../test/vscode/codeserver.mjs';

const root = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const socket = process.env.NSX_SOCKET || '/run/nsx/nsxd.sock';
const children = [];
/** [command, args] that run as root: directly when we are, through sudo otherwise. */
const asRoot = (cmd, args) => (process.getuid() === 0 ? [cmd, args] : ['sudo', [cmd, ...args]]);

const live = () =>
  new Promise((resolve) => {
    const s = createConnection(socket);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

if (spawnSync('getent', ['group', 'nsx']).status !== 0)
  execFileSync(...asRoot('groupadd', ['--system', 'nsx']), { stdio: 'inherit' });
if (await live()) {
  console.log(`nsxd is already running on ${socket}.`);
} else {
  console.log(`Starting nsxd on ${socket} (Ctrl-C stops it)…`);
  const nsxd = spawn(...asRoot(process.execPath, [join(root, 'dist/nsxd.js'), '--socket', socket]), {
    stdio: 'inherit',
  });
  children.push(nsxd);
  for (let i = 0; i < 100 && !(await live()); i++) await new Promise((r) => setTimeout(r, 100));
}
console.log(
  `Try the CLI: ${join(root, 'dist/nsx')} --socket ${socket} list` +
    `\n(to have nsx on your PATH: sudo ln -sf ${join(root, 'dist/nsx')} /usr/local/bin/nsx; install.sh does it too, see the README)`,
);

const desktop = spawnSync('sh', ['-c', 'command -v code'], { encoding: 'utf8' }).stdout.trim();
const isDesktop = desktop && !/code-server/.test(execFileSync('readlink', ['-f', desktop], { encoding: 'utf8' }));
if (isDesktop) {
  children.push(
    spawn(desktop, ['--extensionDevelopmentPath', root, '--new-window', process.cwd()], {
      stdio: 'inherit',
      env: { ...process.env, NSX_SOCKET: socket },
    }),
  );
} else {
  execFileSync('bash', [join(root, 'scripts/setup-vscode-test.sh')], { stdio: 'inherit' });
  const state = join(root, '.vscode-test/start');
  const extensions = join(state, 'extensions');
  mkdirSync(join(state, 'user/User'), { recursive: true });
  rmSync(extensions, { recursive: true, force: true });
  mkdirSync(extensions, { recursive: true });
  // code-server loads every folder in its extensions dir: the checkout itself is one.
  symlinkSync(root, join(extensions, 'nsx.namespace-explorer-0.1.0'));
  writeFileSync(
    join(state, 'user/User/settings.json'),
    JSON.stringify({ 'security.workspace.trust.enabled': false, 'workbench.startupEditor': 'none' }),
  );
  const port = Number(process.env.PORT || 8765);
  const listening = await new Promise((resolve) => {
    const s = createConnection(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (listening) {
    // A second npm start: the first one's code-server has the port (and the extension, and nsxd).
    console.log(
      `\nSomething already listens on 127.0.0.1:${port}: most likely the first npm start, still running.\n` +
        `Its VS Code is at http://127.0.0.1:${port}/?folder=${encodeURIComponent(process.cwd())} — or stop it (Ctrl-C there), or pick another port: PORT=8766 npm start`,
    );
    process.exit(0);
  }
  children.push(
    spawn(
      codeServerBin,
      [
        '--auth',
        'none',
        '--bind-addr',
        `127.0.0.1:${port}`,
        '--user-data-dir',
        join(state, 'user'),
        '--extensions-dir',
        extensions,
        '--disable-telemetry',
        '--disable-update-check',
        process.cwd(),
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NSX_SOCKET: socket, EXTENSIONS_GALLERY: '{}' } },
    ),
  );
  console.log(
    `\nVS Code (code-server) with Namespace Explorer: http://127.0.0.1:${port}/?folder=${encodeURIComponent(process.cwd())}\n(forward the port to reach it from elsewhere: ssh -L ${port}:127.0.0.1:${port} HOST)`,
  );
}

const stop = () => {
  for (const c of children) c.kill('SIGTERM');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
await Promise.all(children.map((c) => new Promise((r) => c.once('exit', r))));
if (existsSync(socket) && !(await live())) console.log('nsxd stopped.');
