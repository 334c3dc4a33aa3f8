// Completes the npm package after the two wasm-pack builds (the wasm engine and its glue,
// `resocket_core*`): pkg/ (bundler target, for webpack and Vite) and pkg/web/ (the `web` target,
// for a plain <script type="module">, exposed as the `resocket/web` entry point) each get the
// entry module src/js/resocket.js (the `ReSocket` class, importing ./resocket_core.js) and its
// types src/js/resocket.d.ts; the web entry also re-exports the glue's `init`/`initSync`.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { minifyInPlace } from './minify.mjs';
import { minifyWasmNames } from './wasm-names.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PKG = path.join(ROOT, 'pkg');
const manifestPath = path.join(PKG, 'package.json');
const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));

// wasm-pack leaves a package.json, README and .gitignore in pkg/web and pkg/resume; the one
// package is pkg/.
for (const dir of ['web', 'resume']) {
  for (const extra of ['package.json', 'README.md', '.gitignore', 'LICENSE-MIT', 'LICENSE-APACHE']) {
    fs.rmSync(path.join(PKG, dir, extra), { force: true });
  }
}
const SRC = path.join(ROOT, 'src', 'js');
// The class runs the browser's URL parser itself (`urlParts`, the crate's own snippet, which the
// engine then does not import) and hands the engine the parts: the snippet goes in front of it.
const urlParts = fs.readFileSync(path.join(ROOT, 'src', 'url.js'), 'utf8').replace(/^export function/m, 'function');
const entry = `${urlParts}\n${fs.readFileSync(path.join(SRC, 'resocket.js'), 'utf8')}`;
const types = fs.readFileSync(path.join(SRC, 'resocket.d.ts'), 'utf8');
const webInit = "export { default, initSync } from './resocket_core.js';\n";
// The class reads the engine's answers in its wasm's memory: every loader hands it the wasm's
// exports along with the engine module.
// How each entry gets the engine module. The bundler entry takes the `web` build's glue and
// starts the wasm's streaming compile at import (`new URL(..., import.meta.url)`, which
// bundlers emit as an asset): the class is usable at once, and a socket constructed before the
// wasm is fetched, compiled and started opens its WebSocket meanwhile. The `web` entry imports
// it statically (the page calls `init()` before using the class), as does the `node` entry
// through it.
const bundlerLoad = "import init, * as core from './web/resocket_core.js';\n"
  + "init({ module_or_path: new URL('./web/resocket_core_bg.wasm', import.meta.url) })"
  + '.then((wasm) => engineLoaded(core, wasm), (e) => engineLoaded(null, null, e));\n';
// The `web` entry: the page's init() (or initSync()) loads the engine; a socket constructed
// before opens its WebSocket meanwhile, as with the bundler entry.
const webLoad = [
  "import initEngine, * as core from './resocket_core.js';",
  'export default async function init(input) {',
  '  const wasm = await initEngine(input);',
  '  engineLoaded(core, wasm);',
  '  return wasm;',
  '}',
  'export function initSync(input) {',
  '  const wasm = core.initSync(input);',
  '  engineLoaded(core, wasm);',
  '  return wasm;',
  '}',
  '',
].join('\n');
fs.writeFileSync(path.join(PKG, 'resocket.js'), `${entry}\n${bundlerLoad}`);
fs.writeFileSync(path.join(PKG, 'resocket.d.ts'), types);
fs.writeFileSync(path.join(PKG, 'web', 'resocket.js'), `${entry}\n${webLoad}`);
// The `resocket/resume` entry: the same class over the engine built with the resume protocol
// (pkg/resume/, a `web` build), loaded as the bundler entry loads its own; `resume/web.js`
// imports it statically, for the Node.js entry, which instantiates it first.
const resumeOn = 'resumeBuilt = true;\n';
fs.writeFileSync(path.join(PKG, 'resume', 'resocket.js'),
  `${entry}\n${resumeOn}${bundlerLoad.replaceAll('./web/', './')}`);
