import { FlowProducer } from 'bullmq';
import type { Logger } from 'pino';
import { createSink } from '@peregrine/sinks';
import { deliveryFor } from './config/schema.ts';
import type { HubConfig } from './config/schema.ts';
import { DeadLetterService } from './delivery/dead-letter-service.ts';
import { DeadLetterStore } from './delivery/dead-letter.ts';
import { DestinationWorker } from './delivery/destination-worker.ts';
import { RedisUnavailableError } from './errors.ts';
import { buildServer } from './http/server.ts';
import { compileEnricher } from './ingest/enrich.ts';
import { GroupCommit } from './ingest/group-commit.ts';
import { HubMetrics } from './metrics.ts';
import { needsEmbeddedRedis, redisTarget, waitReady } from './redis/connection.ts';
import { clusterMetricsText } from './cluster/worker.ts';
import type { RedisClient } from './redis/connection.ts';
import { startEmbeddedRedis } from './redis/embedded-redis.ts';
import type { EmbeddedRedis } from './redis/embedded-redis.ts';
import { HubKeys } from './redis/keys.ts';
import { Router } from './routing/router.ts';

export interface StartHubOptions {
  readonly logger: Logger;
  /** Overrides `redis.url` (the CLI's --redis). */
  readonly redisUrl?: string;
  /** Overrides `listen.port` (the CLI's --port; 0 = any free port). */
  readonly port?: number;
  /** Start delivery workers (default true). False runs an ingest-only hub. */
  readonly deliver?: boolean;
  /** This is one of several hub processes under a primary (`processes: N`): /metrics reports the sum over all of them. */
  readonly clusterWorker?: boolean;
}

export interface RunningHub {
  /** Base URL, e.g. http://127.0.0.1:2801 */
  readonly address: string;
  readonly redisUrl: string;
  readonly metrics: HubMetrics;
  /** Graceful stop: ingest first, then the writes and deliveries in flight, then Redis. Idempotent. */
  close(): Promise<void>;
}

/** Longest wait for one shutdown step (a delivery in flight is itself bounded by its timeoutMs). */
const SHUTDOWN_STEP_MS = 30_000;
/** Longest wait for requests still arriving: their alerts are not acknowledged yet, so cutting them loses nothing (senders retry). */
const INGEST_CLOSE_MS = 10_000;

async function bounded(work: Promise<unknown>, ms: number, what: string, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  const outcome = await Promise.race([work.then(() => 'done' as const, () => 'done' as const), timeout]);
  clearTimeout(timer);
  if (outcome === 'timeout') logger.warn({ step: what, ms }, 'shutdown step did not finish in time; continuing');
}

