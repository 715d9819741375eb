#!/usr/bin/env node
// nsxd's one rule, checked from the imports: discovery reads, kernel acts,
// requests decide, rpc carries. Each folder of helper/daemon may import only
// the folders below it (and the contract, native/ and the daemon's own base
// modules at its top); nsxd.ts, which wires them, may import any. A type-only
// import of who a caller is (access/) is allowed in kernel/: sessions run as
// someone. Prints each import that runs against the rule; exits 1 if any.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const daemon = join(root, 'helper/daemon');
/** What each layer may import, besides helper/common, native/ and helper/daemon/*.ts (base modules). */
const MAY = {
  rpc: ['access'],
  access: [],
  requests: ['kernel', 'discovery', 'access', 'rpc'],
  kernel: ['discovery'],
  discovery: [],
  systemd: [],
};
const TYPE_ONLY = { kernel: ['access'] };

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const wrong = [];
for (const file of files(daemon)) {
  const layer = relative(daemon, file).split('/')[0];
  if (!(layer in MAY)) continue; // nsxd.ts and the base modules at the top
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/^import\s+(type\s+)?[^'"]*?from\s+'([^']+)'/gm)) {
    const [, typeOnly, spec] = m;
    if (!spec.startsWith('.')) continue;
    const target = relative(daemon, resolve(dirname(file), spec));
    if (target.startsWith('..')) continue; // helper/common, native/
    const to = target.split('/')[0];
    if (!target.includes('/') || to === layer) continue; // a base module, or its own folder
    if (MAY[layer].includes(to) || (typeOnly && TYPE_ONLY[layer]?.includes(to))) continue;
    wrong.push(`${relative(root, file)}: ${layer}/ imports ${to}/ (${spec})`);
  }
}
for (const line of wrong) console.log(line);
console.log(
  wrong.length
    ? `${wrong.length} imports run against the rule (discovery reads, kernel acts, requests decide, rpc carries)`
    : 'helper/daemon: every import obeys the rule',
);
process.exit(wrong.length ? 1 : 0);
