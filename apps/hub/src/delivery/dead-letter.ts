import { fieldsHoldBigInt, parseJsonExact, stringifyJsonExact } from '@peregrine/alert';
import { createHash } from 'node:crypto';
import type { Alert } from '@peregrine/alert';
import { queuedForm } from './delivery-jobs.ts';
import type { HubKeys } from '../redis/keys.ts';
import type { RedisClient } from '../redis/connection.ts';

/** One alert that a destination could not take after its last attempt. */
export interface DeadLetterEntry {
  /** The entry's field in the set (see deadLetterId); filled in when read. */
  readonly id?: string;
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
 * The entry's field in the dead-letter hash: the alert uuid and a digest of
 * the whole alert. The uuid is the sender's choice, so two different alerts
 * may carry one; keyed by uuid alone, the second would overwrite the first.
 * The same alert failing again (a retried job, a crashed hub) lands on the
 * same field, so it still appears once. Entries written before this have
 * the bare uuid as field; they are read, replayed and removed the same way.
 */
export function deadLetterId(alert: Alert): string {
  return `${alert.uuid}~${createHash('sha256').update(queuedForm(alert)).digest('base64url').slice(0, 16)}`;
}

/**
 * The dead-letter set: one Redis hash per destination, field = deadLetterId,
 * so an alert appears once per destination however often it failed.
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
      args.push(deadLetterId(e.alert), stringifyJsonExact(e, fieldsHoldBigInt(e.alert.output_fields)));
      byDestination.set(e.destination, args);
    }
    const multi = this.redis.multi();
    for (const [destination, args] of byDestination) multi.hset(this.keys.deadLetter(destination), ...args);
    await multi.exec();
  }

  async count(destination: string): Promise<number> {
    return this.redis.hlen(this.keys.deadLetter(destination));
  }

  /**
   * Up to `limit` entries of one destination, in no particular order, each
   * with its `id`; with `ids`, only entries whose id or alert uuid is listed
   * (a uuid names every entry of that uuid).
   */
  async list(destination: string, limit: number, ids?: readonly string[]): Promise<DeadLetterEntry[]> {
    const key = this.keys.deadLetter(destination);
    if (ids !== undefined && ids.length === 0) return [];
    const wanted = ids === undefined ? undefined : new Set(ids);
    const out: DeadLetterEntry[] = [];
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(key, cursor, 'COUNT', 500);
      cursor = next;
      for (let i = 0; i + 1 < flat.length && out.length < limit; i += 2) {
        const entry = { ...(parseJsonExact(flat[i + 1]) as DeadLetterEntry), id: flat[i] };
        if (wanted === undefined || wanted.has(entry.id) || wanted.has(entry.alert.uuid)) out.push(entry);
      }
    } while (cursor !== '0' && out.length < limit);
    return out;
  }

  /** Removes entries by their `id`. */
  async remove(destination: string, ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.redis.hdel(this.keys.deadLetter(destination), ...ids);
  }
}
