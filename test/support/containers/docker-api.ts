import { request } from 'node:http';
import { createReadStream } from 'node:fs';

/** A tiny Docker Engine API client over a unix socket, for the test set-up. */
export class DockerTestClient {
  constructor(readonly socketPath: string) {}

  /** One request; resolves with the status and the parsed JSON (or text) body. */
  call(method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<{ status: number; body: unknown }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(
        {
          socketPath: this.socketPath,
          method,
          path,
          headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: parseBody(Buffer.concat(chunks).toString()) }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`docker ${method} ${path}: no answer in ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Same, failing unless the status is 2xx. */
  async ok(method: string, path: string, body?: unknown): Promise<unknown> {
    const answer = await this.call(method, path, body);
    if (answer.status < 200 || answer.status >= 300) throw new Error(`docker ${method} ${path} → ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer.body;
  }

  /** POST /images/load with a docker-archive tar. */
  loadImage(archive: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, method: 'POST', path: '/images/load?quiet=1', headers: { 'content-type': 'application/x-tar' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode === 200 && !text.includes('"error"')) resolve();
          else reject(new Error(`docker image load of ${archive} → ${res.statusCode}: ${text}`));
        });
      });
      req.on('error', reject);
      createReadStream(archive).on('error', reject).pipe(req);
    });
  }
}

function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
