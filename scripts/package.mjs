// Completes the npm package after the two wasm-pack builds: pkg/ (bundler target, for webpack
// and Vite) gains the `web` build in pkg/web/ (for a plain <script type="module">), exposed as
// the `resocket/web` entry point.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { minifyInPlace } from './minify.mjs';
import { minifyWasmNames } from './wasm-names.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PKG = path.join(ROOT, 'pkg');
const manifestPath = path.join(PKG, 'package.json');
const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));

// wasm-pack leaves a package.json, README and .gitignore in pkg/web; the one package is pkg/.
for (const extra of ['package.json', 'README.md', '.gitignore', 'LICENSE-MIT', 'LICENSE-APACHE']) {
  fs.rmSync(path.join(PKG, 'web', extra), { force: true });
}
const webFiles = fs.readdirSync(path.join(PKG, 'web'))
  .filter((f) => /\.(js|wasm|d\.ts)$/.test(f))
  .map((f) => `web/${f}`);
// wasm-bindgen writes the crate's JS snippets (src/js/deliver.js) beside each build.
const snippets = ['snippets/', 'web/snippets/'].filter((d) => fs.existsSync(path.join(PKG, d)));

manifest.files = [...new Set([
  ...manifest.files.filter((f) => !f.startsWith('web/')),
  ...webFiles,
  ...snippets,
])];
manifest.module = manifest.main;
manifest.exports = {
  '.': { types: './resocket.d.ts', default: './resocket.js' },
  './web': { types: './web/resocket.d.ts', default: './web/resocket.js' },
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
  'resocket_bg.js', 'resocket.js', 'web/resocket.js',
  ...snippets.flatMap((d) => jsFiles(d)),
];
// First the names the wasm and its glue find each other by are shortened (scripts/wasm-names.mjs),
// in both builds, while the glue still says `wasm.<export>`.
const at = (...f) => path.join(PKG, ...f);
let renamed = 0;
for (const [wasmFile, glueFiles, typeFiles] of [
  [at('resocket_bg.wasm'), [at('resocket_bg.js'), at('resocket.js')], [at('resocket_bg.wasm.d.ts')]],
  [at('web', 'resocket_bg.wasm'), [at('web', 'resocket.js')], [at('web', 'resocket_bg.wasm.d.ts')]],
]) {
  const { names, saved } = minifyWasmNames({ wasmFile, glueModule: './resocket_bg.js', glueFiles, typeFiles });
  renamed += saved;
  if (!names) throw new Error(`${wasmFile}: no names to shorten`);
}
let saved = 0;
for (const file of shipped) saved += await minifyInPlace(path.join(PKG, file));

fs.writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`[package] pkg/package.json: entry points ".", "./web"; ${manifest.files.length} files;`
  + ` wasm import/export names shortened (${renamed} bytes saved);`
  + ` ${shipped.length} JS files minified (${saved} bytes saved)`);
