// Shortens the names by which a wasm-bindgen module and its JS glue find each other.
//
// wasm-bindgen names each import `__wbg_<name>_<16 hex digits>` and each export after the Rust
// item (`resocket_remove_event_listener`). Every such name is written twice, once in the wasm
// (import and export sections) and once in the glue, and the hex digits do not compress: about
// 2 KB of a package's gzip size. bench/run.mjs and scripts/rust-size.mjs apply it to the
// wasm-bindgen clients they measure (resocket's Rust consumer and gloo-net's), alike; the npm
// package's engine has no wasm-bindgen names (src/js/abi.rs). This renames them consistently in both, the way binaryen's
// `--minify-imports-and-exports` does for `env` imports (which skips wasm-bindgen's modules):
//
// - imports from the glue module (`./<name>_bg.js`) become short identifiers; imports from the
//   crate's snippets keep their names (they are the snippets' own export names);
// - exports become short identifiers, except `memory` (the web target's `init()` returns the
//   exports, and an app may read its memory).
//
// Custom sections (`producers`, `target_features`, names) are dropped: the browser ignores them.
//
// The glue is rewritten before terser runs, while it still says `wasm.<export>`; every old name
// must be found and none may be left, or the build stops.
import fs from 'node:fs';

const RESERVED = new Set(('do if in for let new try var case else enum eval null this true void with '
  + 'await break catch class const false super throw while yield delete export import public return '
  + 'static switch typeof default extends finally package private continue debugger function '
  + 'arguments interface protected implements instanceof undefined NaN Infinity').split(' '));

/** Short identifiers: a..z, A..Z, then two characters, skipping reserved words and `taken`. */
function* shortNames(taken) {
  const first = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const rest = `${first}0123456789`;
  for (let len = 1; ; len += 1) {
    const total = first.length * rest.length ** (len - 1);
    for (let i = 0; i < total; i += 1) {
      let n = i;
      let name = first[n % first.length];
      n = Math.floor(n / first.length);
      for (let k = 1; k < len; k += 1) {
        name += rest[n % rest.length];
        n = Math.floor(n / rest.length);
      }
      if (!RESERVED.has(name) && !taken.has(name)) yield name;
    }
  }
}

class Reader {
  constructor(bytes, pos = 0) { this.bytes = bytes; this.pos = pos; }
  byte() { return this.bytes[this.pos++]; }
  u32() {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return result;
      shift += 7;
    }
  }
  name() {
    const len = this.u32();
    const s = Buffer.from(this.bytes.subarray(this.pos, this.pos + len)).toString('utf8');
    this.pos += len;
    return s;
  }
  limits() {
    const flags = this.byte();
    this.u32();
    if (flags & 1) this.u32();
  }
}

const leb = (n) => {
  const out = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return Buffer.from(out);
};
const encName = (s) => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([leb(b.length), b]);
};

/** Rewrites the import (2) and export (7) sections of `bytes`; returns the new bytes and maps. */
function renameInWasm(bytes, glueModule) {
  if (bytes.readUInt32LE(0) !== 0x6d736100) throw new Error('not a wasm module');
  const imports = new Map();
  const exports = new Map();
  const importNames = shortNames(new Set());
  const exportNames = shortNames(new Set(['memory']));
  const parts = [bytes.subarray(0, 8)];
  const r = new Reader(bytes, 8);
  while (r.pos < bytes.length) {
    const start = r.pos;
    const id = r.byte();
    const size = r.u32();
    const body = r.pos;
    const end = body + size;
    if (id === 0) {
      // Custom sections (`producers`, `target_features`) carry nothing the browser uses.
      r.pos = end;
      continue;
    }
    if (id !== 2 && id !== 7) {
      parts.push(bytes.subarray(start, end));
      r.pos = end;
      continue;
    }
    const out = [];
    const count = r.u32();
    out.push(leb(count));
    for (let i = 0; i < count; i += 1) {
      if (id === 2) {
        const module = r.name();
        const field = r.name();
        const descStart = r.pos;
        const kind = r.byte();
        if (kind === 0) r.u32();
        else if (kind === 1) { r.byte(); r.limits(); }
        else if (kind === 2) r.limits();
        else if (kind === 3) { r.byte(); r.byte(); }
        else if (kind === 4) { r.byte(); r.u32(); }
        else throw new Error(`unknown import kind ${kind} for ${module}.${field}`);
        let renamed = field;
        if (module === glueModule) {
          if (!imports.has(field)) imports.set(field, importNames.next().value);
          renamed = imports.get(field);
        }
        out.push(encName(module), encName(renamed), bytes.subarray(descStart, r.pos));
      } else {
        const field = r.name();
        const descStart = r.pos;
        r.byte();
        r.u32();
        let renamed = field;
        if (field !== 'memory') {
          renamed = exportNames.next().value;
          exports.set(field, renamed);
        }
        out.push(encName(renamed), bytes.subarray(descStart, r.pos));
      }
    }
    if (r.pos !== end) throw new Error(`section ${id}: parsed ${r.pos - body} of ${size} bytes`);
    const content = Buffer.concat(out);
    parts.push(Buffer.from([id]), leb(content.length), content);
  }
  return { bytes: Buffer.concat(parts), imports, exports };
}

const escape = (s) => s.replace(/[$]/g, '\\$&');

/**
 * Renames in `wasmFile` and in the glue files that define its imports and call its exports
 * (`glueFiles`, read and written in place; `typeFiles`, the `.wasm.d.ts`, too). Returns the
 * number of names changed and the bytes saved in the wasm.
 */
export function minifyWasmNames({ wasmFile, glueModule, glueFiles, typeFiles = [] }) {
  const before = fs.readFileSync(wasmFile);
  const { bytes, imports, exports } = renameInWasm(before, glueModule);
  const texts = new Map(glueFiles.map((f) => [f, fs.readFileSync(f, 'utf8')]));
  const replaceAll = (pattern, to, what) => {
    let found = 0;
    for (const [f, text] of texts) {
      texts.set(f, text.replace(pattern, () => { found += 1; return to; }));
    }
    // Every import is defined by the glue; an export may be unused by it (wasm-bindgen's
    // `__abort_handler` and `__instance_terminated` globals).
    if (!found && what) throw new Error(`wasm-names: ${what} not found in the glue`);
  };
  for (const [from, to] of imports) {
    replaceAll(new RegExp(`\\b${escape(from)}\\b`, 'g'), to, `import ${from}`);
  }
  for (const [from, to] of exports) {
    replaceAll(new RegExp(`\\bwasm\\.${escape(from)}\\b`, 'g'), `wasm.${to}`, null);
  }
  for (const [f, text] of texts) {
    // An import's old name must be gone; an export's may stay as the name of a local JS
    // function (the glue wraps some exports in one of the same name), never as a property.
    const left = [...imports.keys()].filter((n) => new RegExp(`\\b${escape(n)}\\b`).test(text))
      .concat([...exports.keys()].filter((n) => new RegExp(`\\.${escape(n)}\\b|['"]${escape(n)}['"]`).test(text)));
    if (left.length) throw new Error(`wasm-names: ${f} still names ${left.join(', ')} after the rename`);
    fs.writeFileSync(f, text);
  }
  for (const f of typeFiles) {
    let text = fs.readFileSync(f, 'utf8');
    for (const [from, to] of exports) {
      text = text.replace(new RegExp(`\\b${escape(from)}\\b`, 'g'), to);
    }
    fs.writeFileSync(f, text);
  }
  fs.writeFileSync(wasmFile, bytes);
  return { names: imports.size + exports.size, saved: before.length - bytes.length };
}
