#!/usr/bin/env node
// A file does one thing and a function one step: no file over MAX_FILE lines,
// no function (method, arrow function) over MAX_FUNCTION. TypeScript is read
// by a real parser (@babel/parser; the typescript package here is the Go port,
// with no JS API); C, as clang-format writes it with the kernel's braces (a
// function's body opens with `{` alone at column 0 and closes with `}` at
// column 0), a line at a time. Prints each offender as `path:line name (N
// lines)`; exits 1 if any.
//   node scripts/check-sizes.mjs [DIR|FILE ...]   (default: helper extension native)
import { parse } from '@babel/parser';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const MAX_FILE = 400;
const MAX_FUNCTION = 60;

const root = resolve(new URL('..', import.meta.url).pathname);
const dirs = process.argv.slice(2);

/** The .ts, .c and .h files below DIR (or DIR itself, a file named on the command line). */
function files(dir) {
  if (!statSync(dir).isDirectory()) return [dir];
  return readdirSync(dir).flatMap((name) => {
    if (name === 'node_modules') return [];
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : /\.(ts|c|h)$/.test(name) ? [path] : [];
  });
}

/**
 * What a function is called where it stands: its own name, its variable's, its
 * property's, with its class; one without (an area's handler, a callback) is
 * named after the function it stands in.
 */
function nameOf(node, parent, className, outer) {
  const key = node.key ?? parent?.key;
  const keyName = key && (key.name ?? key.value ?? (key.id && `#${key.id.name}`));
  const own = node.id?.name ?? (parent?.type === 'VariableDeclarator' ? parent.id.name : undefined) ?? keyName;
  const name = own ?? `${outer ?? ''}<anonymous>`;
  return className &&
    (node.type === 'ClassMethod' || node.type === 'ClassPrivateMethod' || parent?.type === 'ClassProperty')
    ? `${className}.${name}`
    : name;
}

const FUNCTIONS = new Set([
  'FunctionDeclaration',
  'FunctionExpression',
  'ArrowFunctionExpression',
  'ClassMethod',
  'ClassPrivateMethod',
  'ObjectMethod',
]);

/** Every function of a TypeScript file with its first line and length, nested ones too. */
function tsFunctions(text, path) {
  const ast = parse(text, { sourceType: 'module', plugins: ['typescript'], sourceFilename: path });
  const found = [];
  const visit = (node, parent, className, outer) => {
    if (!node || typeof node.type !== 'string') return;
    let inside = outer;
    if (FUNCTIONS.has(node.type) && node.body) {
      const lines = node.loc.end.line - node.loc.start.line + 1;
      inside = nameOf(node, parent, className, outer && `${outer} > `);
      found.push({ line: node.loc.start.line, name: inside, lines });
    }
    const inClass = node.type === 'ClassDeclaration' || node.type === 'ClassExpression' ? node.id?.name : className;
    for (const [field, value] of Object.entries(node)) {
      if (field === 'loc' || field === 'leadingComments' || field === 'trailingComments') continue;
      if (Array.isArray(value)) for (const child of value) visit(child, node, inClass, inside);
      else if (value && typeof value === 'object') visit(value, node, inClass, inside);
    }
  };
  visit(ast.program, undefined, undefined, undefined);
  return found;
}

/** Every function of a C file: from the line that names it to the `}` at column 0 that closes its body. */
function cFunctions(text) {
  const lines = text.split('\n');
  const found = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '{') continue;
    // The declarator is above the brace; a long one wraps over several lines.
    let start = i - 1;
    while (start > 0 && !/^[A-Za-z_].*\b\w+\s*\(/.test(lines[start])) start--;
    const name = /\b(\w+)\s*\(/.exec(lines[start])?.[1] ?? '<unknown>';
    let end = i + 1;
    while (end < lines.length && !lines[end].startsWith('}')) end++;
    found.push({ line: start + 1, name, lines: end - start + 1 });
    i = end;
  }
  return found;
}

const offenders = [];
for (const dir of dirs.length ? dirs : ['helper', 'extension', 'native']) {
  for (const file of files(resolve(root, dir))) {
    const path = relative(root, file);
    const text = readFileSync(file, 'utf8');
    const count = text.endsWith('\n') ? text.split('\n').length - 1 : text.split('\n').length;
    if (count > MAX_FILE) offenders.push(`${path}:1 file (${count} lines)`);
    const functions = file.endsWith('.ts') ? tsFunctions(text, path) : cFunctions(text);
    for (const f of functions)
      if (f.lines > MAX_FUNCTION) offenders.push(`${path}:${f.line} ${f.name} (${f.lines} lines)`);
  }
}
for (const line of offenders) console.log(line);
console.log(
  offenders.length
    ? `${offenders.length} over the limits (files ${MAX_FILE} lines, functions ${MAX_FUNCTION})`
    : `no file over ${MAX_FILE} lines, no function over ${MAX_FUNCTION}`,
);
process.exit(offenders.length ? 1 : 0);
