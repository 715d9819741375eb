// Runs an extension's test suite inside a real VS Code workbench without
// desktop VS Code: code-server serves the workbench and runs the Node
// extension host, Debian's headless Chromium (driven by playwright-core)
// renders the workbench. The workbench runs the suite's `run()` because the
// page URL carries extensionDevelopmentPath/extensionTestsPath, and reports
// the result through the `codeAutomationExit` hook that VS Code's web build
// calls for automation (the same hooks @vscode/test-web relies on).
//
// The workbench also reports an exit when the extension host dies (then
// usually with code 0), so the harness runs the suite through a small wrapper
// that records whether run() settled; no record means failure.
//
// UI actions: the suite runs in the extension host, a Node process with no
// handle on the browser, so it asks the harness to act on the page by writing
// request files into $NSX_UI_REQUESTS_DIR (see ui.ts beside this file).

import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import util from 'node:util';
import { chromium } from 'playwright-core';

export const CODE_SERVER_VERSION = '4.100.3';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Where scripts/setup-vscode-test.sh installs code-server. */
export const codeServerBin = path.join(
  repoRoot,
  '.vscode-test',
  `code-server-${CODE_SERVER_VERSION}`,
  'node_modules',
  '.bin',
  'code-server',
);

const USER_SETTINGS = {
  'workbench.startupEditor': 'none',
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoUpdate': false,
  'update.mode': 'none',
};

// Without the networking switches Chromium keeps dialing Google's services,
// which this machine's closed network refuses.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

const UI_POLL_MS = 100;
const UI_DEFAULT_TIMEOUT_MS = 10_000;

/**
 * @param {object} opts
 * @param {string} opts.extensionDevelopmentPath absolute path of the extension under test
 * @param {string} opts.extensionTestsPath absolute path of the suite's index.js (exports `run()`)
 * @param {string} opts.workspaceFolder folder the workbench opens
 * @param {Record<string, string>} [opts.env] added to the extension host's environment
 * @param {string} [opts.screenshotPath] where to save a screenshot of the workbench when the run ends
 * @param {number} [opts.timeoutMs] whole-run limit, 10 minutes by default
 * @returns {Promise<number>} the suite's exit code
 */
