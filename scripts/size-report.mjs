// `node scripts/size-report.mjs`: where the npm package's gzip bytes go. Measures only.
//
// 1. What an app loads from pkg/ (scripts/build.sh must have run): the engine's wasm and the
//    root entry (the ReSocket class and its loader), each gzipped (-9).
// 2. The same wasm built with names kept (the package's recipe: cargo build --release with
//    opt-level "z" and the `npm` feature, then scripts/engine-wasm.mjs --keep-names: wasm-opt
//    -Oz -g from the npm `binaryen`), into target/size-report/:
//    - its sections (raw and gzipped on their own; the custom sections are the kept names,
//      which the shipped wasm does not have),
//    - the largest functions and data (read from the wasm's name section), and the code
//      grouped by crate / module.
// Gzip figures for single functions are estimates: their raw size times the whole code
// section's gzip ratio (gzip works across function boundaries).
// Options: --skip-build (reuse target/size-report/), --top N (default 30).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { group, sectionsOf, wasmItems } from './wasm-read.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'target', 'size-report');
const args = process.argv.slice(2);
const skipBuild = args.includes('--skip-build');
const topN = Number(args[args.indexOf('--top') + 1]) || 30;

const gz = (buf) => zlib.gzipSync(buf, { level: 9 }).length;
// KB of 1,024 bytes, as `npm run bench` counts them (bench/report.mjs).
const kb = (n) => `${(n / 1024).toFixed(2)} KB`;
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);

function sh(cmd, argv, env = {}) {
  console.log(`[size] $ ${cmd} ${argv.join(' ')}`);
  execFileSync(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
}

// ---------------------------------------------------------------- 1. the shipped package
const PKG = path.join(ROOT, 'pkg');
if (!fs.existsSync(path.join(PKG, 'resocket.wasm'))) {
  console.error('pkg/ is not built: run `bash scripts/build.sh` first');
  process.exit(1);
}
// The root entry (resocket.js: the class and its loader) fetches resocket.wasm; nothing else.
const shipped = [
  ['wasm engine', 'resocket.wasm'],
  ['ReSocket class and loader', 'resocket.js'],
].map(([what, file]) => {
  const buf = fs.readFileSync(path.join(PKG, file));
  return { what, file, raw: buf.length, gzip: gz(buf) };
});
const total = shipped.reduce((s, f) => s + f.gzip, 0);
console.log('\n== What an app loads (pkg/, the root entry), gzip -9 per file');
for (const f of shipped) {
  console.log(`${pad(f.what, 28)} ${pad(f.file, 48)} ${lpad(kb(f.raw), 10)} raw ${lpad(kb(f.gzip), 10)} gzip ${lpad((100 * f.gzip / total).toFixed(1), 5)} %`);
}
console.log(`${pad('total', 77)} ${lpad(kb(total), 25)} gzip (target: 25 KB)`);
// The `resocket/resume` entry loads the same class over the engine with the resume protocol.
const resumeFiles = ['resume/resocket.wasm', 'resume/resocket.js'];
const resumeTotal = resumeFiles.reduce((s, f) => s + gz(fs.readFileSync(path.join(PKG, f))), 0);
console.log(`${pad('the resocket/resume entry (resume/: its wasm and class)', 77)} ${lpad(kb(resumeTotal), 25)} gzip`);

// ---------------------------------------------------------------- 2. the profile build
// The package's engine build, its function names kept (scripts/engine-wasm.mjs --keep-names).
const named = path.join(OUT, 'resocket.named.wasm');
if (!skipBuild) {
  fs.mkdirSync(OUT, { recursive: true });
  sh('cargo', ['build', '-q', '--release', '--target', 'wasm32-unknown-unknown', '--no-default-features', '--features', 'npm'],
    { CARGO_PROFILE_RELEASE_OPT_LEVEL: 'z' });
  sh('node', [path.join(ROOT, 'scripts', 'engine-wasm.mjs'),
    path.join(ROOT, 'target', 'wasm32-unknown-unknown', 'release', 'resocket.wasm'), named, '--keep-names']);
}
const wasm = fs.readFileSync(named);

const sections = sectionsOf(wasm).map((s) => ({ ...s, gzip: gz(wasm.subarray(s.start, s.end)) }));
const code = sections.find((s) => s.name === 'code');
const ratio = code.gzip / code.raw;
console.log('\n== The wasm by section (profile build; custom sections are names/debug info, not shipped)');
for (const s of sections) {
  console.log(`${pad(s.name, 34)} ${lpad(kb(s.raw), 10)} raw ${lpad(kb(s.gzip), 10)} gzip alone`);
}

// Items by shallow size, read from the wasm itself: each function's body (named by the `name`
// section that -g keeps) and each data segment.
const items = wasmItems(wasm, sections);
console.log(`\n== The ${topN} largest items (functions and data; gzip estimated at the code section's ratio ${ratio.toFixed(2)})`);
for (const it of items.filter((i) => group(i.name)).slice(0, topN)) {
  const name = it.name.length > 110 ? `${it.name.slice(0, 107)}...` : it.name;
  console.log(`${lpad(it.shallow_size, 7)} B ${lpad(`~${Math.round(it.shallow_size * ratio)}`, 6)} gz  ${name}`);
}

const groups = new Map();
for (const it of items) {
  const g = group(it.name);
  if (!g) continue;
  const entry = groups.get(g) ?? { bytes: 0, count: 0 };
  entry.bytes += it.shallow_size;
  entry.count += 1;
  groups.set(g, entry);
}
console.log('\n== Items grouped by crate (resocket by module)');
for (const [g, { bytes, count }] of [...groups].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 30)) {
  console.log(`${pad(g, 40)} ${lpad(bytes, 7)} B ${lpad(`~${Math.round(bytes * ratio)}`, 6)} gz  ${lpad(count, 4)} items`);
}
fs.writeFileSync(path.join(OUT, 'report.json'), `${JSON.stringify({ shipped, sections, groups: Object.fromEntries(groups), top: items.slice(0, 100) }, null, 2)}\n`);
console.log(`\n[size] full data: ${path.relative(ROOT, path.join(OUT, 'report.json'))}`);
