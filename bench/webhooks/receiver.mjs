// A webhook receiver for bench/webhooks: answers 200 at once, counts requests and distinct webhook-ids, and tells
// its counts (with the times of the first and last request) at GET /stats.
import http from 'node:http';

const port = Number(process.argv[2] ?? 0);
let count = 0;
let first = 0;
let last = 0;
const ids = new Set();

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ count, distinct: ids.size, first, last }));
    return;
  }
  req.on('data', () => {});
  req.on('end', () => {
    const now = Date.now();
    if (count === 0) first = now;
    last = now;
    count++;
    ids.add(req.headers['webhook-id']);
    res.end('ok');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => console.log(`receiver on ${server.address().port}`));
