import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { nowRfc3339, stringifyJsonExact } from '@peregrine/alert';
import type { Alert } from '@peregrine/alert';
import type { HubConfig } from '../config/schema.ts';
import type { DeadLetterService } from '../delivery/dead-letter-service.ts';
import { BadAlertsError, decodeBody, validateAlerts } from '../ingest/parse-alerts.ts';
import type { HubMetrics, RejectReason } from '../metrics.ts';
import { bearerChecker } from './bearer-auth.ts';
import { decodeContentEncoding } from './content-encoding.ts';

export interface HttpDeps {
  readonly config: HubConfig;
  readonly logger: Logger;
  readonly metrics: HubMetrics;
  /** Durably queues alerts (resolves after Redis acknowledged). */
  readonly submit: (alerts: readonly Alert[], everyDestination?: boolean) => Promise<void>;
  /** True when Redis answers. */
  readonly redisReady: () => Promise<boolean>;
  /** Cheap synchronous check: is the Redis connection up right now? */
  readonly redisConnected: () => boolean;
  readonly deadLetters: DeadLetterService;
  /** The Prometheus text for GET /metrics (this process's registry, or the sum over a multi-process hub). */
  readonly metricsText: () => Promise<string>;
}

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly reason: RejectReason,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The hub's HTTP API. Ingest answers 202 only after the alerts are queued in
 * Redis; every refusal carries a message naming what was wrong.
 */
