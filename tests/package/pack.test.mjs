// The npm package's hygiene, on the tarball `npm pack` makes of pkg/: exactly the expected
// files (nothing stray), every `exports` target (and main/module/types) inside it, the README
// for JavaScript users, and the maintained linters: publint (package.json against the files)
// and @arethetypeswrong/cli (types resolving for every entry point and module system; the
// package is ESM-only, so the `esm-only` profile: `require()` of it works in Node.js 22.12+,
// checked by consumers.test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { PKG, ROOT, pack } from './packed.mjs';

const run = promisify(execFile);
const info = pack();
const manifest = JSON.parse(fs.readFileSync(path.join(PKG, 'package.json'), 'utf8'));
console.log(`[pack] ${path.relative(ROOT, info.tarball)}: ${info.files.length} files, `
  + `${info.size} bytes packed, ${info.unpackedSize} unpacked`);

// Every file the tarball may hold: the engine's two builds (`resocket.wasm`, and
// `resume/resocket.wasm` with the resume protocol), the entry modules, types, README,
// licences, package.json.
const ALLOWED = [
  /^package\.json$/, /^README\.md$/, /^LICENSE-(MIT|APACHE)$/,
  /^((web|resume)\/)?resocket\.(js|d\.ts)$/,
  /^(resume\/)?resocket\.wasm$/,
  /^(node|deno)\/resocket\.js$/,
  /^resume\/(node|web)\.js$/,
];

test('the tarball holds only the package files', () => {
  const stray = info.files.filter((f) => !ALLOWED.some((re) => re.test(f)));
  assert.deepEqual(stray, [], 'files that do not belong in the package');
  for (const f of ['package.json', 'README.md', 'LICENSE-MIT', 'LICENSE-APACHE', 'resocket.js',
    'resocket.wasm', 'web/resocket.js', 'node/resocket.js', 'deno/resocket.js',
    'resume/resocket.js', 'resume/resocket.wasm', 'resume/node.js']) {
    assert.ok(info.files.includes(f), `${f} is in the tarball`);
  }
});

test('every exports target, main, module and types is in the tarball', () => {
  const targets = [];
  const walk = (v) => {
    if (typeof v === 'string') targets.push(v);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(manifest.exports);
  targets.push(manifest.main, manifest.module, manifest.types);
  assert.ok(targets.length >= 10);
  for (const t of targets) {
    assert.ok(info.files.includes(path.posix.normalize(t)), `${t} (from package.json) is in the tarball`);
  }
  assert.deepEqual(Object.keys(manifest.exports['.']), ['types', 'browser', 'worker', 'deno', 'node', 'default'],
    'the root entry picks a build per runtime, types first');
});

test('the README is the one for JavaScript users', () => {
  const readme = fs.readFileSync(path.join(PKG, 'README.md'), 'utf8');
  assert.equal(readme, fs.readFileSync(path.join(ROOT, 'docs', 'npm-README.md'), 'utf8'));
  assert.match(readme, /import \{ ReSocket \} from 'resocket'/);
  assert.doesNotMatch(readme, /Cargo|```rust/, 'no Rust in the npm README');
});

test('publint finds nothing (errors, warnings and suggestions)', async () => {
  const { messages, pkg } = await publint({ pkgDir: PKG, pack: 'npm', strict: true });
  const shown = messages.map((m) => `${m.type}: ${formatMessage(m, pkg)}`);
  assert.deepEqual(shown, []);
});

test('@arethetypeswrong/cli: types resolve for every entry point and module system', async () => {
  const attw = path.join(ROOT, 'node_modules', '.bin', 'attw');
  try {
    const { stdout } = await run(attw, [info.tarball, '--profile', 'esm-only', '--no-color', '--no-emoji']);
    console.log(stdout);
  } catch (e) {
    assert.fail(`attw reported problems:\n${e.stdout}${e.stderr}`);
  }
});
