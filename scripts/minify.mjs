// The one terser configuration for shipped JavaScript: scripts/package.mjs minifies the npm
// package's entry modules with it, and bench/run.mjs minifies the other wasm clients' glue the
// same way before it measures them, so the size comparison stays fair.
import fs from 'node:fs';
import { minify } from 'terser';

// ES modules in, ES modules out: imports and export names are kept (module: true mangles only
// the module's own top-level names); class names are kept too (`socket.constructor.name`).
export const TERSER_OPTIONS = {
  module: true,
  compress: { passes: 2 },
  mangle: true,
  keep_classnames: true,
  format: { comments: false },
};

/** The minified source of one ES module file. */
export async function minified(file) {
  const { code } = await minify(fs.readFileSync(file, 'utf8'), TERSER_OPTIONS);
  return code;
}

/** Minifies one ES module file in place; returns the bytes saved. */
export async function minifyInPlace(file) {
  const before = fs.statSync(file).size;
  fs.writeFileSync(file, await minified(file));
  return before - fs.statSync(file).size;
}
