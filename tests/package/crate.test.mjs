// What `cargo package` puts in the crates (resocket, and the integrations resocket-yew and
// resocket-leptos): the sources, the README, the licences and the changelog, nothing of the
// repository around them (www/, scripts/, tests/, the npm lockfile, screenshots).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './packed.mjs';

// Files cargo adds itself, and the crate's own.
const CARGO = [/^Cargo\.toml(\.orig)?$/, /^Cargo\.lock$/, /^\.cargo_vcs_info\.json$/];
const OWN = [/^src\/[\w/]+\.(rs|js|d\.ts)$/, /^README\.md$/, /^CHANGELOG\.md$/, /^LICENSE-(MIT|APACHE)$/];

function list(cwd, crate) {
  const out = execFileSync('cargo', ['package', '--list', '--allow-dirty', '-p', crate],
    { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return out.split('\n').filter(Boolean);
}

for (const [crate, dir, required] of [
  ['resocket', ROOT, ['src/lib.rs', 'src/browser.js', 'README.md', 'CHANGELOG.md', 'LICENSE-MIT', 'LICENSE-APACHE']],
  ['resocket-yew', path.join(ROOT, 'integrations'), ['src/lib.rs', 'README.md', 'LICENSE-MIT', 'LICENSE-APACHE']],
  ['resocket-leptos', path.join(ROOT, 'integrations'), ['src/lib.rs', 'README.md', 'LICENSE-MIT', 'LICENSE-APACHE']],
]) {
  test(`cargo package ships only what a user of ${crate} needs`, () => {
    const files = list(dir, crate);
    console.log(`[crate] ${crate}: ${files.length} files`);
    const stray = files.filter((f) => ![...CARGO, ...OWN].some((re) => re.test(f)));
    assert.deepEqual(stray, []);
    for (const f of required) assert.ok(files.includes(f), `${f} is in the ${crate} package`);
  });
}
