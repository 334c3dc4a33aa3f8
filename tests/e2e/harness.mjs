// Shared by the end-to-end tests: the real server as a child process, and headless Chromium
// driven by playwright-core (the browser comes from the system, see scripts/setup.sh).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SERVER_BIN = path.join(ROOT, 'target', 'release', 'resocket-server');

export const CHROME_ARGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-quic', '--no-first-run',
];

/**
 * Starts the server (port 0 = a free one) serving the dashboard and pkg/, plus `statics`
 * (extra `PREFIX=DIR` mounts) and `args` (more flags, e.g. `['--resume-redis', url]`);
 * resolves once listening.
 */
export async function startServer({ port = 0, statics = [], args = [] } = {}) {
  const mounts = [
    `/=${path.join(ROOT, 'www', 'dist')}`,
    `/pkg=${path.join(ROOT, 'pkg')}`,
    ...statics,
  ];
  const child = spawn(SERVER_BIN, [
    '--port', String(port),
    ...mounts.flatMap((m) => ['--static', m]),
    ...args,
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buffer = '';
  const port_ = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start within 10 s')), 10_000);
    child.on('exit', (code) => reject(new Error(`server exited early with ${code}`)));
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      const m = buffer.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
  });
  child.removeAllListeners('exit');
  return {
    port: port_,
    http: `http://127.0.0.1:${port_}`,
    ws: `ws://127.0.0.1:${port_}`,
    async stop() {
      // Killed by a signal, a child has no exit code but a signal code: stopping it twice
      // must not wait for an exit event that already came.
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
  };
}

/** Launches headless Chromium with the flags that work as root on these machines. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROME_BIN || '/usr/bin/chromium',
    args: CHROME_ARGS,
  });
}

/** Opens a page that fails the test on console errors and uncaught exceptions. */
export async function newPage(browser) {
  const page = await browser.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(`console: ${m.text()}`); });
  return page;
}

export async function getJson(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url} answered ${r.status}`);
  return r.json();
}

/**
 * Polls `check` every 20 ms until it returns something truthy, and returns that; throws after
 * `ms` naming `what` and the last value.
 */
export async function until(what, check, ms = 10_000) {
  const end = Date.now() + ms;
  for (;;) {
    const last = await check();
    if (last) return last;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
