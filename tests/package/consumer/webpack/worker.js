// The bundled module worker: the echo exchange with the package (the URL is the worker's
// name), its log posted back.
import { ReSocket } from 'resocket';
import { echo } from '../echo.js';

echo(ReSocket, self.name).then((log) => self.postMessage(log));
