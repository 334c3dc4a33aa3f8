// The npm package as a user gets it: `npm pack` of pkg/ (built by scripts/build.sh), installed
// from the tarball (not a path alias) into a consumer app, target/consumer/ (a copy of
// tests/package/consumer/). Idempotent: the app is reinstalled only when the tarball changed,
// and the tarball has no dependencies, so the install needs no network.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PKG = path.join(ROOT, 'pkg');
export const PACKED = path.join(ROOT, 'target', 'packed');
export const APP = path.join(ROOT, 'target', 'consumer');
const FIXTURE = path.join(ROOT, 'tests', 'package', 'consumer');

const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Packs pkg/ into target/packed/; returns `{ tarball, files, size, unpackedSize }`. */
export function pack() {
  if (!fs.existsSync(path.join(PKG, 'package.json'))) {
    throw new Error('pkg/ is not built: run `bash scripts/build.sh` first');
  }
  fs.rmSync(PACKED, { recursive: true, force: true });
  fs.mkdirSync(PACKED, { recursive: true });
  const [info] = JSON.parse(npm(['pack', '--json', '--pack-destination', PACKED], PKG));
  return {
    tarball: path.join(PACKED, info.filename),
    files: info.files.map((f) => f.path).sort(),
    size: info.size,
    unpackedSize: info.unpackedSize,
  };
}

let cached = null;

/** Packs pkg/ and installs the tarball into target/consumer/ when it changed; returns the pack info. */
export function packedApp() {
  if (cached) return cached;
  const info = pack();
  const hash = crypto.createHash('sha256').update(fs.readFileSync(info.tarball)).digest('hex');
  const marker = path.join(APP, '.installed');
  const fixtureStamp = fs.readdirSync(FIXTURE, { recursive: true })
    .map((f) => `${f}:${fs.statSync(path.join(FIXTURE, f)).mtimeMs}`).join();
  const stamp = `${hash} ${fixtureStamp}`;
  if (!fs.existsSync(marker) || fs.readFileSync(marker, 'utf8') !== stamp) {
    console.log(`[packed] installing ${path.relative(ROOT, info.tarball)} into ${path.relative(ROOT, APP)}`);
    fs.rmSync(APP, { recursive: true, force: true });
    fs.cpSync(FIXTURE, APP, { recursive: true });
    npm(['install', '--no-audit', '--no-fund', '--prefer-offline', '--no-package-lock', '--loglevel=error', info.tarball], APP);
    fs.writeFileSync(marker, stamp);
  }
  cached = info;
  return info;
}
