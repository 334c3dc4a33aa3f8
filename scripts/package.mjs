// Writes the npm package (pkg/) around the two engine builds scripts/build.sh made
// (pkg/resocket.wasm, and pkg/resume/resocket.wasm with the resume protocol; see
// scripts/engine-wasm.mjs): every entry module is the `ReSocket` class (src/js/resocket.js,
// with src/url.js in front) followed by a few lines that load its wasm the way that runtime
// can, and each has the types src/js/resocket.d.ts. The wasm imports nothing and answers in
// numbers, so there is no glue between the class and it.
//
//   resocket.js          browsers, workers, bundlers: starts the wasm's fetch and compile at
//                        import (`new URL('./resocket.wasm', import.meta.url)`, which bundlers
//                        emit as an asset); a socket constructed meanwhile connects at once
//   web/resocket.js      `resocket/web`: the page loads the wasm itself with `init()` or
//                        `initSync()` (from wherever it serves it)
//   node/resocket.js     Node.js (and Vitest, SSR builds): reads the wasm from beside it,
//                        synchronously, so `require()` of the package works too
//   deno/resocket.js     Deno: imports the .wasm file natively (no --allow-read)
//   resume/...           `resocket/resume`: the same, over the engine with the resume protocol
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { minifyInPlace } from './minify.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PKG = path.join(ROOT, 'pkg');
const SRC = path.join(ROOT, 'src', 'js');
const write = (file, text) => {
  fs.mkdirSync(path.dirname(path.join(PKG, file)), { recursive: true });
  fs.writeFileSync(path.join(PKG, file), text);
};

// The class runs the runtime's URL parser itself (`urlParts`) and hands the engine the parts.
const urlParts = fs.readFileSync(path.join(ROOT, 'src', 'url.js'), 'utf8').replace(/^export function/m, 'function');
const entry = `${urlParts}\n${fs.readFileSync(path.join(SRC, 'resocket.js'), 'utf8')}`;
const types = fs.readFileSync(path.join(SRC, 'resocket.d.ts'), 'utf8');

// Loading at import, from the wasm beside the module.
const fetchLoad = (wasm) => `instantiate(engineUrl(new URL('${wasm}', import.meta.url))).then(engineLoaded, (e) => engineLoaded(null, e));\n`;
// `init()` / `initSync()` for the page to call (`wasm`: where `init()` fetches it by default).
const webLoad = (wasm) => [
  'export default async function init(input) {',
  `  if (!x) engineLoaded(await instantiate(input?.module_or_path ?? input ?? new URL('${wasm}', import.meta.url)));`,
  '  return x;',
  '}',
  'export function initSync(input) {',
  '  if (!x) engineLoaded(instantiateSync(input?.module ?? input));',
  '  return x;',
  '}',
  '',
].join('\n');
// The Node.js entry: the `web` module, instantiated from the file at once.
const nodeLoad = (web, wasm) => [
  "import { readFileSync } from 'node:fs';",
  `import { initSync, ReSocket } from '${web}';`,
  '',
  `initSync(readFileSync(new URL('${wasm}', import.meta.url)));`,
  '',
  'export { ReSocket };',
  '',
].join('\n');
const resumeOn = 'resumeBuilt = true;\n';
const webTypes = `${types}
/** Where \`init()\` loads the engine (the package's \`resocket.wasm\`) from: its URL (fetched), a fetch \`Response\`, its bytes or a compiled module. */
export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;
/** What \`initSync()\` takes: the engine's bytes or a compiled module. */
export type SyncInitInput = BufferSource | WebAssembly.Module;
/** The engine's exports (the class's own interface to it). */
export type InitOutput = WebAssembly.Exports;
/**
 * Loads the engine (by default \`resocket.wasm\` beside the package's root, fetched). Sockets
 * constructed before it connect at once and are handed to it once it is loaded.
 */
export default function init(input?: InitInput | Promise<InitInput> | { module_or_path: InitInput | Promise<InitInput> }): Promise<InitOutput>;
/** Loads the engine at once from its bytes or a compiled module. */
export function initSync(input: SyncInitInput | { module: SyncInitInput }): InitOutput;
`;

