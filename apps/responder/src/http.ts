// The same responder as a small HTTP endpoint, for the lab and for clusters without Lambda; the
// hub's webhook destination calls it. POST / with the Falco JSON alert (or an array of them):
// 200 with the decision; 400 when the body is not an alert; 503 when the attempt must be
// retried (the webhook destination retries 5xx); 401 without the token when one is configured.
import { timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { RetryableResponderError } from './decision.ts';
import type { Decision } from './decision.ts';
import { handleEvent } from './handler.ts';
import type { Responder } from './responder.ts';

export interface ResponderHttpOptions {
  readonly responder: Responder;
  /** When set, requests must carry `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** @defaultValue 1 MiB */
  readonly bodyLimitBytes?: number;
}

export function createResponderHttpServer(options: ResponderHttpOptions): Server {
  const limit = options.bodyLimitBytes ?? 1024 * 1024;
  const expected = options.token === undefined ? undefined : Buffer.from(`Bearer ${options.token}`);
  return createServer((request, response) => {
    void serve(request, response).catch((e: unknown) => reply(response, 500, { error: `responder failed: ${(e as Error).message}`, retryable: true }));
  });

  async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method === 'GET' && path === '/healthz') return reply(response, 200, { status: 'ok' });
    if (path !== '/') return reply(response, 404, { error: `no route ${request.method} ${path}; POST / with a Falco JSON alert` });
    if (request.method !== 'POST') return reply(response, 405, { error: 'POST / with a Falco JSON alert' }, { allow: 'POST' });
    if (expected !== undefined) {
      const given = Buffer.from(request.headers.authorization ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        request.resume();
        return reply(response, 401, { error: 'missing or wrong bearer token' }, { 'www-authenticate': 'Bearer' });
      }
    }
    const body = await readBody(request, limit);
    if (body === undefined) return reply(response, 413, { error: `body larger than ${limit} bytes` }, { connection: 'close' });
    let event: unknown;
    try {
      event = JSON.parse(body.toString('utf8'));
    } catch (e) {
      return reply(response, 400, { error: `the body is not JSON: ${(e as Error).message}` });
    }
    try {
      const result = await handleEvent(options.responder, event);
      const decisions: readonly Decision[] = 'decisions' in result ? result.decisions : [result];
      const invalid = decisions.some((d) => d.reason === 'invalid-alert');
      return reply(response, invalid ? 400 : 200, result);
    } catch (e) {
      if (e instanceof RetryableResponderError) return reply(response, 503, { error: e.message, retryable: true });
      throw e;
    }
  }
}

function readBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) over = true;
      else if (!over) chunks.push(chunk);
    });
    request.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function reply(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  response.end(text);
}
