// The dashboard as `npm start` serves it: the page loads the wasm package and shows live ticks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newPage } from './harness.mjs';

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('dashboard loads the wasm package and shows ticker messages arriving', async () => {
  const page = await newPage(browser);
  await page.goto(`${server.http}/`);
  await page.waitForSelector('#state.open', { timeout: 10_000 });
  await page.waitForFunction(() => document.querySelectorAll('#ticks .tick').length >= 3, null, { timeout: 10_000 });
  const first = await page.locator('#ticks .tick').count();
  await page.waitForFunction((n) => Number(document.getElementById('count').textContent.split(' ')[0]) > n + 2, first, { timeout: 10_000 });
  const text = await page.locator('#ticks .tick').first().textContent();
  assert.match(text, /^#\d+ [A-Z]+ \d+\.\d\d$/);
  assert.deepEqual(page.errors, []);
});
