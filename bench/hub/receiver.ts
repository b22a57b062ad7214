import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A minimal webhook receiver: counts delivered alerts (JSON arrays) and records arrival times of uuids when asked. */
export class CountingReceiver {
  delivered = 0;
  lastAt = 0;
  /** uuid → arrival time (ms, performance.now()), only while `recordTimes` is on. */
  readonly arrivals = new Map<string, number>();
  recordTimes = false;
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const now = performance.now();
        this.lastAt = now;
        if (this.recordTimes) {
          const alerts = JSON.parse(body) as Array<{ uuid: string }>;
          this.delivered += alerts.length;
          for (const a of alerts) this.arrivals.set(a.uuid, now);
        } else {
          // Throughput phases: count without parsing, so the stand-in receiver takes little of the shared CPU.
          this.delivered += countOccurrences(body, '"uuid":');
        }
        res.end('ok');
      });
    });
    this.server.keepAliveTimeout = 65_000;
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  reset(): void {
    this.delivered = 0;
    this.arrivals.clear();
  }

  async waitFor(count: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.delivered < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    return this.delivered >= count;
  }

  /** Waits until nothing has arrived for `quietMs` (at most `timeoutMs`). */
  async settle(quietMs: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = -1;
    while (Date.now() < deadline && this.delivered !== last) {
      last = this.delivered;
      await new Promise((r) => setTimeout(r, quietMs));
    }
  }

  close(): Promise<void> {
    return new Promise((r) => (this.server === undefined ? r() : this.server.close(() => r())));
  }
}

function countOccurrences(text: string, needle: string): number {
  let n = 0;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length)) n++;
  return n;
}
