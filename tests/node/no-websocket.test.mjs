// The packed package in a Node.js without a global WebSocket (Node.js 20, or 22 run with
// --no-experimental-websocket), as server-side rendering or a test runner would load it:
// importing does not throw, and constructing a ReSocket without a `WebSocket` option throws a
// TypeError that names what is missing and the option that supplies it. (With the option,
// behaviour.test.mjs runs in this same Node.js.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { APP, packedApp } from '../package/packed.mjs';

test('this Node.js has no global WebSocket', () => {
  assert.equal(typeof globalThis.WebSocket, 'undefined', `${process.version} ${process.execArgv.join(' ')}`);
});

test('importing the package by name does not throw', async () => {
  packedApp();
  const entry = createRequire(path.join(APP, 'index.js')).resolve('resocket');
  assert.equal(path.relative(APP, entry), path.join('node_modules', 'resocket', 'node', 'resocket.js'));
  const { ReSocket } = await import(pathToFileURL(entry));
  assert.equal(typeof ReSocket, 'function');
  assert.equal(ReSocket.OPEN, 1);

  const missing = (() => { try { return new ReSocket('ws://127.0.0.1:9/'); } catch (e) { return e; } })();
  assert.ok(missing instanceof TypeError);
  assert.equal(missing.kind, 'InvalidArgument');
  assert.match(missing.message, /this runtime has no WebSocket class/);
  assert.match(missing.message, /option "WebSocket"/);
  assert.match(missing.message, /from 'ws'/);

  assert.throws(() => new ReSocket('ws://127.0.0.1:9/', { WebSocket: 42 }), {
    name: 'TypeError',
    message: 'option "WebSocket" must be a WebSocket class, got 42',
  });
});
