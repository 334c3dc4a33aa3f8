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
// its largest functions and its code grouped by crate (the reader and demangler of
// scripts/size-report.mjs).
if (flags.includes('--names')) {
  const named = fs.readFileSync(path.join(dir, '..', 'named', `${base}_bg.wasm`));
  const sections = [];
  for (let pos = 8; pos < named.length;) {
    const id = named[pos];
    const [size, start] = leb(named, pos + 1);
    sections.push({ id, start, end: start + size, raw: size, gzip: gz(named.subarray(start, start + size)) });
    pos = start + size;
  }
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

function leb(buf, pos) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = buf[pos++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (b < 0x80) return [value, pos];
  }
}
// Rust symbol names as paths (`a::b::c`): the legacy mangling's identifiers in order, its hash
// dropped; the v0 mangling's identifiers read the same way (good enough to group by crate).
// The engine's exports (src/js/abi.rs) are single letters.

function demangle(name) {

  if (!/^_(ZN|R)/.test(name)) return name;
  const legacy = name.startsWith('_ZN');
  // v0: crate roots and impls carry a disambiguator (`s<base62>_`) before the identifier.
  if (!legacy) name = name.replace(/s[0-9A-Za-z]*_(?=\d)/g, '');
  const parts = [];
  for (let at = legacy ? 3 : 2; at < name.length;) {
    const m = (legacy ? /^(\d+)/ : /^(\d+)_?/).exec(name.slice(at));
    if (!m) { at += 1; continue; }
    const len = Number(m[1]);
    const ident = name.slice(at + m[0].length, at + m[0].length + len);
    at += m[0].length + len;
    if (/^h[0-9a-f]{16}$/.test(ident) || !ident) continue;
    parts.push(legacy ? ident.replace(/^_(?=\$)/, '') : ident);
  }
  return parts.join('::').replace(/\$LT\$/g, '<').replace(/\$GT\$/g, '>').replace(/\$C\$/g, ',')
    .replace(/\$RF\$/g, '&').replace(/\$BP\$/g, '*').replace(/\$u20\$/g, ' ').replace(/\$u7b\$/g, '{')
    .replace(/\$u7d\$/g, '}').replace(/\$u5b\$/g, '[').replace(/\$u5d\$/g, ']').replace(/\$u27\$/g, "'")
    .replace(/\.\./g, '::');
}
function wasmItems(buf, sections) {
  const names = new Map();
  const bodies = [];
  const data = [];
  let imported = 0;
  for (const { id, start, end } of sections) {
    let [count, at] = id === 0 ? [0, start] : leb(buf, start);
    if (id === 0) {
      const [len, from] = leb(buf, start);
      if (buf.subarray(from, from + len).toString() === 'name') {
        for (at = from + len; at < end;) {
          const sub = buf[at];
          const [subSize, subStart] = leb(buf, at + 1);
          if (sub === 1) { // function names: count, then (index, name) pairs
            let [n, q] = leb(buf, subStart);
            for (; n > 0; n -= 1) {
              const [index, q1] = leb(buf, q);
              const [len2, q2] = leb(buf, q1);
              names.set(index, demangle(buf.subarray(q2, q2 + len2).toString()));
              q = q2 + len2;
            }
          }
          at = subStart + subSize;
        }
      }
    } else if (id === 2) { // imports: module, field, kind, then the kind's description
      for (; count > 0; count -= 1) {
        for (let k = 0; k < 2; k += 1) { const [len, q] = leb(buf, at); at = q + len; }
        const kind = buf[at++];
        if (kind === 0) { imported += 1; [, at] = leb(buf, at); }
        else if (kind === 1) { at += 1; const flags = buf[at++]; [, at] = leb(buf, at); if (flags & 1) [, at] = leb(buf, at); }
        else if (kind === 2) { const flags = buf[at++]; [, at] = leb(buf, at); if (flags & 1) [, at] = leb(buf, at); }
        else if (kind === 3) at += 2;
        else [, at] = leb(buf, at); // tag
      }
    } else if (id === 10) {
      for (; count > 0; count -= 1) { const [len, q] = leb(buf, at); bodies.push(len); at = q + len; }
    } else if (id === 11) { // data segments: flags, (memory), (offset expression), bytes
      for (let i = 0; count > 0; count -= 1, i += 1) {
        const [flags, q] = leb(buf, at);
        at = q;
        if (flags === 2) [, at] = leb(buf, at);
        if (flags !== 1) { while (buf[at] !== 0x0b) at += 1; at += 1; }
        const [len, q2] = leb(buf, at);
        data.push({ name: `data[${i}]`, shallow_size: len });
        at = q2 + len;
      }
    }
  }
  const functions = bodies.map((len, i) => ({ name: names.get(imported + i) ?? `code[${imported + i}]`, shallow_size: len }));
  return [...functions, ...data].sort((a, b) => b.shallow_size - a.shallow_size);
}
// Grouped by where the code comes from: the crate, and for resocket its module.
function group(name) {
  if (/^"/.test(name)) return null; // a custom section's part (names): not shipped
  if (/^data segment|^data\[/.test(name)) return 'data segments (.rodata: strings, tables)';
  if (/^engine export/.test(name)) return 'resocket::js (the engine\'s exports)';
  if (/^(code|elem|type|import|export|table|memory|global)\b|\[\d+\]$/.test(name) && !name.includes('::')) {
    return name.startsWith('import') ? 'imports' : 'wasm-bindgen shims and tables';
  }
  // The first path in the name: `<a::b::C as d::E>::f` counts for the type's crate (a).
  const m = name.replace(/^[<&*\s]+|^(dyn|mut|const) /g, '').match(/^([A-Za-z_][\w]*)(?:::([A-Za-z_]\w*))?/);
  if (!m) return 'other';
  if (m[1] === 'resocket' && m[2]) return `resocket::${m[2]}`;
  return m[1];
}
