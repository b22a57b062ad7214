// The webhook destination's receiver for bench/destinations, in a process of its own so its CPU
// is measured apart from the bench's (as the Kafka broker's and the OpenSearch node's are).
// POST anything: counts the alerts of the body (JSON arrays from `batchAsArray`) without parsing
// it; GET /count: {"delivered": n, "lastAt": epoch ms of the last arrival}.
// Usage: node --import tsx bench/destinations/receiver-server.ts <port>; prints "ready" when listening.
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) throw new Error(`receiver-server: give the port to listen on (got ${process.argv[2]})`);

let delivered = 0;
let lastAt = 0;
const UUID_KEY = '"uuid":';

const server = createServer((req, res) => {
  if (req.method === 'GET') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ delivered, lastAt }));
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    // Counting the uuid keys keeps the stand-in receiver cheap (no JSON.parse of every batch).
    for (let at = body.indexOf(UUID_KEY); at >= 0; at = body.indexOf(UUID_KEY, at + UUID_KEY.length)) delivered++;
    lastAt = Date.now();
    res.end('ok');
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => console.log('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
