import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import type { Alert } from '@peregrine/alert';
import { CompressionTypes, Kafka, Partitioners, logLevel } from 'kafkajs';
import type { ICustomPartitioner, LogEntry, Message, Producer, SASLOptions, TopicMessages } from 'kafkajs';
import { guarded } from '../batch.ts';
import { decodeAlert, encodeAlert } from '../falco/falcosidekick-json.ts';
import type { ClientTls } from '../http/http-client.ts';
import type { DeliveryContext, DeliveryResult, Sink } from '../sink.ts';
import type { SinkDeps } from '../sink-module.ts';
import { compileTemplate } from '../template/template.ts';
import type { RenderTemplate } from '../template/template.ts';
import type { KafkaSettings } from './kafka-settings.ts';

/** One alert as a Kafka message, with the topic it goes to. */
interface PreparedMessage {
  readonly uuid: string;
  readonly topic: string;
  readonly message: Message;
}

/** Producer-state errors: the broker no longer accepts this producer's id/epoch/sequence; a new producer is needed. */
const PRODUCER_STATE_ERRORS = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING', 'DUPLICATE_SEQUENCE_NUMBER']);

/** How many uuids of batches written after their caller gave up are remembered (see `confirmed`). */
const CONFIRMED_LIMIT = 100_000;

/**
 * Produces each batch of alerts with one `send` (kafkajs `sendBatch`, one
 * request per partition leader): value = the alert's Falcosidekick JSON, key
 * from `keyTemplate`, headers priority, rule, source, uuid. With
 * `requiredAcks: all` (the default) the producer is idempotent (acks=-1, one
 * request in flight), so the broker drops a batch it already has when the
 * same producer sends it again with the same sequence numbers.
 *
 * That is what makes a retry after an unknown outcome (broker gone between
 * writing a batch and answering) safe, and the sink arranges for it: produces
 * run one at a time, and a batch whose outcome is unknown ("in doubt") is
 * sent again, unchanged, before anything else: the broker either writes it or
 * recognises it. Its alerts are then remembered as written, so the hub's own
 * retry of that batch is answered "delivered" without producing again. Same
 * for a produce that finished after the hub stopped waiting (its abort
 * signal). A broker that is away is a retryable failure.
 */
export class KafkaSink implements Sink {
  readonly type = 'kafka';
  private readonly kafka: Kafka;
  private producer: Producer;
  private connecting: Promise<void> | undefined;
  private readonly topic: RenderTemplate;
  private readonly key: RenderTemplate;
  private readonly idempotent: boolean;
  /** Produces run one after another (the in-doubt resend needs the producer's sequence numbers untouched). */
  private queue: Promise<unknown> = Promise.resolve();
  /** The last batch whose produce failed with an unknown outcome: resent unchanged before anything else. */
  private inDoubt: PreparedMessage[] | undefined;
  /** Uuids written by a produce whose caller had stopped waiting (or by an in-doubt resend): the next delivery of them is already done. */
  private readonly confirmed = new Set<string>();
  private closed = false;

