// Turns cargo's wasm of the npm engine (feature `npm`: src/js/abi.rs) into the package's
// `resocket.wasm`: only the engine's exports and its memory are kept (cargo also exports what
// linked crates declare `#[no_mangle]`, wasm-bindgen's allocator shims among them), custom
// sections are dropped (names, producers, wasm-bindgen's descriptors), then binaryen's
// wasm-opt removes what nothing reaches any more and optimises for size. The result must
// import nothing: the class instantiates it with an empty import object.
//
//   node scripts/engine-wasm.mjs <cargo's .wasm> <out .wasm> [--keep-names]
// --keep-names keeps the name section (for scripts/size-report.mjs).
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { importsOf, leb, sectionsOf } from './wasm-read.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// src/js/abi.rs's exports (`m` only with the resume protocol) and the memory.
export const ENGINE_EXPORTS = new Set(['memory', 'b', 'n', 'i', 'r', 's', 'm', 'p', 'u', 't', 'a', 'f']);

function uleb(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return Buffer.from(out);
}

// The module with only `keep`'s exports, without custom sections (but `name` if `names`).
export function filterWasm(buf, keep, names = false) {
  const parts = [buf.subarray(0, 8)];
  for (const { id, name, at, start, end } of sectionsOf(buf)) {
    if (id === 7) {
      const body = buf.subarray(start, end);
      let [count, p] = leb(body, 0);
      const kept = [];
      for (; count > 0; count -= 1) {
        const from = p;
        const [len, q] = leb(body, p);
        const exported = body.subarray(q, q + len).toString();
        p = leb(body, q + len + 1)[1];
        if (keep.has(exported)) kept.push(body.subarray(from, p));
      }
      const section = Buffer.concat([uleb(kept.length), ...kept]);
      parts.push(Buffer.from([7]), uleb(section.length), section);
    } else if (id !== 0 || (names && name === 'custom "name"')) {
      parts.push(buf.subarray(at, end));
    }
  }
  return Buffer.concat(parts);
}

export function buildEngineWasm(input, output, { keepNames = false } = {}) {
  const wasm = filterWasm(fs.readFileSync(input), ENGINE_EXPORTS, keepNames);
  const filtered = `${output}.filtered.wasm`;
  fs.writeFileSync(filtered, wasm);
  // The features rustc's wasm32 target enables (binaryen's defaults are the MVP's).
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'wasm-opt'), [
    '-Oz', ...(keepNames ? ['-g'] : []), '--enable-bulk-memory', '--enable-nontrapping-float-to-int',
    '--enable-sign-ext', '--enable-mutable-globals', '--enable-multivalue', '--enable-reference-types',
    filtered, '-o', output,
  ], { stdio: 'inherit' });
  fs.rmSync(filtered);
  const left = importsOf(fs.readFileSync(output));
  if (left.length) {
    throw new Error(`${output}: the engine must import nothing, but imports ${left.join(', ')}`
      + ' (a wasm-bindgen or web-sys call reached the npm engine?)');
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [input, output, ...flags] = process.argv.slice(2);
  buildEngineWasm(input, output, { keepNames: flags.includes('--keep-names') });
  const bytes = fs.readFileSync(output);
  const { gzipSync } = await import('node:zlib');
  console.log(`[engine] ${path.relative(ROOT, output)}: ${bytes.length} bytes, ${gzipSync(bytes, { level: 9 }).length} gzip`);
}
