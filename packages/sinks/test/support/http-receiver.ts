import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** What the receiver does with the next request. */
export type Reply =
  | { readonly status: number; readonly headers?: Record<string, string>; readonly body?: string }
  | { readonly hang: true }
  | { readonly destroy: true };

/**
 * A real HTTP server on 127.0.0.1 (random port) that records every request
 * and answers from a script (then `fallback`, 200 by default).
 */
export class HttpReceiver {
  readonly requests: ReceivedRequest[] = [];
  private readonly script: Reply[] = [];
  private readonly hanging = new Set<ServerResponse>();
  fallback: Reply = { status: 200, body: 'ok' };

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<HttpReceiver> {
    let receiver: HttpReceiver | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => receiver?.handle(req.method ?? '', req.url ?? '', req.headers, Buffer.concat(chunks).toString('utf8'), res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    receiver = new HttpReceiver(server, `http://127.0.0.1:${port}`);
    return receiver;
  }

  /** Queue replies for the next requests, in order. */
  reply(...replies: Reply[]): this {
    this.script.push(...replies);
    return this;
  }

  /** Parsed JSON bodies of all requests so far. */
  jsonBodies(): unknown[] {
    return this.requests.map((r) => JSON.parse(r.body) as unknown);
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(method: string, url: string, headers: IncomingHttpHeaders, body: string, res: ServerResponse): void {
    this.requests.push({ method, url, headers, body });
    const reply = this.script.shift() ?? this.fallback;
    if ('hang' in reply) {
      this.hanging.add(res);
      return;
    }
    if ('destroy' in reply) {
      res.socket?.destroy();
      return;
    }
    res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers });
    res.end(reply.body ?? '');
  }
}

/** A loopback URL where nothing listens (a port that was just released). */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