fs.writeFileSync(path.join(PKG, 'resume', 'web.js'), `${entry}\n${resumeOn}${webLoad}`);
fs.writeFileSync(path.join(PKG, 'resume', 'resocket.d.ts'), types);
fs.writeFileSync(path.join(PKG, 'resume', 'node.js'), [
  "import { readFileSync } from 'node:fs';",
  "import { initSync, ReSocket } from './web.js';",
  '',
  "initSync({ module: readFileSync(new URL('./resocket_core_bg.wasm', import.meta.url)) });",
  '',
  'export { ReSocket };',
  '',
].join('\n'));
// Deno imports a .wasm file natively (2.1+), where fetching the file beside the module would
// need --allow-read: its entry takes the bundler build's glue, which imports the wasm.
fs.mkdirSync(path.join(PKG, 'deno'), { recursive: true });
fs.writeFileSync(path.join(PKG, 'deno', 'resocket.js'),
  `${entry}\n`
  + "import * as core from '../resocket_core.js';\nimport * as wasm from '../resocket_core_bg.wasm';\n"
  + 'engineLoaded(core, wasm);\n');
fs.writeFileSync(path.join(PKG, 'web', 'resocket.d.ts'), `${types}\n${webInit}`
  + "export type { InitInput, InitOutput, SyncInitInput } from './resocket_core.js';\n");
// The `node` entry (Node.js, and Vitest or an SSR build, which resolve with the `node`
// condition): Node cannot import a .wasm file without a flag, so it loads the `web` build's
// wasm from the file beside it, synchronously (no top-level await: `require()` of it works too,
// in Node.js 22.12 and later). Deno imports .wasm files natively and takes the bundler build.
fs.mkdirSync(path.join(PKG, 'node'), { recursive: true });
fs.writeFileSync(path.join(PKG, 'node', 'resocket.js'), [
  "import { readFileSync } from 'node:fs';",
  "import { initSync, ReSocket } from '../web/resocket.js';",
  '',
  "initSync({ module: readFileSync(new URL('../web/resocket_core_bg.wasm', import.meta.url)) });",
  '',
  'export { ReSocket };',
  '',
].join('\n'));
// The README an npm user reads (the crate's README is about Rust).
fs.copyFileSync(path.join(ROOT, 'docs', 'npm-README.md'), path.join(PKG, 'README.md'));
const filesOf = (dir) => fs.readdirSync(path.join(PKG, dir))
  .filter((f) => /\.(js|wasm|d\.ts)$/.test(f))
  .map((f) => `${dir}/${f}`);
const webFiles = [...filesOf('web'), ...filesOf('resume')];
// wasm-bindgen writes the crate's JS snippets beside each build, every module the crate
// declares, also those the engine imports nothing from (the Rust driver's browser.js): only
// those the glue imports are kept.
for (const [dir, glue] of [['', 'resocket_core_bg.js'], ['web/', 'resocket_core.js'], ['resume/', 'resocket_core.js']]) {
  const code = fs.readFileSync(path.join(PKG, dir, glue), 'utf8');
  const root = path.join(PKG, dir, 'snippets');
  if (!fs.existsSync(root)) continue;
  for (const file of fs.readdirSync(root, { recursive: true })) {
    if (file.endsWith('.js') && !code.includes(`snippets/${file}`)) fs.rmSync(path.join(root, file));
  }
}
const snippets = ['snippets/', 'web/snippets/', 'resume/snippets/'].filter((d) => fs.existsSync(path.join(PKG, d)));

