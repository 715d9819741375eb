#!/usr/bin/env node
// Runs an extension's VS Code test suite in a real workbench and exits with
// the suite's exit code.
//
//   node test/vscode/run.mjs [--extension DIR] [--suite FILE] [--workspace DIR] [--screenshot FILE]
//
//   --extension   extension under test (default: the repository root)
//   --suite       the suite's compiled index.js exporting run() (default: dist/test/vscode/index.js)
//   --workspace   folder to open (default: a fresh temporary folder)
//   --screenshot  save a screenshot of the workbench when the run ends (code-server only)
//
// Environment variables whose names start with NSX_ reach the suite's
// process.env. With desktop VS Code available ($VSCODE_EXECUTABLE, or a `code`
// on PATH that belongs to a desktop install) the suite runs there through
// @vscode/test-electron; otherwise code-server is installed if needed
// (scripts/setup-vscode-test.sh) and the suite runs in headless Chromium.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const { values: opts } = parseArgs({
  options: {
    extension: { type: 'string', default: repoRoot },
    suite: { type: 'string', default: path.join(repoRoot, 'dist/test/vscode/index.js') },
    workspace: { type: 'string' },
    screenshot: { type: 'string' },
  },
});

const extensionDevelopmentPath = path.resolve(opts.extension);
const extensionTestsPath = path.resolve(opts.suite);
if (!fs.existsSync(extensionTestsPath)) {
  console.error(`[vscode-test] suite not found: ${extensionTestsPath} (build it first)`);
  process.exit(2);
}

const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('NSX_')));

const tmpWorkspace = opts.workspace ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'nsx-workspace-'));
const workspaceFolder = path.resolve(opts.workspace ?? tmpWorkspace);

const started = Date.now();
let code;
try {
  const desktop = desktopVSCode();
  code = desktop ? await runInDesktop(desktop) : await runInBrowser();
} catch (err) {
  console.error(`[vscode-test] ${err.stack ?? err.message}`);
  code = 1;
} finally {
  if (tmpWorkspace) fs.rmSync(tmpWorkspace, { recursive: true, force: true });
}
console.log(`[vscode-test] exit code ${code} after ${((Date.now() - started) / 1000).toFixed(1)}s`);
process.exit(code);

async function runInDesktop(vscodeExecutablePath) {
  console.log(`[vscode-test] desktop VS Code: ${vscodeExecutablePath}`);
  const { runTests } = await import('@vscode/test-electron');
  // A fresh profile per run, as under code-server (test-electron would
  // otherwise reuse one under the current directory's .vscode-test/).
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'nsx-vscode-profile-'));
  try {
    return await runTests({
      vscodeExecutablePath,
      extensionDevelopmentPath,
      extensionTestsPath,
      launchArgs: [
        workspaceFolder,
        '--disable-extensions',
        `--user-data-dir=${path.join(profile, 'user-data')}`,
        `--extensions-dir=${path.join(profile, 'extensions')}`,
      ],
      extensionTestsEnv: env,
    });
  } catch (err) {
    // runTests rejects with TestRunFailedError (carrying .code) on a non-zero exit.
    if (typeof err.code === 'number') return err.code;
    throw err;
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

async function runInBrowser() {
  execFileSync('bash', [path.join(repoRoot, 'scripts/setup-vscode-test.sh')], { stdio: 'inherit' });
  const { runInCodeServer } = await import('./codeserver.mjs');
  return runInCodeServer({
    extensionDevelopmentPath,
    extensionTestsPath,
    workspaceFolder,
    env,
    screenshotPath: opts.screenshot,
  });
}

/**
 * The desktop VS Code (Electron) binary, or undefined. A `code` on PATH may be
 * code-server's remote CLI rather than desktop VS Code, so it only counts when
 * it sits in a desktop install: <install>/bin/code beside
 * <install>/resources/app/product.json and the Electron binary it names.
 */
function desktopVSCode() {
  if (process.env.VSCODE_EXECUTABLE) return process.env.VSCODE_EXECUTABLE;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const cli = path.join(dir, 'code');
    if (!fs.existsSync(cli)) continue;
    const install = path.dirname(path.dirname(fs.realpathSync(cli)));
    try {
      const product = JSON.parse(fs.readFileSync(path.join(install, 'resources/app/product.json'), 'utf8'));
      const electron = path.join(install, product.applicationName);
      if (fs.existsSync(electron)) return electron;
    } catch {
      /* not a desktop install */
    }
    return undefined;
  }
  return undefined;
}