write('resocket.js', `${entry}\n${fetchLoad('./resocket.wasm')}`);
write('resocket.d.ts', types);
write('web/resocket.js', `${entry}\n${webLoad('../resocket.wasm')}`);
write('web/resocket.d.ts', webTypes);
write('node/resocket.js', nodeLoad('../web/resocket.js', '../resocket.wasm'));
write('deno/resocket.js', `${entry}\nimport * as wasm from '../resocket.wasm';\nengineLoaded(wasm);\n`);
write('resume/resocket.js', `${entry}\n${resumeOn}${fetchLoad('./resocket.wasm')}`);
write('resume/resocket.d.ts', types);
write('resume/web.js', `${entry}\n${resumeOn}${webLoad('./resocket.wasm')}`);
write('resume/node.js', nodeLoad('./web.js', './resocket.wasm'));

// The README an npm user reads (the crate's README is about Rust), and the licences.
fs.copyFileSync(path.join(ROOT, 'docs', 'npm-README.md'), path.join(PKG, 'README.md'));
for (const f of ['LICENSE-MIT', 'LICENSE-APACHE']) fs.copyFileSync(path.join(ROOT, f), path.join(PKG, f));

// The package's identity comes from the crate's manifest.
const cargo = fs.readFileSync(path.join(ROOT, 'Cargo.toml'), 'utf8');
const field = (name) => cargo.match(new RegExp(`^${name} = "([^"]*)"`, 'm'))?.[1];
const keywords = JSON.parse(cargo.match(/^keywords = (\[.*\])$/m)[1]);
const manifest = {
  name: field('name'),
  type: 'module',
  description: field('description'),
  version: field('version'),
  license: field('license'),
  repository: { type: 'git', url: `git+${field('repository')}.git` },
  files: [
    'resocket.js', 'resocket.d.ts', 'resocket.wasm',
    'web/resocket.js', 'web/resocket.d.ts',
    'node/resocket.js', 'deno/resocket.js',
    'resume/resocket.js', 'resume/resocket.d.ts', 'resume/resocket.wasm', 'resume/web.js', 'resume/node.js',
    // npm adds LICENSE files by itself, but not these names.
    'LICENSE-MIT', 'LICENSE-APACHE',
  ],
  main: 'resocket.js',
  module: 'resocket.js',
  types: 'resocket.d.ts',
  // The entries that start loading their wasm at import: a bundler must keep them.
  sideEffects: ['./resocket.js', './node/resocket.js', './deno/resocket.js', './resume/resocket.js', './resume/node.js'],
  keywords,
  // Node.js 20 runs it with a WebSocket class given (the `ws` package's); 22+ has its own.
  engines: { node: '>=20' },
  // Conditions, first match wins: a browser or worker bundle (webpack, Vite) takes the root
  // entry (the wasm fetched as an asset); Deno the `deno` entry; Node.js (and Vitest, SSR
  // builds) the `node` entry; anything else the root entry.
  exports: {
    '.': {
      types: './resocket.d.ts',
      browser: './resocket.js',
      worker: './resocket.js',
      deno: './deno/resocket.js',
      node: './node/resocket.js',
      default: './resocket.js',
    },
    './web': { types: './web/resocket.d.ts', default: './web/resocket.js' },
    // The class with the resume protocol (`{ resume: true }`); Deno takes the browser entry
    // (the wasm is fetched from beside it: --allow-read).
    './resume': {
      types: './resume/resocket.d.ts',
      node: './resume/node.js',
      default: './resume/resocket.js',
    },
    './package.json': './package.json',
  },
};
for (const f of manifest.files) {
  if (!fs.existsSync(path.join(PKG, f))) throw new Error(`pkg/${f} is missing`);
}

// The shipped JavaScript is minified with terser (scripts/minify.mjs: ES modules, export
// names kept); resocket.d.ts (written by hand, what editors show) has the documentation.
const shipped = ['resocket.js', 'web/resocket.js', 'deno/resocket.js', 'resume/resocket.js', 'resume/web.js'];
let saved = 0;
for (const file of shipped) saved += await minifyInPlace(path.join(PKG, file));

fs.writeFileSync(path.join(PKG, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`[package] pkg/package.json: entry points "." (browser, worker, deno, node), "./web", "./resume"; ${manifest.files.length} files;`
  + ` ${shipped.length} JS files minified (${saved} bytes saved)`);