/** Starts ingest, routing and delivery for a validated configuration. */
export async function startHub(config: HubConfig, options: StartHubOptions): Promise<RunningHub> {
  const logger = options.logger;
  let embedded: EmbeddedRedis | undefined;
  let url = options.redisUrl ?? config.redis.url;
  if (needsEmbeddedRedis(config, url)) {
    embedded = await startEmbeddedRedis({ dataDir: config.redis.dataDir, port: config.redis.embeddedPort, password: config.redis.password, logger });
    url = embedded.url;
  }
  // The embedded redis-server requires its password (random unless redis.password is set).
  const target = redisTarget(embedded === undefined ? config.redis : { ...config.redis, password: embedded.password }, url ?? '');
  const keys = new HubKeys(config.redis.prefix);
  const producerConnection = target.producer();
  const workerConnection = target.worker();
  const connections: RedisClient[] = [producerConnection, workerConnection];
  // Connection errors are reported through readiness and 503s, not thrown.
  let lastRedisError = '';
  for (const c of connections) {
    c.on('error', (err: Error) => {
      if (err.message !== lastRedisError) logger.warn({ err: err.message }, 'redis connection error');
      lastRedisError = err.message;
    });
  }
  try {
    await waitReady(producerConnection, 15_000);
  } catch (e) {
    for (const c of connections) c.disconnect();
    await embedded?.stop();
    // The connection error says why (refused, no such host, auth); the timeout alone does not.
    const why = lastRedisError === '' ? '' : ` (last error: ${lastRedisError})`;
    throw new RedisUnavailableError(
      `cannot reach Redis at ${target.description}: ${(e as Error).message}${why}. ` +
        'Start Redis there or correct the address (--redis, redis.url, redis.sentinels, redis.cluster); without any Redis setting the hub starts its own redis-server',
      { cause: e },
    );
  }
  logger.info({ redis: target.description, prefix: keys.prefix }, 'connected to redis');

  const workers = new Map<string, DestinationWorker>();
  const metrics = new HubMetrics(async () =>
    Promise.all([...workers].map(async ([destination, w]) => ({ destination, counts: await w.jobCounts() }))),
  );
  const deadLetterStore = new DeadLetterStore(workerConnection, keys);
  for (const [name, dest] of Object.entries(config.destinations)) {
    const destLogger = logger.child({ sink: name });
    const sink = createSink(dest.type, dest.settings, { logger: destLogger }, name);
    workers.set(
      name,
      new DestinationWorker({
        name,
        sink,
        delivery: deliveryFor(config, dest),
        throttle: dest.throttle,
        keys,
        connection: workerConnection,
        metrics,
        deadLetters: deadLetterStore,
        logger: destLogger,
        lockDurationMs: config.redis.lockDurationMs,
      }),
    );
  }

  const producer = new FlowProducer({ connection: producerConnection, prefix: keys.prefix });
  producer.on('error', (err) => logger.warn({ err: (err as Error).message }, 'flow producer error'));
  const groupCommit = new GroupCommit(producer, new Router(config), keys, metrics, {
    maxBatchAlerts: config.ingest.maxBatchAlerts,
    maxInFlight: config.ingest.maxInFlight,
    timeoutMs: config.ingest.redisTimeoutMs,
    lingerMs: config.ingest.lingerMs,
  });

  const enrich = compileEnricher(config.enrich);
  const app = buildServer({
    config,
    logger: logger.child({ component: 'http' }),
    metrics,
    // Enrichment runs after validation and before routing (in the group
    // commit), so `match.fields` sees the added fields; without any, the
    // plain submit is used and nothing extra runs per request.
    submit:
      enrich === undefined
        ? (alerts, everyDestination) => groupCommit.submit(alerts, everyDestination)
        : (alerts, everyDestination) => {
            enrich(alerts);
            return groupCommit.submit(alerts, everyDestination);
          },
    redisConnected: () => producerConnection.status === 'ready',
    redisReady: async () => {
      try {
        return (await Promise.race([producerConnection.ping(), new Promise<string>((r) => setTimeout(() => r('timeout'), 2000).unref())])) === 'PONG';
      } catch {
        return false;
      }
    },
    deadLetters: new DeadLetterService(deadLetterStore, workers),
    metricsText: options.clusterWorker === true ? clusterMetricsText(metrics.registry) : () => metrics.registry.metrics(),
  });

  if (workers.size === 0) logger.warn('no destinations configured: alerts are accepted and counted but go nowhere');
  if (options.deliver !== false) for (const w of workers.values()) w.start();
  const address = await app.listen({ host: config.listen.host, port: options.port ?? config.listen.port });
  logger.info({ address, destinations: [...workers.keys()] }, 'hub listening');

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      logger.info('hub stopping: ingest closed, draining');
      // Each step is bounded: a client that never finishes its request, or Redis gone (BullMQ and
      // ioredis would wait for it for ever), must not stop the hub from exiting.
      await bounded(app.close(), INGEST_CLOSE_MS, 'open ingest requests', logger);
      app.server.closeAllConnections();
      await bounded(groupCommit.drained(), SHUTDOWN_STEP_MS, 'ingest writes', logger);
      await bounded(Promise.all([...workers.values()].map((w) => w.close())), SHUTDOWN_STEP_MS, 'deliveries in flight', logger);
      await bounded(producer.close(), SHUTDOWN_STEP_MS, 'flow producer', logger);
      await bounded(Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect()))), 5000, 'redis connections', logger);
      for (const c of connections) c.disconnect();
      await embedded?.stop();
      logger.info('hub stopped');
    })();
    return closing;
  };
  return { address, redisUrl: url ?? target.description, metrics, close };
}
