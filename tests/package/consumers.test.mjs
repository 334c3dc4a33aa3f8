// Consumer apps of the packed npm package (installed from the tarball, tests/package/packed.mjs)
// against the real server: a Node.js script by name (ES module and require()), Deno, Vite's SSR
// loader (how Vitest and SSR frameworks import it), and pages with module workers built by
// webpack (the bundler build) and Vite (the `web` build), plus a module worker without a
// bundler, in headless Chromium.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import webpack from 'webpack';
import { getJson, launchBrowser, newPage, startServer } from '../e2e/harness.mjs';
import { APP, ROOT, packedApp } from './packed.mjs';

const run = promisify(execFile);
const EXPECTED = ['open true', 'text hello', 'binary 1,2,3', 'close 1000 done true'];
const WEBPACK_OUT = path.join(APP, 'dist-webpack');
const VITE_OUT = path.join(APP, 'dist-vite');

let server;
let browser;
let seq = 0;
const client = (name) => `consumer-${name}-${process.pid}-${++seq}`;

before(async () => {
  const info = packedApp();
  console.log(`[consumers] ${path.relative(ROOT, info.tarball)}: ${info.files.length} files, ${info.size} bytes`);
  server = await startServer({
    statics: [
      `/webpack=${WEBPACK_OUT}`, `/vite=${VITE_OUT}`, `/plain=${path.join(APP, 'plain')}`,
      `/resocket=${path.join(APP, 'node_modules', 'resocket')}`, `/consumer=${APP}`,
    ],
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

describe('Node.js and Deno', () => {
  test('a Node.js script imports the package by name, exchanges messages and exits by itself', async () => {
    const id = client('node');
    const { stdout } = await run(process.execPath, ['node.mjs', `${server.ws}/ws/echo?client=${id}`],
      { cwd: APP, timeout: 20_000 });
    assert.deepEqual(JSON.parse(stdout), EXPECTED);
    const s = await getJson(`${server.http}/stats?client=${id}`);
    assert.equal(s.total_connections, 1);
  });

  test('the resocket/resume entry speaks the resume protocol in Node.js; the default entry refuses the option', async () => {
    const id = client('node-resume');
    const { stdout } = await run(process.execPath, ['resume.mjs', `${server.ws}/ws/resume?client=${id}`],
      { cwd: APP, timeout: 20_000 });
    const { refused, log } = JSON.parse(stdout);
    assert.deepEqual(log, EXPECTED);
    assert.match(refused, /^TypeError InvalidOption: option "resume": .*resocket\/resume/);
    const s = await getJson(`${server.http}/stats?client=${id}`);
    assert.equal(s.total_connections, 1);
  });

  test('require() of the package works (Node.js 22.12+ loads the ES module entry)', async () => {
    const { stdout } = await run(process.execPath, ['require.cjs'], { cwd: APP, timeout: 20_000 });
    assert.deepEqual(JSON.parse(stdout), { type: 'function', OPEN: 1 });
  });

  test('Deno runs the same script (the bundler build, its .wasm imported natively)', async () => {
    const deno = path.join(ROOT, 'node_modules', '.bin', 'deno');
    const id = client('deno');
    const { stdout } = await run(deno, ['run', '--quiet', '--allow-net=127.0.0.1', 'node.mjs', `${server.ws}/ws/echo?client=${id}`],
      { cwd: APP, timeout: 60_000, env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' } });
    assert.deepEqual(JSON.parse(stdout), EXPECTED);
  });

  test("Vite's SSR loader (as Vitest imports app code) resolves the node entry and runs it", async () => {
    const { createServer } = await import('vite');
    const vite = await createServer({
      root: path.join(APP, 'vite'),
      configFile: false,
      logLevel: 'warn',
      appType: 'custom',
      server: { middlewareMode: true, hmr: false, ws: false },
    });
    try {
      const mod = await vite.ssrLoadModule('/ssr.js');
      assert.deepEqual(await mod.run(`${server.ws}/ws/echo?client=${client('vite-ssr')}`), EXPECTED);
    } finally {
      await vite.close();
    }
  });
});

describe('bundlers and workers in Chromium', () => {
  before(async () => {
    browser = await launchBrowser();
  });

  async function result(url) {
    const page = await newPage(browser);
    try {
      await page.goto(url);
      const handle = await page.waitForFunction(() => window.result, null, { timeout: 20_000 });
      const value = await handle.jsonValue();
      assert.deepEqual(page.errors, []);
      return value;
    } finally {
      await page.close();
    }
  }

  test('webpack 5 bundles the package for a page and a module worker', async () => {
    const config = (await import(path.join(APP, 'webpack', 'webpack.config.cjs'))).default(WEBPACK_OUT);
    const stats = await new Promise((resolve, reject) => {
      webpack(config, (err, s) => (err ? reject(err) : resolve(s)));
    });
    assert.ok(!stats.hasErrors(), stats.toString('errors-only'));
    fs.writeFileSync(path.join(WEBPACK_OUT, 'index.html'),
      '<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head>'
      + '<body><script src="page.js"></script></body></html>');
    const r = await result(`${server.http}/webpack/index.html?client=${client('webpack')}`);
    assert.deepEqual(r, { page: EXPECTED, worker: EXPECTED });
  });

  test('Vite builds the package (resocket/web) for a page and a module worker', async () => {
    const { build } = await import('vite');
    await build({
      root: path.join(APP, 'vite'),
      base: '/vite/',
      logLevel: 'warn',
      configFile: false,
      build: { outDir: VITE_OUT, emptyOutDir: true },
      worker: { format: 'es' },
    });
    const r = await result(`${server.http}/vite/index.html?client=${client('vite')}`);
    assert.deepEqual(r, { page: EXPECTED, worker: EXPECTED });
  });

  test('a module worker without a bundler imports resocket/web and exchanges messages', async () => {
    const id = client('plain-worker');
    const r = await result(`${server.http}/plain/index.html?client=${id}`);
    assert.deepEqual(r, { worker: EXPECTED });
    const s = await getJson(`${server.http}/stats?client=${id}`);
    assert.deepEqual(s.messages[0], { t: 'hello' }, 'the server got the text from the worker');
    assert.equal(s.total_connections, 1);
  });
});
