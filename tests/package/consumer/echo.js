// The echo exchange every consumer runs (a Node script, a page and a worker of each bundler):
// open, send a text and a binary message, get both back, close(1000, 'done'); resolves with
// the log. Written against the package's API only.
export function echo(ReSocket, url, options = {}) {
  return new Promise((resolve) => {
    const log = [];
    const ws = new ReSocket(url, { binaryType: 'arraybuffer', ...options });
    ws.onopen = () => {
      log.push(`open ${ws.readyState === ReSocket.OPEN}`);
      ws.send('hello');
      ws.send(new Uint8Array([1, 2, 3]));
    };
    ws.onmessage = (event) => {
      log.push(typeof event.data === 'string'
        ? `text ${event.data}`
        : `binary ${Array.from(new Uint8Array(event.data)).join(',')}`);
      if (log.length === 3) ws.close(1000, 'done');
    };
    ws.onclose = (event) => {
      log.push(`close ${event.code} ${event.reason} ${event.wasClean}`);
      resolve(log);
    };
  });
}

export const EXPECTED = ['open true', 'text hello', 'binary 1,2,3', 'close 1000 done true'];
