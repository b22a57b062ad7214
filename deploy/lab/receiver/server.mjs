// The lab's "Slack stand-in": an HTTP server that accepts what the hub's Slack (or webhook)
// destination posts and shows what it got. Plain Node, no dependencies.
//   POST <any path>        record the request (JSON body parsed when it is JSON); 200 "ok" as Slack does
//   GET  /                 an HTML page of the messages, newest first (reload to see new ones)
//   GET  /messages         the same as JSON: [{id, at, path, contentType, body, summary}]
//   GET  /healthz          {"status":"ok","messages":N}
// Each message is also printed on stdout as one line (`docker-compose logs -f receiver`).
// Environment: RECEIVER_HOST (default 0.0.0.0), RECEIVER_PORT (default 2890),
// RECEIVER_MAX_MESSAGES (default 1000; the oldest are dropped past it).
import { createServer } from 'node:http';

const host = process.env.RECEIVER_HOST || '0.0.0.0';
const port = Number(process.env.RECEIVER_PORT || 2890);
const maxMessages = Number(process.env.RECEIVER_MAX_MESSAGES || 1000);
const bodyLimit = 1024 * 1024;
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`RECEIVER_PORT must be a port number, got "${process.env.RECEIVER_PORT}"`);
  process.exit(2);
}

/** @type {Array<{id: number, at: string, path: string, contentType: string, body: unknown, summary: string}>} */
const messages = [];
let nextId = 1;

/** One line saying what a Slack payload (or any JSON) carries. */
function summarize(body) {
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    if (typeof body.text === 'string' && body.text !== '') return body.text;
    const attachment = Array.isArray(body.attachments) ? body.attachments[0] : undefined;
    if (attachment && typeof attachment.fallback === 'string') return attachment.fallback;
    if (typeof body.output === 'string') return body.output;
    if (typeof body.rule === 'string') return body.rule;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function page() {
  const rows = messages
    .slice()
    .reverse()
    .map((m) => `<li><b>${escapeHtml(m.at)}</b> <code>${escapeHtml(m.path)}</code><br>${escapeHtml(m.summary)}<details><summary>payload</summary><pre>${escapeHtml(JSON.stringify(m.body, null, 2))}</pre></details></li>`)
    .join('\n');
  return `<!doctype html><meta charset="utf-8"><title>Peregrine lab: Slack stand-in</title>
<h1>Slack stand-in: ${messages.length} message(s)</h1><p>JSON: <a href="/messages">/messages</a></p><ol>${rows}</ol>`;
}

function send(response, status, type, text) {
  response.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

const server = createServer((request, response) => {
  const path = (request.url ?? '/').split('?')[0];
  if (request.method === 'GET') {
    if (path === '/healthz') return send(response, 200, 'application/json', JSON.stringify({ status: 'ok', messages: messages.length }));
    if (path === '/messages') return send(response, 200, 'application/json', JSON.stringify(messages));
    if (path === '/') return send(response, 200, 'text/html; charset=utf-8', page());
    return send(response, 404, 'text/plain', `no page ${path}: see / or /messages\n`);
  }
  if (request.method !== 'POST' && request.method !== 'PUT') return send(response, 405, 'text/plain', 'POST a message, or GET / to see them\n');
  const chunks = [];
  let size = 0;
  request.on('data', (chunk) => {
    size += chunk.length;
    if (size <= bodyLimit) chunks.push(chunk);
  });
  request.on('end', () => {
    if (size > bodyLimit) return send(response, 413, 'text/plain', `body larger than ${bodyLimit} bytes\n`);
    const text = Buffer.concat(chunks).toString('utf8');
    let body = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: kept as text.
    }
    const message = { id: nextId++, at: new Date().toISOString(), path, contentType: String(request.headers['content-type'] ?? ''), body, summary: summarize(body) };
    messages.push(message);
    if (messages.length > maxMessages) messages.splice(0, messages.length - maxMessages);
    console.log(JSON.stringify({ receiver: 'message', id: message.id, path, summary: message.summary }));
    send(response, 200, 'text/plain', 'ok');
  });
});

server.listen(port, host, () => console.log(JSON.stringify({ receiver: 'listening', url: `http://${host}:${port}/` })));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
