// Bundles the three programs (extension, nsxd, nsx) and the extension's test
// suite into dist/, copies koffi's native module next to
// them, and compiles the single-threaded launcher nsx-exec, the session
// supervisor nsx-session, nsx's C front nsx, the other helpers and nsxd's
// scan library libnsxscan.so, each from the files in native/ that
// native/programs.json lists for it.
//   node esbuild.mjs [--production] [--watch]
import * as esbuild from 'esbuild';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const production = process.argv.includes('--production');
const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
const watch = process.argv.includes('--watch');
const require = createRequire(import.meta.url);

// koffi ships its native module in a per-platform package and finds it with
// paths relative to node_modules. In a bundle there is no node_modules, so
// the platform package is replaced by a loader that requires the copy in
// dist/koffi/, which esbuild.mjs puts there below.
const koffiPlatform = `${process.platform}-${process.arch}`;
const koffiNativeDir = dirname(require.resolve(`@koromix/koffi-${koffiPlatform}/package.json`));
const koffiTriplet = nativeTriplet();
const koffiPlugin = {
  name: 'koffi-native',
  setup(build) {
    build.onResolve({ filter: /^koffi$/ }, () => ({ path: require.resolve('koffi') }));
    build.onResolve({ filter: /^@koromix\/koffi-/ }, (args) => ({ path: args.path, namespace: 'koffi-native' }));
    build.onLoad({ filter: /.*/, namespace: 'koffi-native' }, (args) => ({
      contents: args.path === `@koromix/koffi-${koffiPlatform}` ? koffiLoader(koffiTriplet) : 'module.exports = null;',
      loader: 'js',
    }));
  },
};

// The bundle's own directory or the nearest one above it holding koffi/ (a bench bundle sits in dist/test/bench).
function koffiLoader(triplet) {
  return `const path = require('path'), fs = require('fs');
let dir = __dirname;
const at = (d) => path.join(d, 'koffi', ${JSON.stringify(triplet)}, 'koffi.node');
while (!fs.existsSync(at(dir)) && path.dirname(dir) !== dir) dir = path.dirname(dir);
module.exports = require(at(dir));`;
}

function nativeTriplet() {
  // glibc unless the running node is linked against musl.
  const triplets = readdirSync(koffiNativeDir).filter((d) => statSync(join(koffiNativeDir, d)).isDirectory());
  const musl = process.report?.getReport?.().header?.glibcVersionRuntime === undefined;
  return triplets.find((t) => t.startsWith(musl ? 'musl_' : `${process.platform}_`)) ?? triplets[0];
}

function copyKoffi() {
  mkdirSync(`dist/koffi/${koffiTriplet}`, { recursive: true });
  // A new file renamed over the old, never the old one rewritten: a running nsxd has koffi.node mapped,
  // and rewriting its pages under it crashes it (SIGSEGV at its next native call).
  const dest = `dist/koffi/${koffiTriplet}/koffi.node`;
  copyFileSync(join(koffiNativeDir, koffiTriplet, 'koffi.node'), `${dest}.new`);
  renameSync(`${dest}.new`, dest);
}

