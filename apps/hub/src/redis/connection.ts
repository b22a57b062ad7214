import { Cluster, Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import type { HubConfig } from '../config/schema.ts';

export type RedisClient = Redis | Cluster;

/** How the hub reaches Redis: a URL, Sentinel or Cluster (from `redis.*`). */
export interface RedisTarget {
  /** For ingest writes and reads that must fail fast (no offline queue, bounded retries). */
  producer(): RedisClient;
  /** For BullMQ workers: retries forever while Redis is away, as BullMQ requires. */
  worker(): RedisClient;
  /** Where it points, for logs (no password). */
  readonly description: string;
}

export function redisTarget(redis: HubConfig['redis'], url: string): RedisTarget {
  const failFast: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false };
  const patient: RedisOptions = { maxRetriesPerRequest: null, enableReadyCheck: true };
  const auth: RedisOptions = redis.password === undefined ? {} : { password: redis.password };
  if (redis.cluster !== undefined) {
    const nodes = redis.cluster;
    const make = (options: RedisOptions) => new Cluster(nodes, { redisOptions: { ...auth, ...options }, enableOfflineQueue: options.enableOfflineQueue ?? true });
    return { producer: () => make(failFast), worker: () => make(patient), description: `cluster ${nodes.map((n) => `${n.host}:${n.port}`).join(',')}` };
  }
  if (redis.sentinels !== undefined) {
    const base: RedisOptions = { sentinels: redis.sentinels, name: redis.sentinelName, ...auth };
    return {
      producer: () => new Redis({ ...base, ...failFast }),
      worker: () => new Redis({ ...base, ...patient }),
      description: `sentinel ${redis.sentinelName}`,
    };
  }
  return {
    producer: () => new Redis(url, { ...auth, ...failFast }),
    worker: () => new Redis(url, { ...auth, ...patient }),
    description: url.replace(/\/\/[^@/]*@/, '//***@'),
  };
}

/** Resolves once the client is ready, or rejects after `timeoutMs`. */
export async function waitReady(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms (status ${client.status})`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
    };
    client.on('ready', onReady);
  });
}

/** True when neither a URL nor Sentinel/Cluster is configured: the hub starts its own redis-server. */
export function needsEmbeddedRedis(config: HubConfig, urlOverride: string | undefined): boolean {
  return (urlOverride ?? config.redis.url) === undefined && config.redis.sentinels === undefined && config.redis.cluster === undefined;
}
