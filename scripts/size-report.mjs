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

// Sections: id, LEB128 size, payload; a custom section (id 0) starts with its name.
const SECTION = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start',
  'element', 'code', 'data', 'data count', 'tag'];
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
const EXPORTS = { b: 'scratch', n: 'new', i: 'input', r: 'received', s: 'send_binary', m: 'frame', p: 'poll',
  u: 'num', t: 'text', a: 'at', f: 'free' };
function demangle(name) {
  if (EXPORTS[name]) return `engine export ${name} (${EXPORTS[name]})`;
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
const sections = [];
for (let pos = 8; pos < wasm.length;) {
  const id = wasm[pos];
  const [size, start] = leb(wasm, pos + 1);
  let name = SECTION[id] ?? `id ${id}`;
  if (id === 0) {
    const [len, at] = leb(wasm, start);
    name = `custom "${wasm.subarray(at, at + len).toString()}"`;
  }
  const body = wasm.subarray(start, start + size);
  sections.push({ id, name, start, end: start + size, raw: size, gzip: gz(body), custom: id === 0 });
  pos = start + size;
}
const code = sections.find((s) => s.name === 'code');
const ratio = code.gzip / code.raw;
console.log('\n== The wasm by section (profile build; custom sections are names/debug info, not shipped)');
for (const s of sections) {
  console.log(`${pad(s.name, 34)} ${lpad(kb(s.raw), 10)} raw ${lpad(kb(s.gzip), 10)} gzip alone`);
}

// Items by shallow size, read from the wasm itself: each function's body (named by the `name`
// section that -g keeps) and each data segment.
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
const items = wasmItems(wasm, sections);
console.log(`\n== The ${topN} largest items (functions and data; gzip estimated at the code section's ratio ${ratio.toFixed(2)})`);
for (const it of items.filter((i) => group(i.name)).slice(0, topN)) {
  const name = it.name.length > 110 ? `${it.name.slice(0, 107)}...` : it.name;
  console.log(`${lpad(it.shallow_size, 7)} B ${lpad(`~${Math.round(it.shallow_size * ratio)}`, 6)} gz  ${name}`);
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