  constructor(
    private readonly settings: KafkaSettings,
    private readonly deps: SinkDeps,
  ) {
    this.topic = compileTemplate(settings.topic);
    this.key = compileTemplate(settings.keyTemplate);
    this.idempotent = settings.requiredAcks === 'all';
    this.kafka = new Kafka({
      clientId: settings.clientId,
      brokers: [...settings.brokers],
      ssl: settings.tls === undefined ? undefined : tlsOptions(settings.tls),
      sasl: settings.sasl === undefined ? undefined : ({ mechanism: settings.sasl.mechanism, username: settings.sasl.username, password: settings.sasl.password } as SASLOptions),
      connectionTimeout: settings.connectionTimeoutMs,
      requestTimeout: settings.timeoutMs,
      // A few quick retries inside one delivery; the hub's backoff does the long waits.
      retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 2_000 },
      logLevel: logLevel.WARN,
      logCreator: () => (entry: LogEntry) => this.log(entry),
    });
    this.producer = this.newProducer();
  }

  deliver(alerts: readonly Alert[], ctx: DeliveryContext): Promise<DeliveryResult> {
    return this.run(() => alerts.map((alert) => this.prepare(alert, encodeAlert(alert))), ctx);
  }

  /** The queued text is the message value as it is; the alert is parsed only for the key, topic and headers. */
  readonly deliverEncoded = (encoded: readonly string[], ctx: DeliveryContext): Promise<DeliveryResult> =>
    this.run(() => encoded.map((text) => this.prepare(decodeAlert(text), text)), ctx);

  async close(): Promise<void> {
    this.closed = true;
    await this.queue.catch(() => undefined);
    await this.producer.disconnect().catch(() => undefined);
  }

  private newProducer(): Producer {
    return this.kafka.producer({
      idempotent: this.idempotent,
      maxInFlightRequests: this.idempotent ? 1 : undefined,
      allowAutoTopicCreation: this.settings.allowAutoTopicCreation,
      createPartitioner: uuidWhenKeyless,
      retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 2_000 },
    });
  }

  private prepare(alert: Alert, value: string): PreparedMessage {
    const key = this.key(alert);
    const topic = this.topic(alert);
    if (topic === '') throw new Error(`topic template rendered an empty topic for alert ${alert.uuid}`);
    return {
      uuid: alert.uuid,
      topic,
      message: {
        key: key === '' ? null : key,
        value,
        headers: { priority: alert.priority, rule: alert.rule, source: alert.source, uuid: alert.uuid },
      },
    };
  }

  private run(prepare: () => PreparedMessage[], ctx: DeliveryContext): Promise<DeliveryResult> {
    if (ctx.signal.aborted) return Promise.resolve(abortedResult(ctx.signal));
    return guarded(async () => {
      const prepared = prepare();
      if (prepared.length === 0) return { kind: 'delivered' };
      const caller = { gaveUp: false };
      const produce = this.queue.then(() => this.produceInTurn(prepared, caller));
      this.queue = produce.catch(() => undefined);
      return new Promise<DeliveryResult>((resolve) => {
        const onAbort = () => {
          caller.gaveUp = true;
          resolve(abortedResult(ctx.signal));
        };
        ctx.signal.addEventListener('abort', onAbort, { once: true });
        produce.then(
          (result) => {
            ctx.signal.removeEventListener('abort', onAbort);
            resolve(result);
          },
          (error: unknown) => {
            ctx.signal.removeEventListener('abort', onAbort);
            resolve({ kind: 'retryable', reason: `kafka: ${describeKafkaError(error)}` });
          },
        );
      });
    });
  }

  /** One produce turn; runs alone (see `queue`). */
  private async produceInTurn(prepared: readonly PreparedMessage[], caller: { gaveUp: boolean }): Promise<DeliveryResult> {
    if (this.closed) return { kind: 'retryable', reason: 'kafka: the sink is closed (hub shutting down)' };
    // The hub stopped waiting before this turn came (brokers slow or away): its retry will bring the batch again.
    if (caller.gaveUp) return { kind: 'retryable', reason: 'kafka: produce abandoned before it started' };
    if (this.inDoubt !== undefined) {
      const earlier = this.inDoubt;
      const resent = await this.send(earlier);
      if (resent.result.kind === 'retryable' && resent.inDoubt) {
        return { ...resent.result, reason: `${resent.result.reason} (resending a batch of ${earlier.length} whose outcome is unknown)` };
      }
      // Written now or before (the broker recognised it), refused for good, or
      // past recognising (new producer): its own retry finds out which.
      this.inDoubt = undefined;
      if (resent.result.kind === 'delivered') this.remember(earlier);
      this.deps.logger.info({ alerts: earlier.length, result: resent.result.kind }, 'kafka: batch of unknown outcome sent again (the broker writes it or recognises it)');
    }
    const pending = prepared.filter((p) => !this.confirmed.delete(p.uuid));
    if (pending.length === 0) return { kind: 'delivered' };
    const { result, inDoubt } = await this.send(pending);
    if (result.kind === 'delivered' && caller.gaveUp) this.remember(pending);
    if (inDoubt) {
      this.inDoubt = [...pending];
      this.deps.logger.warn({ alerts: pending.length, reason: result.kind === 'delivered' ? '' : result.reason }, 'kafka: produce failed with an unknown outcome; the batch is sent again, unchanged, before anything else');
    }
    return result;
  }

  private remember(messages: readonly PreparedMessage[]): void {
    for (const m of messages) {
      this.confirmed.add(m.uuid);
      if (this.confirmed.size > CONFIRMED_LIMIT) this.confirmed.delete(this.confirmed.values().next().value as string);
    }
  }

  /**
   * One produce of these messages, grouped by topic; never throws. `inDoubt`:
   * the outcome is unknown and the same producer can send them again for the
   * broker to recognise (idempotent producer, request possibly written).
   */
  private async send(messages: readonly PreparedMessage[]): Promise<{ result: DeliveryResult; inDoubt: boolean }> {
    try {
      if (this.connecting === undefined) this.connecting = this.producer.connect();
      await this.connecting;
    } catch (error) {
      // Not connected yet (brokers away at start): the next delivery tries again.
      this.connecting = undefined;
      return { result: { kind: 'retryable', reason: `kafka: cannot connect to ${this.settings.brokers.join(',')}: ${describeKafkaError(error)}` }, inDoubt: false };
    }
    const byTopic = new Map<string, Message[]>();
    for (const m of messages) {
      const list = byTopic.get(m.topic);
      if (list === undefined) byTopic.set(m.topic, [m.message]);
      else list.push(m.message);
    }
    const topicMessages: TopicMessages[] = [...byTopic].map(([topic, list]) => ({ topic, messages: list }));
    try {
      await this.producer.sendBatch({
        topicMessages,
        acks: this.idempotent ? -1 : 1,
        timeout: this.settings.timeoutMs,
        compression: this.settings.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
      });
      return { result: { kind: 'delivered' }, inDoubt: false };
    } catch (error) {
      const type = protocolErrorType(error);
      const reason = `kafka: produce to ${[...byTopic.keys()].join(', ')} failed: ${describeKafkaError(error)}`;
      if (type !== undefined && PRODUCER_STATE_ERRORS.has(type)) {
        await this.resetProducer();
        return { result: { kind: 'retryable', reason: `${reason} (producer state lost: starting a new producer)` }, inDoubt: false };
      }
      if (isPermanent(error)) return { result: { kind: 'permanent', reason }, inDoubt: false };
      return { result: { kind: 'retryable', reason }, inDoubt: this.idempotent };
    }
  }

  private async resetProducer(): Promise<void> {
    const old = this.producer;
    this.producer = this.newProducer();
    this.connecting = undefined;
    this.inDoubt = undefined;
    await old.disconnect().catch(() => undefined);
  }

  private log(entry: LogEntry): void {
    const { message, ...extra } = entry.log;
    // Expected with our own retry policy (the in-doubt resend keeps the guarantee): not worth a warning per start.
    if (/Limiting retries for the idempotent producer/.test(message)) return;
    const fields = { kafka: entry.namespace, ...extra };
    if (entry.level === logLevel.ERROR) this.deps.logger.warn(fields, `kafkajs: ${message}`);
    else if (entry.level === logLevel.WARN) this.deps.logger.warn(fields, `kafkajs: ${message}`);
    else this.deps.logger.debug(fields, `kafkajs: ${message}`);
  }
}