export async function runInCodeServer({
  extensionDevelopmentPath,
  extensionTestsPath,
  workspaceFolder,
  env = {},
  screenshotPath,
  timeoutMs = 10 * 60_000,
}) {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'nsx-code-server-'));
  const userDataDir = path.join(tmp, 'user-data');
  const extensionsDir = path.join(tmp, 'extensions');
  const requestsDir = path.join(tmp, 'ui-requests');
  await fs.mkdir(path.join(userDataDir, 'User'), { recursive: true });
  await fs.mkdir(extensionsDir);
  await fs.mkdir(requestsDir);
  await fs.writeFile(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify(USER_SETTINGS, null, 2));
  // An explicit config file keeps code-server from writing a default one
  // (with a generated password) into ~/.config.
  const configFile = path.join(tmp, 'config.yaml');
  await fs.writeFile(configFile, 'auth: none\n');
  const outcomeFile = path.join(tmp, 'suite-outcome.json');
  const wrapper = path.join(tmp, 'suite-wrapper.cjs');
  await fs.writeFile(wrapper, suiteWrapperSource(path.resolve(extensionTestsPath), outcomeFile));

  let server;
  let browser;
  let page;
  let stopUiWatcher = () => {};
  const aborted = deferred();
  const onSignal = (signal) => aborted.reject(new Error(`interrupted by ${signal}`));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const timer = setTimeout(
    () => aborted.reject(new Error(`timed out after ${Math.round(timeoutMs / 1000)}s`)),
    timeoutMs,
  );

  try {
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    server = startCodeServer({
      port,
      userDataDir,
      extensionsDir,
      configFile,
      env: { ...env, NSX_UI_REQUESTS_DIR: requestsDir },
    });
    await Promise.race([waitForHttp(`${origin}/healthz`, server), aborted.promise]);
    log(`code-server ready at ${origin}`);

    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
      // Our own handlers shut everything down; Playwright's would exit the
      // process on SIGINT before the temp dirs are removed.
      handleSIGINT: false,
      handleSIGTERM: false,
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });

    const automationExit = deferred();
    // A suite may reload the page (a `reload` UI action): the extension host it ran in goes, and its exit is not the run's end.
    const reloading = { now: false };
    // VS Code calls codeAutomationLog(level, args) for every log line once it
    // runs extension tests; the extension host's console output (mocha's
    // reporter) arrives here too. All of it goes to stdout to keep its order.
    await page.exposeFunction('codeAutomationLog', (_level, args) => printWorkbenchLog(args));
    await page.exposeFunction('codeAutomationExit', (code) => {
      if (!reloading.now) automationExit.resolve(code);
    });
    // Errors VS Code logs itself come through codeAutomationLog already; its
    // console copies are the ones styled with %c.
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !msg.text().startsWith('%c')) log(`[browser] ${msg.text()}`);
    });
    page.on('pageerror', (err) => log(`[browser] ${err.stack ?? err.message}`));
    stopUiWatcher = watchUiRequests(requestsDir, page, reloading);

    const remote = `vscode-remote://127.0.0.1:${port}`;
    const payload = [
      ['extensionDevelopmentPath', remote + path.resolve(extensionDevelopmentPath)],
      ['extensionTestsPath', remote + wrapper],
    ];
    const url =
      `${origin}/?folder=${encodeURIComponent(path.resolve(workspaceFolder))}` +
      `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    await page.goto(url);

    const code = await Promise.race([automationExit.promise, server.exited.then(serverDied), aborted.promise]);
    const outcome = await fs.readFile(outcomeFile, 'utf8').then(JSON.parse, () => undefined);
    if (!outcome) {
      log(`extension host exited (code ${code}) before the suite's run() settled`);
      return 1;
    }
    if (!outcome.passed) log(`suite failed: ${outcome.error}`);
    return outcome.passed ? 0 : 1;
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    stopUiWatcher();
    if (page && screenshotPath) {
      await page.screenshot({ path: screenshotPath }).catch((err) => log(`screenshot failed: ${err.message}`));
    }
    await browser?.close().catch(() => {});
    await server?.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

// CommonJS, as VS Code require()s extensionTestsPath.
function suiteWrapperSource(suitePath, outcomeFile) {
  return `'use strict';
const fs = require('node:fs');
const record = (outcome) => fs.writeFileSync(${JSON.stringify(outcomeFile)}, JSON.stringify(outcome));
exports.run = async function run() {
  try {
    await require(${JSON.stringify(suitePath)}).run();
  } catch (err) {
    record({ passed: false, error: String(err && err.stack || err) });
    throw err;
  }
  record({ passed: true });
};
`;
}

function startCodeServer({ port, userDataDir, extensionsDir, configFile, env }) {
  const childEnv = { ...process.env, ...env };
  // Inside a VS Code terminal this would make code-server hand off to that
  // VS Code instead of serving its own workbench.
  delete childEnv.VSCODE_IPC_HOOK_CLI;
  // No gallery: otherwise the workbench queries open-vsx.org at startup,
  // which this network refuses.
  childEnv.EXTENSIONS_GALLERY = '{}';
  const child = spawn(
    codeServerBin,
    [
      '--auth',
      'none',
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--config',
      configFile,
      '--user-data-dir',
      userDataDir,
      '--extensions-dir',
      extensionsDir,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
    ],
    {
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so stop() also ends the extension host, pty
      // host and file watcher that code-server forks.
      detached: true,
    },
  );
  prefixLines(child.stdout, '[code-server] ');
  prefixLines(child.stderr, '[code-server] ');

  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  const killGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      /* already gone */
    }
  };
  // Last resort if our process exits without reaching stop().
  const onExit = () => killGroup('SIGKILL');
  process.once('exit', onExit);

  return {
    exited,
    async stop() {
      process.off('exit', onExit);
      killGroup('SIGTERM');
      const graceful = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
      // code-server may be gone while a forked child lingers: always sweep the group.
      killGroup('SIGKILL');
      if (!graceful) await exited;
    },
  };
}

