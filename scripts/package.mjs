// Completes the npm package after the two wasm-pack builds: pkg/ (bundler target, for webpack
// and Vite) gains the `web` build in pkg/web/ (for a plain <script type="module">), exposed as
// the `resocket/web` entry point.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
// The glue repeats each Rust doc comment as JSDoc; resocket.d.ts (written by hand, what editors
// show) has the documentation, so the shipped glue drops it: about 1 KB gzip per build.
let stripped = 0;
for (const glue of ['resocket_bg.js', 'web/resocket.js']) {
  const file = path.join(PKG, glue);
  const source = fs.readFileSync(file, 'utf8');
  const out = source.replace(/^[ \t]*\/\*\*[\s\S]*?\*\/[ \t]*\n/gm, '');
  stripped += source.length - out.length;
  fs.writeFileSync(file, out);
}

fs.writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`[package] pkg/package.json: entry points ".", "./web"; ${manifest.files.length} files;`
  + ` ${stripped} bytes of JSDoc dropped from the glue`);