export function buildServer(deps: HttpDeps): FastifyInstance {
  const { config, metrics } = deps;
  const https = config.tls === undefined ? undefined : {
    cert: readFileSync(config.tls.certFile),
    key: readFileSync(config.tls.keyFile),
    ca: config.tls.caFile === undefined ? undefined : readFileSync(config.tls.caFile),
    requestCert: config.tls.requireClientCert,
    rejectUnauthorized: config.tls.requireClientCert,
    minVersion: 'TLSv1.2' as const,
  };
  // No per-request log lines on the ingest hot path: requests are counted in metrics instead.
  // No per-request child logger either: pino's child() (with redaction) cost more CPU per
  // request than validating the alert; errors are logged with the request's method and URL instead.
  const common = {
    loggerInstance: deps.logger,
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (logger: FastifyBaseLogger) => logger,
    bodyLimit: config.bodyLimitBytes,
    keepAliveTimeout: 65_000,
  };
  const app = (https === undefined ? Fastify(common) : Fastify({ ...common, https })) as unknown as FastifyInstance;

  // Falco's http_output and Falcosidekick clients do not all send a JSON
  // content type; take any body as text and decode it ourselves.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  // Callback style, and a plain return for the common uncompressed case: this runs on every ingest request.
  app.addHook('preParsing', (request, _reply, payload, done) => {
    const header = request.headers['content-encoding'];
    if (header === undefined) return done(null, payload);
    const encoding = header.toLowerCase().trim();
    if (encoding === 'identity' || encoding === '') return done(null, payload);
    if (encoding !== 'gzip' && encoding !== 'x-gzip' && encoding !== 'deflate') return done(new HttpError(415, 'unsupported_encoding', `Content-Encoding "${encoding}" is not supported; use gzip or none`));
    // Fastify checks Content-Length against the bytes on the wire and the body limit against the
    // decoded bytes; the decoder itself stops at the limit (a gzip bomb is not inflated further).
    done(null, decodeContentEncoding(payload, encoding === 'deflate' ? 'deflate' : 'gzip', config.bodyLimitBytes).body);
  });

  const authorized = bearerChecker(config.auth.tokens);
  // No hook at all when no tokens are configured (nothing to run per request).
  const protect =
    authorized === undefined
      ? []
      : [
          async (request: FastifyRequest) => {
            if (!authorized(request.headers.authorization)) {
              throw new HttpError(401, 'unauthorized', 'missing or invalid bearer token: send "Authorization: Bearer <token>" with a token from auth.tokens');
            }
          },
        ];

  app.setErrorHandler((error: Error & { statusCode?: number; reason?: RejectReason; code?: string }, request, reply) => {
    let status = error.statusCode ?? 500;
    let reason: RejectReason | undefined = error instanceof HttpError ? error.reason : undefined;
    let message = error.message;
    if (error instanceof BadAlertsError) {
      status = 400;
      reason = error.reason;
    } else if (status === 413) {
      reason = 'too_large';
      message = `body larger than the limit of ${config.bodyLimitBytes} bytes (bodyLimitBytes); split the batch`;
    } else if (error.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' || error.code === 'Z_DATA_ERROR' || error.code === 'Z_BUF_ERROR') {
      status = 400;
      reason = 'invalid_json';
      message = error.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' ? error.message : `body is not valid gzip: ${error.message}`;
    }
    if (reason !== undefined) metrics.rejected.inc({ reason });
    if (status >= 500 && reason === undefined) request.log.error({ err: error, method: request.method, url: request.url }, 'request failed');
    if (status === 503) reply.header('retry-after', '1');
    void reply.code(status).send({ error: statusText(status), message });
  });

  const ingest = (endpoint: string, batch: boolean) => async (request: FastifyRequest, reply: FastifyReply) => {
    const body = typeof request.body === 'string' ? request.body : '';
    const ndjson = /ndjson|jsonl|json-seq/i.test(request.headers['content-type'] ?? '');
    const alerts = validateAlerts(decodeBody(body, ndjson), batch);
    await queue(alerts, false);
    metrics.received.inc({ endpoint }, alerts.length);
    return reply.code(202).send(batch ? { accepted: alerts.length } : { uuid: alerts[0].uuid });
  };

  const queue = async (alerts: readonly Alert[], everyDestination: boolean) => {
    if (!deps.redisConnected()) throw new HttpError(503, 'unavailable', 'Redis is unreachable; nothing was accepted, retry later');
    try {
      await deps.submit(alerts, everyDestination);
    } catch (e) {
      deps.logger.warn({ err: e }, 'ingest write to Redis failed; answered 503');
      throw new HttpError(503, 'unavailable', `could not queue the alerts in Redis (${(e as Error).message}); nothing was accepted, retry later`);
    }
  };

  app.post('/', { onRequest: protect }, ingest('/', false));
  app.post('/v1/alerts', { onRequest: protect }, ingest('/v1/alerts', true));

  app.post('/test', { onRequest: protect }, async (_request, reply) => {
    const alert = testAlert();
    await queue([alert], true);
    metrics.received.inc({ endpoint: '/test' });
    return reply.code(202).send({ uuid: alert.uuid });
  });

  app.get('/ping', async (_request, reply) => reply.type('text/plain').send('pong\n'));
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    if (await deps.redisReady()) return { status: 'ok' };
    return reply.code(503).send({ status: 'unavailable', message: 'Redis is unreachable' });
  });
  app.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await deps.metricsText()));

  app.get('/v1/deadletter', { onRequest: protect }, async (request, reply) => {
    const q = request.query as Record<string, string | undefined>;
    const limit = Math.min(Math.max(Number(q.limit ?? 100) || 100, 1), 10_000);
    const listing = await deps.deadLetters.list(q.destination, limit);
    if ('error' in listing) return reply.code(400).send({ error: 'Bad Request', message: listing.error });
    // Alerts may hold bigint output fields (integers beyond 2^53): written exactly, not by Fastify's JSON.stringify.
    return reply.type('application/json; charset=utf-8').send(stringifyJsonExact(listing));
  });
  app.post('/v1/deadletter/replay', { onRequest: protect }, async (request, reply) => {
    const result = await deps.deadLetters.replayBody(typeof request.body === 'string' ? request.body : '');
    if ('error' in result) return reply.code(400).send({ error: 'Bad Request', message: result.error });
    return reply.code(202).send(result);
  });

  return app;
}

/** Falcosidekick's test event, from Peregrine. */
function testAlert(): Alert {
  return {
    uuid: crypto.randomUUID(),
    hostname: hostname(),
    output: 'This is a test from Peregrine',
    output_fields: { 'proc.name': 'peregrine', 'user.name': 'peregrine' },
    priority: 'Debug',
    rule: 'Test rule',
    source: 'internal',
    tags: ['test', 'example'],
    time: nowRfc3339(),
  };
}

function statusText(status: number): string {
  const texts: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 503: 'Service Unavailable' };
  return texts[status] ?? 'Error';
}
