// `node scripts/rust-size.mjs DIR [--names]`: the size of the minimal Rust consumer in DIR (a
// wasm-pack --target bundler output named rust_stream), measured the way bench/run.mjs measures
// it: on a copy, the wasm import/export names shortened (scripts/wasm-names.mjs), the glue and
// the snippets minified (scripts/minify.mjs), each file gzipped (-9). Driven by
// scripts/rust-size.sh, which builds DIR as scripts/bench-build.sh does.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { minified } from './minify.mjs';
import { minifyWasmNames } from './wasm-names.mjs';
import { group, sectionsOf, wasmItems } from './wasm-read.mjs';

const [dir, ...flags] = process.argv.slice(2);
const gz = (bytes) => zlib.gzipSync(bytes, { level: 9 }).length;
const kb = (n) => (n / 1024).toFixed(2);
const base = 'rust_stream';

const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'rust-size-'));
fs.cpSync(dir, copy, { recursive: true });
minifyWasmNames({
  wasmFile: path.join(copy, `${base}_bg.wasm`),
  glueModule: `./${base}_bg.js`,
  glueFiles: [`${base}_bg.js`, `${base}.js`].map((f) => path.join(copy, f)),
});
const snippets = fs.existsSync(path.join(copy, 'snippets'))
  ? fs.readdirSync(path.join(copy, 'snippets'), { recursive: true }).filter((f) => f.endsWith('.js'))
    .map((f) => path.join(copy, 'snippets', f))
  : [];
const js = [...[`${base}_bg.js`, `${base}.js`].map((f) => path.join(copy, f)).filter((f) => fs.existsSync(f)), ...snippets];
const wasm = gz(fs.readFileSync(path.join(copy, `${base}_bg.wasm`)));
let glue = 0;
for (const f of js) {
  const n = gz(Buffer.from(await minified(f)));
  glue += n;
  if (flags.includes('-v')) console.log(`  ${path.relative(copy, f)}: ${kb(n)} KB`);
}
fs.rmSync(copy, { recursive: true, force: true });
console.log(`rust-stream minimal: ${kb(wasm + glue)} KB = wasm ${kb(wasm)} + JS ${kb(glue)} (bytes: ${wasm} + ${glue} = ${wasm + glue})`);

// --names: the copy with function names kept (target/rust-size/named, see scripts/rust-size.sh),
// its largest functions and its code grouped by crate (scripts/wasm-read.mjs).
if (flags.includes('--names')) {
  const named = fs.readFileSync(path.join(dir, '..', 'named', `${base}_bg.wasm`));
  const sections = sectionsOf(named).map((s) => ({ ...s, gzip: gz(named.subarray(s.start, s.end)) }));
  const code = sections.find((s) => s.id === 10);
  const ratio = code.gzip / code.raw;
  console.log(`named copy: code ${code.raw} B raw, ${code.gzip} B gzip alone; data ${sections.find((s) => s.id === 11)?.raw} B raw`);
  const items = wasmItems(named, sections);
  const topN = Number(flags[flags.indexOf('--top') + 1]) || 60;
  for (const it of items.slice(0, topN)) {
    const name = it.name.length > 150 ? `${it.name.slice(0, 147)}...` : it.name;
    console.log(`${String(it.shallow_size).padStart(7)} B ~${String(Math.round(it.shallow_size * ratio)).padStart(5)} gz  ${name}`);
  }
  const groups = new Map();
  for (const it of items) {
    const g = group(it.name);
    if (!g) continue;
    const e = groups.get(g) ?? { bytes: 0, count: 0 };
    e.bytes += it.shallow_size; e.count += 1; groups.set(g, e);
  }
  console.log('-- by crate / resocket module');
  for (const [g, { bytes, count }] of [...groups].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 40)) {
    console.log(`${g.padEnd(40)} ${String(bytes).padStart(7)} B ~${String(Math.round(bytes * ratio)).padStart(5)} gz ${String(count).padStart(4)} items`);
  }
  fs.writeFileSync(path.join(dir, '..', 'named', 'items.txt'), items.map((i) => `${i.shallow_size}\t${i.name}`).join('\n'));
}

