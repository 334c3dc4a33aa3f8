// Loaded by Vite's SSR module loader (as Vitest and SSR frameworks load app code): `resocket`
// resolves with the `node` condition.
import { ReSocket } from 'resocket';
import { echo } from '../echo.js';

export const run = (url) => echo(ReSocket, url);
