// The package's TypeScript declarations: `tsc --strict` compiles a usage file against both
// entry points (tests/types/usage.ts, whose @ts-expect-error lines must fail), and the public
// declarations contain no `any`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './harness.mjs';

test('tsc --strict accepts the documented usage and rejects the mistakes', () => {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tests', 'types')], { encoding: 'utf8' });
  } catch (e) {
    assert.fail(`tsc failed:\n${e.stdout}${e.stderr}`);
  }
});

test('the public declarations have no `any`', () => {
  for (const file of ['pkg/resocket.d.ts', 'pkg/web/resocket.d.ts']) {
    let text = fs.readFileSync(path.join(ROOT, file), 'utf8');
    // The web build appends wasm-bindgen's raw ABI (`InitOutput`, the wasm exports); the API
    // users call is everything before it.
    text = text.split('export type InitInput')[0];
    assert.match(text, /export class ReSocket/, file);
    assert.match(text, /export interface ReSocketOptions/, file);
    const anys = text.split('\n').filter((l) => /\bany\b/.test(l.replace(/\/\*\*.*|^\s*\*.*/g, '')));
    assert.deepEqual(anys, [], `${file} uses any`);
  }
});
