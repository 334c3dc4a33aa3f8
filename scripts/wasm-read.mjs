// Reading a wasm module's bytes, for the size scripts (scripts/size-report.mjs,
// scripts/rust-size.mjs) and the engine's build (scripts/engine-wasm.mjs): its sections, its
// imports, its functions and data segments by size (named by the `name` section wasm-opt -g
// keeps), Rust's mangled names as paths, and a crate-level grouping of them.

// Sections: id, LEB128 size, payload; a custom section (id 0) starts with its name.
export const SECTION = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start',
  'element', 'code', 'data', 'data count', 'tag'];
export function leb(buf, pos) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = buf[pos++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (b < 0x80) return [value, pos];
  }
}
// The module's sections: `{ id, name, at, start, end, raw }` each (`at`: where its header
// starts, `start`: its payload; a custom section's name is its own, quoted: `custom "name"`).
export function sectionsOf(wasm) {
  const sections = [];
  for (let pos = 8; pos < wasm.length;) {
    const id = wasm[pos];
    const [size, start] = leb(wasm, pos + 1);
    let name = SECTION[id] ?? `id ${id}`;
    if (id === 0) {
      const [len, at] = leb(wasm, start);
      name = `custom "${wasm.subarray(at, at + len).toString()}"`;
    }
    sections.push({ id, name, at: pos, start, end: start + size, raw: size, custom: id === 0 });
    pos = start + size;
  }
  return sections;
}

// What a module imports, as `module.name` each.
export function importsOf(wasm) {
  const section = sectionsOf(wasm).find((s) => s.id === 2);
  if (!section) return [];
  const out = [];
  let [count, at] = leb(wasm, section.start);
  for (; count > 0; count -= 1) {
    const names = [];
    for (let k = 0; k < 2; k += 1) {
      const [len, q] = leb(wasm, at);
      names.push(wasm.subarray(q, q + len).toString());
      at = q + len;
    }
    out.push(names.join('.'));
    at = skipImportKind(wasm, at);
  }
  return out;
}

// Past an import's kind and its description: a function's type, a table's, a memory's limits,
// a global's type, a tag.
function skipImportKind(buf, at) {
  const kind = buf[at++];
  if (kind === 0) return leb(buf, at)[1];
  if (kind === 1) { at += 1; const flags = buf[at++]; [, at] = leb(buf, at); return flags & 1 ? leb(buf, at)[1] : at; }
  if (kind === 2) { const flags = buf[at++]; [, at] = leb(buf, at); return flags & 1 ? leb(buf, at)[1] : at; }
  if (kind === 3) return at + 2;
  return leb(buf, at + 1)[1]; // tag
}

// Rust symbol names as paths (`a::b::c`): the legacy mangling's identifiers in order, its hash
// dropped; the v0 mangling's identifiers read the same way (good enough to group by crate).
// The engine's exports (src/js/abi.rs) are single letters.
export const EXPORTS = { b: 'scratch', n: 'new', i: 'input', r: 'received', s: 'send_binary', m: 'frame', p: 'poll',
  u: 'num', t: 'text', a: 'at', f: 'free' };
export function demangle(name) {
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
// Functions (named by the `name` section, demangled) and data segments, largest first.
export function wasmItems(buf, sections = sectionsOf(buf)) {
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
        if (buf[at] === 0) imported += 1;
        at = skipImportKind(buf, at);
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
export function group(name) {
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