function buildNative() {
  mkdirSync('dist', { recursive: true });
  // nsx, the C front of the CLI, says the protocol version and finds nsxd's socket as the TypeScript clients do.
  const protocol = /^export const PROTOCOL_VERSION = (\d+);$/m.exec(
    readFileSync('helper/common/protocol/core.ts', 'utf8'),
  )[1];
  // A plain path in single quotes, so that JSON.stringify makes it a C string literal as it is.
  const socket = /^export const DEFAULT_SOCKET = '([\w./-]+)';$/m.exec(
    readFileSync('helper/common/deployment.ts', 'utf8'),
  )[1];
  // Each program, and the files it is built from (its main first), in native/programs.json: the tests that build
  // a program their own way (nsx with AddressSanitizer) read the same list.
  const programs = JSON.parse(readFileSync('native/programs.json', 'utf8'));
  for (const [name, files] of Object.entries(programs)) {
    // Renamed into place too: a session's supervisor may be running this very file, nsxd have the library mapped.
    execFileSync(
      'cc',
      [
        '-std=gnu11',
        '-O2',
        '-Wall',
        '-Wextra',
        '-Werror',
        '-D_FORTIFY_SOURCE=2',
        `-DNSX_PROTOCOL_VERSION=${protocol}`,
        `-DNSX_DEFAULT_SOCKET=${JSON.stringify(socket)}`,
        '-fstack-protector-strong',
        // A library (libnsxscan.so, which nsxd loads through koffi: native/scan.ts) exports only what it marks.
        ...(name.endsWith('.so') ? ['-fPIC', '-shared', '-fvisibility=hidden'] : ['-fPIE', '-pie']),
        '-o',
        `dist/${name}.new`,
        ...files.map((file) => `native/${file}.c`),
      ],
      { stdio: 'inherit' },
    );
    chmodSync(`dist/${name}.new`, 0o755);
    renameSync(`dist/${name}.new`, `dist/${name}`);
  }
}

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  define: { NSX_VERSION: JSON.stringify(version) },
  plugins: [koffiPlugin],
};

const builds = [
  { entryPoints: { extension: 'extension/extension.ts' }, external: ['vscode'] },
  { entryPoints: { nsxd: 'helper/daemon/nsxd.ts', nsx: 'helper/cli/nsx.ts' }, banner: { js: '#!/usr/bin/env node' } },
  { entryPoints: { 'test/vscode/index': 'test/vscode/index.ts' }, external: ['vscode', 'mocha'] },
  { entryPoints: { 'test/vscode/reload': 'test/vscode/reload.ts' }, external: ['vscode'] },
  { entryPoints: { 'test/vscode/packaged': 'test/vscode/packaged.ts' }, external: ['vscode'] },
  // node:test files: unit tests and integration tests (as root, against a real nsxd).
  { entryPoints: testEntries(['test/unit', 'test/integration']) },
  { entryPoints: { 'test/bench/bench': 'test/bench/bench.ts' } },
  { entryPoints: { 'test/bench/events': 'test/bench/events.ts' } },
  { entryPoints: { 'test/bench/model': 'test/bench/model.ts' } },
  { entryPoints: { 'test/bench/capture': 'test/bench/capture.ts' } },
  { entryPoints: { 'test/bench/ports': 'test/bench/ports.ts' } },
  { entryPoints: { 'test/bench/files': 'test/bench/files.ts' } },
  { entryPoints: { 'test/bench/hosts': 'test/bench/hosts.ts' } },
  { entryPoints: { 'test/bench/shell': 'test/bench/shell.ts' } },
  { entryPoints: { 'test/bench/render': 'test/bench/render.ts' }, external: ['vscode'] },
  // The Network view's page: a browser bundle (cytoscape and elkjs's API), its ELK worker copied beside it.
  {
    entryPoints: { network: 'extension/network/webview/main.ts' },
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    plugins: [],
  },
];

function testEntries(dirs) {
  const entries = {};
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir))
      if (f.endsWith('.test.ts')) entries[`${dir}/${f.replace(/\.ts$/, '')}`] = `${dir}/${f}`;
  }
  return entries;
}

copyKoffi();
buildNative();
copyFileSync(require.resolve('elkjs/lib/elk-worker.min.js'), 'dist/elk-worker.js');
// Entry points not written yet are skipped, so each part builds on its own.
const present = builds.filter((b) => Object.values(b.entryPoints).every((f) => existsSync(f)));
const contexts = await Promise.all(present.map((b) => esbuild.context({ ...common, outdir: 'dist', ...b })));
if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
  for (const bin of ['dist/nsxd.js', 'dist/nsx.js']) if (existsSync(bin)) chmodSync(bin, 0o755);
}