function serverDied(status) {
  throw new Error(`code-server exited early (${status})`);
}

async function waitForHttp(url, server) {
  let down = false;
  server.exited.then(() => {
    down = true;
  });
  const deadline = Date.now() + 60_000;
  while (!down && Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      /* not listening yet */
    }
    await sleep(200);
  }
  throw new Error(down ? 'code-server exited before answering HTTP' : `no answer from ${url} within 60s`);
}

/**
 * Performs the UI requests the suite writes as NAME.json into `dir`, one at a
 * time in name order, answering each with NAME.result.json. Both sides write
 * to a .tmp name and rename, so neither reads a half-written file.
 */
function watchUiRequests(dir, page, reloading) {
  let stopped = false;
  (async () => {
    while (!stopped) {
      let names = [];
      try {
        names = (await fs.readdir(dir)).filter((n) => n.endsWith('.json') && !n.endsWith('.result.json')).sort();
      } catch {
        /* dir removed during shutdown */
      }
      for (const name of names) {
        if (stopped) break;
        const file = path.join(dir, name);
        let result;
        try {
          const request = JSON.parse(await fs.readFile(file, 'utf8'));
          await fs.rm(file);
          result = await performUiAction(page, request, reloading);
        } catch (err) {
          result = { ok: false, error: err.message };
        }
        const out = path.join(dir, name.replace(/\.json$/, '.result.json'));
        await fs.writeFile(`${out}.tmp`, JSON.stringify(result));
        await fs.rename(`${out}.tmp`, out);
      }
      await sleep(UI_POLL_MS);
    }
  })().catch((err) => log(`UI request watcher stopped: ${err.message}`));
  return () => {
    stopped = true;
  };
}

async function performUiAction(page, { action, selector, frames = [], path: file, key, text, timeoutMs }, reloading) {
  const timeout = timeoutMs ?? UI_DEFAULT_TIMEOUT_MS;
  const need = (value, what) => {
    if (!value) throw new Error(`"${action}" needs "${what}"`);
    return value;
  };
  // The element, inside the frames named (a webview's page is two frames down).
  const at = () =>
    frames
      .reduce((f, frame) => f.frameLocator(frame), page)
      .locator(need(selector, 'selector'))
      .first();
  switch (action) {
    case 'click':
      await at().click({ timeout });
      return { ok: true };
    case 'text':
      return { ok: true, text: await at().innerText({ timeout }) };
    case 'waitFor':
      await at().waitFor({ state: 'visible', timeout });
      return { ok: true };
    case 'screenshot':
      if (selector) await at().screenshot({ path: need(file, 'path'), timeout });
      else await page.screenshot({ path: need(file, 'path'), timeout });
      return { ok: true };
    case 'press':
      await page.keyboard.press(need(key, 'key'));
      return { ok: true };
    case 'type':
      await page.keyboard.type(need(text, 'text'));
      return { ok: true };
    case 'reload':
      // As a user's F5 or a closed and reopened tab: the workbench, and the extension host with it, start again.
      reloading.now = true;
      try {
        await page.reload({ waitUntil: 'load', timeout });
      } finally {
        reloading.now = false;
      }
      return { ok: true };
    default:
      throw new Error(`unknown UI action "${action}"`);
  }
}

// args are console.log's arguments, format string included (mocha's reporter
// logs '%s%s'-style lines).
function printWorkbenchLog(args) {
  process.stdout.write(`${util.format(...args)}\n`);
}

function prefixLines(stream, prefix) {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop();
    for (const line of lines) if (line.trim()) process.stdout.write(`${prefix}${line}\n`);
  });
  stream.on('end', () => {
    if (rest) process.stdout.write(`${prefix}${rest}\n`);
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Callers race it; an unobserved rejection must not crash the process.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function log(message) {
  console.log(`[vscode-test] ${message}`);
}
