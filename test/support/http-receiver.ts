import { createServer } from 'node:http';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a receiver got. */
export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The body's bytes as received (e.g. still gzip-encoded). */
  readonly raw: Buffer;
  /** Date.now() when the request ended. */
  readonly receivedAt: number;
}

/** How to answer a request: status, headers and body (default 200 "ok"). */
export interface Answer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

/** A local HTTP server standing in for Slack, PagerDuty or a webhook. */
export interface HttpReceiver {
  readonly url: string;
  /** Requests answered 2xx (what was delivered). */
  readonly requests: ReceivedRequest[];
  /** Every request, including those answered with an error. */
  readonly attempts: ReceivedRequest[];
  /** Decides each answer; replace it to change behaviour mid-test. */
  respond: (req: ReceivedRequest) => Answer;
  /** Resolves once `predicate` holds for the requests received (checked on each request). */
  waitFor(predicate: (requests: readonly ReceivedRequest[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startHttpReceiver(): Promise<HttpReceiver> {
  const waiters: Array<{ predicate: (r: readonly ReceivedRequest[]) => boolean; resolve: () => void }> = [];
  const receiver: HttpReceiver = {
    url: '',
    requests: [],
    attempts: [],
    respond: () => ({ status: 200, body: 'ok' }),
    waitFor(predicate, timeoutMs = 30_000) {
      if (predicate(receiver.requests)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`receiver: condition not met after ${timeoutMs} ms (${receiver.requests.length} requests)`)), timeoutMs);
        waiters.push({
          predicate,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = createServer((req, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const request: ReceivedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: raw.toString('utf8'), raw, receivedAt: Date.now() };
      let answer: Answer;
      try {
        answer = receiver.respond(request);
      } catch {
        answer = { status: 500 };
      }
      receiver.attempts.push(request);
      if (answer.status >= 200 && answer.status < 300) receiver.requests.push(request);
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body ?? '');
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i].predicate(receiver.requests)) waiters.splice(i, 1)[0].resolve();
      }
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  Object.assign(receiver, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  return receiver;
}
