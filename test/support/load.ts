import { Agent, request } from 'node:http';

export interface PostResult {
  /** HTTP status, or 0 when the request failed at the network level. */
  readonly status: number;
  readonly error?: string;
}

/** A keep-alive HTTP client with a fixed number of sockets, for load generators and drills. */
export class KeepAliveClient {
  private readonly agent: Agent;

  constructor(sockets: number) {
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  }

  post(url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<PostResult> {
    return new Promise((resolve) => {
      const req = request(url, { method: 'POST', agent: this.agent, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
        res.on('data', () => undefined);
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
        res.on('error', (e) => resolve({ status: 0, error: e.message }));
      });
      req.on('error', (e) => resolve({ status: 0, error: e.message }));
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * Sends `count` requests with `concurrency` in flight, each built by
 * `body(i)`; calls `done(i, result)` for each. Resolves when all are answered.
 */
export async function postMany(
  client: KeepAliveClient,
  url: string,
  count: number,
  concurrency: number,
  body: (i: number) => string | Buffer,
  done: (i: number, result: PostResult) => void,
  headers?: Record<string, string>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      done(i, await client.post(url, body(i), headers));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
}
