// `require('resocket')` from CommonJS (Node.js 22.12+ loads the ES module entry synchronously).
const { ReSocket } = require('resocket');

console.log(JSON.stringify({ type: typeof ReSocket, OPEN: ReSocket.OPEN }));