manifest.files = [...new Set([
  ...manifest.files.filter((f) => !/^(web|resume)\//.test(f) && f !== 'snippets'),
  'resocket.js', 'resocket.d.ts',
  ...webFiles,
  'node/resocket.js',
  'deno/resocket.js',
  ...snippets,
  // npm adds LICENSE files by itself, but not these names; wasm-pack copies them into pkg/.
  ...['LICENSE-MIT', 'LICENSE-APACHE'].filter((f) => fs.existsSync(path.join(PKG, f))),
])];
// The node entry's body loads the wasm: a bundler must keep it.
manifest.sideEffects = [...(manifest.sideEffects ?? []), './node/resocket.js', './deno/resocket.js',
  './resume/node.js'];
// Node.js 20 runs it with a WebSocket class given (the `ws` package's); 22+ has its own.
manifest.engines = { node: '>=20' };
manifest.repository = { type: 'git', url: `git+${manifest.repository.url.replace(/(\.git)?$/, '.git')}` };
manifest.main = 'resocket.js';
manifest.module = 'resocket.js';
manifest.types = 'resocket.d.ts';
// Conditions, first match wins: a browser or worker bundle (webpack, Vite) takes the bundler
// entry (the `web` glue, its wasm fetched as an asset); Deno the `deno` entry (it imports the
// .wasm file natively); Node.js (and Vitest, SSR builds) the `node` entry; anything else the
// bundler entry.
manifest.exports = {
  '.': {
    types: './resocket.d.ts',
    browser: './resocket.js',
    worker: './resocket.js',
    deno: './deno/resocket.js',
    node: './node/resocket.js',
    default: './resocket.js',
  },
  './web': { types: './web/resocket.d.ts', default: './web/resocket.js' },
  // The class with the resume protocol (`{ resume: true }`); Deno takes the browser entry (the
  // wasm is fetched from beside it: --allow-read).
  './resume': {
    types: './resume/resocket.d.ts',
    node: './resume/node.js',
    default: './resume/resocket.js',
  },
  './package.json': './package.json',
};
// The shipped JavaScript (both builds' glue, the bundler entry and the crate's snippets) is
// minified with terser (scripts/minify.mjs: ES modules, export names kept). The glue repeats
// each Rust doc comment as JSDoc; resocket.d.ts (written by hand, what editors show) has the
// documentation, so that goes too.
const jsFiles = (dir) => fs.readdirSync(path.join(PKG, dir), { recursive: true })
  .filter((f) => f.endsWith('.js'))
  .map((f) => path.join(dir, f));
const shipped = [
  'resocket_core_bg.js', 'resocket_core.js', 'web/resocket_core.js', 'resocket.js', 'web/resocket.js',
  'deno/resocket.js', 'resume/resocket_core.js', 'resume/resocket.js', 'resume/web.js',
  ...snippets.flatMap((d) => jsFiles(d)),
];
// First the names the wasm and its glue find each other by are shortened (scripts/wasm-names.mjs),
// in both builds, while the glue still says `wasm.<export>`.
const at = (...f) => path.join(PKG, ...f);
let renamed = 0;
for (const [wasmFile, glueFiles, typeFiles] of [
  [at('resocket_core_bg.wasm'), [at('resocket_core_bg.js'), at('resocket_core.js')], [at('resocket_core_bg.wasm.d.ts')]],
  [at('web', 'resocket_core_bg.wasm'), [at('web', 'resocket_core.js')], [at('web', 'resocket_core_bg.wasm.d.ts')]],
  [at('resume', 'resocket_core_bg.wasm'), [at('resume', 'resocket_core.js')], [at('resume', 'resocket_core_bg.wasm.d.ts')]],
]) {
  const { names, saved } = minifyWasmNames({ wasmFile, glueModule: './resocket_core_bg.js', glueFiles, typeFiles });
  renamed += saved;
  if (!names) throw new Error(`${wasmFile}: no names to shorten`);
}
let saved = 0;
for (const file of shipped) saved += await minifyInPlace(path.join(PKG, file));

fs.writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`[package] pkg/package.json: entry points "." (browser, worker, deno, node), "./web", "./resume"; ${manifest.files.length} files;`
  + ` wasm import/export names shortened (${renamed} bytes saved);`
  + ` ${shipped.length} JS files minified (${saved} bytes saved)`);
