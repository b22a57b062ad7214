import { z } from 'zod';
import type { DeadLetterEntry, DeadLetterStore } from './dead-letter.ts';
import type { DestinationWorker } from './destination-worker.ts';

const replayRequest = z
  .object({
    destination: z.string().optional(),
    ids: z.array(z.string()).optional(),
    all: z.boolean().optional(),
  })
  .strict()
  .refine((r) => r.all === true || r.destination !== undefined || r.ids !== undefined, {
    message: 'say what to replay: {"all": true}, {"destination": "<name>"}, {"ids": ["<uuid or entry id>", …]} (ids may be combined with destination)',
  });

export interface DeadLetterListing {
  readonly total: number;
  readonly byDestination: Record<string, number>;
  readonly entries: DeadLetterEntry[];
}

/** `GET /v1/deadletter` and `POST /v1/deadletter/replay`. */
export class DeadLetterService {
  constructor(
    private readonly store: DeadLetterStore,
    private readonly workers: ReadonlyMap<string, DestinationWorker>,
  ) {}

  async list(destination: string | undefined, limit: number): Promise<DeadLetterListing | { error: string }> {
    if (destination !== undefined && !this.workers.has(destination)) {
      return { error: `destination: unknown destination "${destination}"; configured: ${[...this.workers.keys()].join(', ')}` };
    }
    const names = destination === undefined ? [...this.workers.keys()] : [destination];
    const byDestination: Record<string, number> = {};
    const entries: DeadLetterEntry[] = [];
    let total = 0;
    for (const name of names) {
      const n = await this.store.count(name);
      byDestination[name] = n;
      total += n;
      if (entries.length < limit) entries.push(...(await this.store.list(name, limit - entries.length)));
    }
    return { total, byDestination, entries };
  }

  /** `POST /v1/deadletter/replay` with its body as text: an empty body is `{}`; text that is not JSON is an error to answer 400 with. */
  async replayBody(text: string): Promise<{ replayed: number; byDestination: Record<string, number> } | { error: string }> {
    if (text.trim() === '') return this.replay({});
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (e) {
      return { error: `body is not valid JSON (${(e as Error).message}); send {"all": true}, {"destination": "<name>"} or {"ids": ["<uuid>", …]}` };
    }
    return this.replay(body);
  }

  /** Re-queues dead-lettered alerts as fresh jobs (attempts start again), then removes them from the set. */
  async replay(body: unknown): Promise<{ replayed: number; byDestination: Record<string, number> } | { error: string }> {
    const parsed = replayRequest.safeParse(body);
    if (!parsed.success) return { error: parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ') };
    const { destination, ids } = parsed.data;
    if (destination !== undefined && !this.workers.has(destination)) {
      return { error: `destination: unknown destination "${destination}"; configured: ${[...this.workers.keys()].join(', ')}` };
    }
    const names = destination === undefined ? [...this.workers.keys()] : [destination];
    const byDestination: Record<string, number> = {};
    let replayed = 0;
    for (const name of names) {
      const worker = this.workers.get(name) as DestinationWorker;
      for (;;) {
        const entries = await this.store.list(name, 1000, ids);
        if (entries.length === 0) break;
        // Queue first, then remove: a crash in between replays twice rather than never.
        await worker.requeue(entries.map((e) => e.alert));
        await this.store.remove(name, entries.map((e) => e.id ?? e.alert.uuid));
        byDestination[name] = (byDestination[name] ?? 0) + entries.length;
        replayed += entries.length;
        if (ids !== undefined) break;
      }
    }
    return { replayed, byDestination };
  }
}