/**
 * kafkajs' default partitioner (murmur2 of the key, as Java clients do); a
 * keyless message is placed by its uuid rather than round-robin, so a batch
 * sent again lands in the same partitions with the same sequence numbers.
 */
const uuidWhenKeyless: ICustomPartitioner = () => {
  const byKey = Partitioners.DefaultPartitioner();
  return ({ topic, partitionMetadata, message }) => {
    if (message.key !== null && message.key !== undefined) return byKey({ topic, partitionMetadata, message });
    const uuid = message.headers?.uuid;
    return byKey({ topic, partitionMetadata, message: { ...message, key: typeof uuid === 'string' || Buffer.isBuffer(uuid) ? uuid : null } });
  };
};

function tlsOptions(tls: NonNullable<ClientTls>): ConnectionOptions {
  return {
    // A private CA is added to Node's bundled roots (as for the HTTP sinks).
    ca: tls.caFile === undefined ? undefined : [...rootCertificates, readFileSync(tls.caFile, 'utf8')],
    cert: tls.certFile === undefined ? undefined : readFileSync(tls.certFile),
    key: tls.keyFile === undefined ? undefined : readFileSync(tls.keyFile),
    rejectUnauthorized: tls.checkCert,
  };
}

function abortedResult(signal: AbortSignal): DeliveryResult {
  const cause = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'aborted');
  return { kind: 'retryable', reason: `kafka: produce abandoned (${cause}); a produce already sent is recognised when retried` };
}

interface KafkaJsErrorShape {
  name?: string;
  message?: string;
  type?: string;
  retriable?: boolean;
  cause?: unknown;
}

/** The innermost error kafkajs wrapped (retries exceeded → the last attempt's error). */
function innermost(error: unknown): KafkaJsErrorShape | undefined {
  let current = error as KafkaJsErrorShape | undefined;
  for (let depth = 0; depth < 5 && current?.cause !== undefined && current.cause !== current; depth++) current = current.cause as KafkaJsErrorShape;
  return current;
}

function protocolErrorType(error: unknown): string | undefined {
  return innermost(error)?.type;
}

/**
 * Permanent: the brokers refused the request itself (a non-retriable Kafka
 * error such as MESSAGE_TOO_LARGE, TOPIC_AUTHORIZATION_FAILED,
 * INVALID_TOPIC_EXCEPTION) or the credentials. Everything else (connection
 * refused or closed, timeouts, leader elections, an unknown topic that may
 * yet be created) is retryable.
 */
function isPermanent(error: unknown): boolean {
  const inner = innermost(error);
  if (inner === undefined) return false;
  if (inner.name === 'KafkaJSSASLAuthenticationError') return true;
  return inner.name === 'KafkaJSProtocolError' && inner.retriable === false;
}

function describeKafkaError(error: unknown): string {
  const outer = error as KafkaJsErrorShape | undefined;
  const inner = innermost(error);
  const text = (e: KafkaJsErrorShape | undefined) => `${e?.name ?? 'Error'}: ${e?.message ?? String(e)}${e?.type ? ` (${e.type})` : ''}`;
  return inner === undefined || inner === outer ? text(outer) : `${text(inner)} [${outer?.name ?? 'Error'}]`;
}
