import { fieldsHoldBigInt, parseJsonExact, stringifyJsonExact } from '@peregrine/alert';
import type { Alert } from '@peregrine/alert';
import type { HubKeys } from '../redis/keys.ts';
import type { RedisClient } from '../redis/connection.ts';

/** One alert that a destination could not take after its last attempt. */
export interface DeadLetterEntry {
  readonly destination: string;
  readonly alert: Alert;
  readonly reason: string;
  /** permanent: the sink said retrying cannot help; exhausted: every attempt failed. */
  readonly kind: 'permanent' | 'exhausted';
  readonly attempts: number;
  /** ISO time it was dead-lettered. */
  readonly failedAt: string;
}

/**
 * The dead-letter set: one Redis hash per destination, field = alert uuid, so
 * an alert appears once per destination however often it failed.
 */
export class DeadLetterStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: HubKeys,
  ) {}

  async add(entries: readonly DeadLetterEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const byDestination = new Map<string, string[]>();
    for (const e of entries) {
      const args = byDestination.get(e.destination) ?? [];
      // Exact JSON: an integer beyond 2^53 in the alert keeps every digit (JSON.stringify would throw on a bigint).
      args.push(e.alert.uuid, stringifyJsonExact(e, fieldsHoldBigInt(e.alert.output_fields)));
      byDestination.set(e.destination, args);
    }
    const multi = this.redis.multi();
    for (const [destination, args] of byDestination) multi.hset(this.keys.deadLetter(destination), ...args);
    await multi.exec();
  }

  async count(destination: string): Promise<number> {
    return this.redis.hlen(this.keys.deadLetter(destination));
  }

  /** Up to `limit` entries of one destination (all when ids is absent), in no particular order. */
  async list(destination: string, limit: number, ids?: readonly string[]): Promise<DeadLetterEntry[]> {
    const key = this.keys.deadLetter(destination);
    if (ids !== undefined) {
      if (ids.length === 0) return [];
      const values = await this.redis.hmget(key, ...ids);
      return values.filter((v): v is string => v !== null).map((v) => parseJsonExact(v) as DeadLetterEntry);
    }
    const out: DeadLetterEntry[] = [];
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(key, cursor, 'COUNT', 500);
      cursor = next;
      for (let i = 1; i < flat.length && out.length < limit; i += 2) out.push(parseJsonExact(flat[i]) as DeadLetterEntry);
    } while (cursor !== '0' && out.length < limit);
    return out;
  }

  async remove(destination: string, uuids: readonly string[]): Promise<void> {
    if (uuids.length > 0) await this.redis.hdel(this.keys.deadLetter(destination), ...uuids);
  }
}
