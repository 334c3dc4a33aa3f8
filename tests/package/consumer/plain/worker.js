// A module worker without a bundler: the package's `web` build, served at /resocket/ (the URL
// is the worker's name).
import init, { ReSocket } from '/resocket/web/resocket.js';
import { echo } from '/consumer/echo.js';

await init();
self.postMessage(await echo(ReSocket, self.name));
