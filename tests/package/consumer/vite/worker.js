// The module worker Vite bundles: the echo exchange with the package's `web` build (the URL is
// the worker's name), its log posted back.
import init, { ReSocket } from 'resocket/web';
import { echo } from '../echo.js';

init()
  .then(() => echo(ReSocket, self.name))
  .then((log) => self.postMessage(log));
