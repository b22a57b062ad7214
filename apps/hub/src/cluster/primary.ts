import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Logger } from 'pino';
import type { HubConfig } from '../config/schema.ts';
import { needsEmbeddedRedis } from '../redis/connection.ts';
import { startEmbeddedRedis } from '../redis/embedded-redis.ts';
import type { EmbeddedRedis } from '../redis/embedded-redis.ts';
import { HUB_REDIS_URL_ENV, METRICS_REPLY, isMetricsRequest } from './messages.ts';

export interface PrimaryOptions {
  readonly logger: Logger;
  readonly processes: number;
  /** The CLI's --redis, if given (otherwise redis.url or an embedded redis-server). */
  readonly redisUrl?: string;
}

/** A hub process that dies more often than this is not restarted again: the primary stops with exit code 1. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
/** How long SIGTERM'd hub processes get to drain before SIGKILL. */
const DRAIN_LIMIT_MS = 90_000;

/**
 * The primary of a multi-process hub (`processes: N`): owns the embedded
 * redis-server if there is one, forks N hub processes that share the listen
 * port (Node cluster hands them connections) and the queues (Redis), restarts
 * one that crashes, answers their /metrics with the sum over all of them,
 * and on SIGTERM/SIGINT drains them all before stopping Redis.
 * Resolves to the exit code.
 */
export async function runPrimary(config: HubConfig, options: PrimaryOptions): Promise<number> {
  const { logger } = options;
  let embedded: EmbeddedRedis | undefined;
  let redisUrl = options.redisUrl;
  if (needsEmbeddedRedis(config, redisUrl)) {
    embedded = await startEmbeddedRedis({ dataDir: config.redis.dataDir, port: config.redis.embeddedPort, password: config.redis.password, logger });
    // Hub processes get the random password inside the URL (their environment is readable by this
    // user only); a configured redis.password they read from the configuration, as this process did.
    redisUrl = config.redis.password === undefined ? embedded.authUrl : embedded.url;
  }
  const env: Record<string, string> = redisUrl === undefined ? {} : { [HUB_REDIS_URL_ENV]: redisUrl };

  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker: Worker, message: unknown) => {
    if (!isMetricsRequest(message)) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: METRICS_REPLY, id: message.id, text }),
      (err: unknown) => worker.send({ type: METRICS_REPLY, id: message.id, error: (err as Error).message }),
    );
  });

  let stopping = false;
  let failed = false;
  const restarts: number[] = [];
  const started = new Set<Worker>();
  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((r) => (resolveDone = r));

  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    const live = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
    logger.info({ processes: live.length }, 'hub primary: draining hub processes');
    await Promise.all(
      live.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            const kill = setTimeout(() => w.process.kill('SIGKILL'), DRAIN_LIMIT_MS);
            w.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            w.process.kill('SIGTERM');
          }),
      ),
    );
    await embedded?.stop();
    logger.info('hub primary stopped');
    resolveDone(code);
  };

  const fork = () => {
    const worker = cluster.fork(env);
    worker.once('listening', () => started.add(worker));
    worker.once('exit', (code, signal) => {
      if (stopping) return;
      if (!started.has(worker)) {
        // Failed before it listened (bad Redis, port in use…): the others would fail the same way.
        logger.error({ pid: worker.process.pid, code, signal }, 'hub process exited during start-up; stopping');
        failed = true;
        void stopAll(1);
        return;
      }
      const now = Date.now();
      restarts.push(now);
      while (restarts.length > 0 && restarts[0] < now - RESTART_WINDOW_MS) restarts.shift();
      if (restarts.length > MAX_RESTARTS) {
        logger.error({ restarts: restarts.length, windowMs: RESTART_WINDOW_MS }, 'hub processes keep dying; stopping');
        failed = true;
        void stopAll(1);
        return;
      }
      logger.error({ pid: worker.process.pid, code, signal }, 'hub process died; starting a replacement');
      fork();
    });
  };

  for (let i = 0; i < options.processes; i++) fork();
  logger.info({ processes: options.processes, redis: embedded === undefined ? 'configured' : embedded.url }, 'hub primary started');

  process.once('SIGTERM', () => void stopAll(0));
  process.once('SIGINT', () => void stopAll(0));
  const code = await done;
  return failed ? 1 : code;
}
