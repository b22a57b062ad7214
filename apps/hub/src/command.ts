import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadHubConfig } from './config/load.ts';
import { unreadSidekickVariables } from './config/sidekick-env.ts';
import { HubConfigError, RedisUnavailableError } from './errors.ts';
import { startHub } from './hub.ts';
import { HUB_REDIS_URL_ENV } from './cluster/messages.ts';
import { runPrimary } from './cluster/primary.ts';

const HELP = `Usage: peregrine hub [--config FILE] [--port N] [--redis URL] [--processes N|auto] [--check]

Durable, Falco-compatible alert hub. Point Falco's http_output (or a
Falcosidekick client) at it: POST / takes one Falco JSON alert, POST /v1/alerts
a batch (JSON array or NDJSON, gzip allowed). Alerts are answered 202 only once
queued in Redis, then routed to the configured destinations with retries,
throttling and a dead-letter set.

Options:
  --config FILE   YAML configuration (see docs/hub.md). Without it, Falcosidekick
                  env vars (SLACK_WEBHOOKURL, PAGERDUTY_ROUTINGKEY,
                  WEBHOOK_ADDRESS, *_MINIMUMPRIORITY, LISTENPORT…) configure it.
  --port N        Listen port (overrides listen.port; default 2801).
  --redis URL     Redis URL (overrides redis.url). Without any Redis setting the
                  hub starts a local redis-server child (AOF on, data in
                  redis.dataDir, default .cache/hub-redis).
  --processes N   Hub processes sharing the port and the work, or "auto" (one
                  per CPU core); overrides \`processes\` (default 1).
  --check         Validate the configuration and exit.
  --log-level L   pino level (default info).

SIGTERM/SIGINT stop ingest, finish the writes and deliveries in flight, then exit.
`;

/**
 * `peregrine hub [options]`: loads the config, starts the hub, stops it
 * gracefully on SIGTERM/SIGINT. Resolves to the exit code.
 */
export async function runHubCommand(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        config: { type: 'string' },
        port: { type: 'string' },
        redis: { type: 'string' },
        check: { type: 'boolean' },
        processes: { type: 'string' },
        'log-level': { type: 'string' },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`peregrine hub: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    console.error(`peregrine hub: --port must be an integer 0-65535, got "${values.port}"`);
    return 2;
  }
  let processesOverride: number | 'auto' | undefined;
  if (values.processes !== undefined) {
    processesOverride = values.processes === 'auto' ? 'auto' : Number(values.processes);
    if (processesOverride !== 'auto' && (!Number.isInteger(processesOverride) || processesOverride < 1 || processesOverride > 64)) {
      console.error(`peregrine hub: --processes must be an integer 1-64 or "auto", got "${values.processes}"`);
      return 2;
    }
  }
  const logger = pino({ level: values['log-level'] ?? 'info', redact: ['*.webhookUrl', '*.routingKey', '*.password', '*.tokens'] });
  let config;
  try {
    config = loadHubConfig(values.config, process.env);
  } catch (e) {
    if (e instanceof HubConfigError) {
      console.error(e.message);
      return 2;
    }
    throw e;
  }
  const unread = unreadSidekickVariables(process.env);
  const unreadMessage = `Falcosidekick settings with no Peregrine equivalent were ignored: ${unread.join(', ')} (docs/hub.md, "Switching from Falcosidekick")`;
  if (values.check) {
    console.log(`configuration OK: ${Object.keys(config.destinations).length} destination(s): ${Object.keys(config.destinations).join(', ') || '(none)'}`);
    if (unread.length > 0) console.log(`warning: ${unreadMessage}`);
    return 0;
  }
  // Said once, by the primary or the only process.
  if (unread.length > 0 && !cluster.isWorker) logger.warn({ variables: unread }, unreadMessage);
  const wanted = processesOverride ?? config.processes;
  const processes = wanted === 'auto' ? availableParallelism() : wanted;
  if (processes > 1 && cluster.isPrimary) {
    try {
      return await runPrimary(config, { logger, processes, redisUrl: values.redis });
    } catch (e) {
      if (e instanceof RedisUnavailableError) {
        console.error(`peregrine hub: ${e.message}`);
        return 1;
      }
      throw e;
    }
  }
  // A hub process under a primary: Redis comes from the primary (maybe its embedded redis-server).
  const clusterWorker = cluster.isWorker;
  const redisUrl = clusterWorker ? (process.env[HUB_REDIS_URL_ENV] ?? values.redis) : values.redis;
  // A hub process's IPC channel to its primary would keep it alive after it is done.
  // cluster.worker.disconnect() (not process.disconnect(), after which Node
  // exits with code 0 at once) keeps our exit code.
  const leaveCluster = () => {
    if (cluster.worker?.isConnected()) cluster.worker.disconnect();
  };
  let hub;
  try {
    hub = await startHub(config, { logger, port, redisUrl, clusterWorker });
  } catch (e) {
    leaveCluster();
    if (e instanceof RedisUnavailableError) {
      console.error(`peregrine hub: ${e.message}`);
      return 1;
    }
    throw e;
  }
  const running = hub;
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      const finish = (code: number) => {
        leaveCluster();
        resolve(code);
      };
      running.close().then(
        () => finish(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          finish(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    // If the primary is killed, Node ends this process as soon as the IPC channel closes
    // (cluster's own rule): its deliveries in flight are redelivered by the others, or after a
    // restart, once their lock expires (redis.lockDurationMs), as after any crash.
  });
}
