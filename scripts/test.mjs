#!/usr/bin/env node
// Every test: the node:test unit suite (any user), the integration suite (as
// root: real namespaces, real users, a real nsxd), then the extension's suite
// inside a real VS Code against its own nsxd. With --unit, the unit suite
// alone. Ends with one line: N passed, N failed.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
let passed = 0;
let failed = 0;

/** Runs a command, echoing its output, and returns what it printed. */
function run(cmd, args, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.stderr.on('data', (d) => {
      out += d;
      process.stderr.write(d);
    });
    child.on('close', (code) => resolve({ code, out }));
  });
}

/** A VS Code suite's run: its last line says `N passed, N failed`. */
function count(suite) {
  const m = /^(\d+) passed, (\d+) failed/m.exec(suite.out);
  passed += Number(m?.[1] ?? 0);
  failed += m ? Number(m[2]) : 1;
  if (suite.code !== 0 && (!m || Number(m[2]) === 0)) failed += 1;
}

/** node:test over some directories; its summary lines count the tests. */
async function nodeTests(dirs) {
  const r = await run(process.execPath, ['--test', '--test-concurrency=1', ...dirs]);
  const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(r.out)?.[1] ?? 0);
  passed += count('pass');
  failed += count('fail') + (r.code !== 0 && count('fail') === 0 ? 1 : 0);
}

// This kind of machine's root .bashrc runs `pyenv init`, whose rehash holds a lock file for the moment it
// runs: a test that kills a root shell as it starts can leave the lock behind, and every root shell after it
// then waits a minute for the lock before its first prompt. One older than a few seconds is nobody's: while
// the suites run, such a lock is cleared.
function clearStaleShellLock() {
  const lock = join(homedir(), '.pyenv/shims/.pyenv-shim');
  try {
    if (Date.now() - statSync(lock).mtimeMs > 5000) rmSync(lock);
  } catch {
    // no pyenv here, or no lock
  }
}

setInterval(clearStaleShellLock, 1000).unref();

// With --vscode, the VS Code suite alone (NSX_GREP=PATTERN: only the tests it matches).
const vscodeOnly = process.argv.includes('--vscode');

// 0. nsxd's layers, from its imports: discovery reads, kernel acts, requests decide, rpc carries.
if (!vscodeOnly) {
  const layers = await run(process.execPath, ['scripts/check-layers.mjs']);
  if (layers.code === 0) passed += 1;
  else failed += 1;
}

// 0. Sizes: no file in helper/, extension/ or native/ over 400 lines, no function over 60 (C included). Not
// with --unit, as the style check: it reads files, not behaviour, and test:unit is what each commit must pass.
if (!vscodeOnly && !process.argv.includes('--unit')) {
  const sizes = await run(process.execPath, ['scripts/check-sizes.mjs', 'helper', 'extension', 'native']);
  if (sizes.code === 0) passed += 1;
  else failed += 1;
}

// 0. One style, as `npm run format` writes it: Prettier for TypeScript and scripts, clang-format for C.
if (!vscodeOnly && !process.argv.includes('--unit')) {
  const c = ['native', 'test/bench', 'test/fixtures'].flatMap((d) =>
    readdirSync(join(root, d))
      .filter((f) => /\.[ch]$/.test(f))
      .map((f) => join(d, f)),
  );
  const prettier = await run(join(root, 'node_modules/.bin/prettier'), ['--check', '--log-level', 'warn', '.']);
  const clang = await run('clang-format', ['--dry-run', '--Werror', ...c]);
  if (prettier.code === 0 && clang.code === 0) passed += 1;
  else failed += 1;
}

// 0. Types: esbuild bundles without checking them; tsc checks the extension, nsxd, nsx and the tests, and
// the Network view's page against the DOM.
if (!vscodeOnly && !process.argv.includes('--unit')) {
  const tsc = join(root, 'node_modules/.bin/tsc');
  const node = await run(tsc, ['-p', '.', '--noEmit']);
  const page = await run(tsc, ['-p', 'extension/network/webview', '--noEmit']);
  if (node.code === 0 && page.code === 0) passed += 1;
  else failed += 1;
}

// 1. Unit tests: any user, no daemon, no namespaces of their own.
if (!vscodeOnly) await nodeTests(['dist/test/unit/']);
if (process.argv.includes('--unit')) {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
if (process.getuid() !== 0) {
  console.error(
    'The integration and VS Code suites make namespaces, users and mounts: run them as root (sudo npm test).',
  );
  process.exit(1);
}

// 2. Integration tests, as root: real namespaces, real users, a real nsxd.
if (!vscodeOnly) await nodeTests(['dist/test/integration/']);

// 3. The VS Code suite, against an nsxd of its own.
const dir = mkdtempSync(join(tmpdir(), 'nsx-vscode-'));
chmodSync(dir, 0o755);
const socket = join(dir, 'nsxd.sock');
writeFileSync(join(dir, 'nsxd.json'), '{"admins": [], "rootShells": []}\n');
const daemon = spawn(process.execPath, ['dist/nsxd.js', '--socket', socket, '--config', join(dir, 'nsxd.json')], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'pipe'],
});
let daemonLog = '';
daemon.stderr.on('data', (d) => {
  daemonLog += d;
});
await new Promise((resolve, reject) => {
  daemon.stderr.on('data', () => {
    if (daemonLog.includes('listening on')) resolve();
  });
  daemon.once('exit', (code) => reject(new Error(`nsxd exited (${code}): ${daemonLog}`)));
});
try {
  const passOn = Object.fromEntries(
    ['NSX_SCREENSHOT', 'NSX_GREP'].filter((k) => process.env[k]).map((k) => [k, process.env[k]]),
  );
  const suite = await run(process.execPath, ['test/vscode/run.mjs'], { NSX_SOCKET: socket, ...passOn });
  count(suite);
  // The window reloaded under its terminals: a suite of its own, as the page reload restarts the extension host.
  const state = join(dir, 'reload-state.json');
  count(
    await run(process.execPath, ['test/vscode/run.mjs', '--suite', 'dist/test/vscode/reload.js'], {
      NSX_SOCKET: socket,
      NSX_RELOAD_STATE: state,
    }),
  );
  // The extension as installed from the packaged .vsix (vsce on the dist/ just built), not from the checkout.
  const vsix = join(dir, 'namespace-explorer.vsix');
  const packaged = join(dir, 'packaged');
  const packing = await run(join(root, 'node_modules/.bin/vsce'), [
    'package',
    '--no-dependencies',
    '--allow-missing-repository',
    '--no-rewrite-relative-links',
    '--out',
    vsix,
  ]);
  if (packing.code === 0 && (await run('unzip', ['-q', vsix, '-d', packaged])).code === 0) {
    const extension = join(packaged, 'extension');
    count(
      await run(
        process.execPath,
        ['test/vscode/run.mjs', '--extension', extension, '--suite', 'dist/test/vscode/packaged.js'],
        { NSX_SOCKET: socket, NSX_PACKAGED: extension },
      ),
    );
  } else {
    failed += 1;
  }
} finally {
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.once('exit', r));
  // Sessions outlive nsxd; any the suite left would wait out the orphan timeout.
  spawnSync('pkill', ['-TERM', '-f', `nsx-session --socket ${dir}/sessions/`]);
  spawnSync('umount', ['--recursive', '--lazy', join(dir, 'pins')]);
  rmSync(dir, { recursive: true, force: true });
}

console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
