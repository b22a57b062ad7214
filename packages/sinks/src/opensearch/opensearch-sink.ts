import { request as httpRequest } from 'node:http';
import type { Agent, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { gzipSync } from 'node:zlib';
import type { Alert } from '@peregrine/alert';
import { guarded } from '../batch.ts';
import { keepAliveAgent } from '../http/http-client.ts';
import { bodySnippet, describeError, resultFromStatus } from '../http/status-result.ts';
import { USER_AGENT } from '../http/user-agent.ts';
import type { AlertOutcome, DeliveryContext, DeliveryResult, Sink } from '../sink.ts';
import type { SinkDeps } from '../sink-module.ts';
import { alertDocument, indexFor, indexTemplate } from './opensearch-document.ts';
import type { OpenSearchSettings } from './opensearch-settings.ts';

/** A whole answer (the _bulk answer lists every item, so it is read to the end, up to this). */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

type Answer = { readonly status: number; readonly body: string; readonly retryAfter?: string } | { readonly error: unknown; readonly timedOut?: boolean };

interface BulkItemResult {
  readonly status?: number;
  readonly _index?: string;
  readonly error?: { readonly type?: string; readonly reason?: string; readonly caused_by?: { readonly type?: string; readonly reason?: string } };
}

/**
 * Writes each batch with one `_bulk` request over node:http(s) (a keep-alive
 * agent, as the webhook sink): `create` with `_id` = the alert uuid into
 * `<index>-<date of the alert>`, so a retried batch never duplicates (an
 * existing document answers 409, which counts as delivered). The answer is
 * read item by item: a 429 or 5xx item is retryable, any other refusal
 * (a mapping conflict, a field limit) is that alert's permanent failure with
 * the cluster's reason, reported in `outcomes` so the hub retries or
 * dead-letters each alert on its own.
 *
 * Plain HTTP rather than a client library: the official
 * `@elastic/elasticsearch` client refuses OpenSearch (product check), the
 * OpenSearch client is not promised to keep working with Elasticsearch, and
 * the two REST calls used (`_bulk`, `_index_template`) are the same on both;
 * the body is written by us with exact integers (a client would
 * JSON.stringify, which throws on bigint); and the hub does the retries a
 * client would otherwise do on its own.
 */
export class OpenSearchSink implements Sink {
  readonly type = 'opensearch';
  private readonly base: URL;
  private readonly agent: Agent;
  private readonly send: typeof httpRequest;
  private readonly headers: Readonly<Record<string, string>>;
  private readonly bulkPath: string;
  private readonly templateName: string;
  /** The index template's creation: started at start-up, awaited (and tried again after a failure) before the first write. */
  private template: Promise<DeliveryResult> | undefined;

  constructor(
    private readonly settings: OpenSearchSettings,
    private readonly deps: SinkDeps,
  ) {
    this.base = new URL(settings.url.endsWith('/') ? settings.url : `${settings.url}/`);
    this.agent = keepAliveAgent(this.base, settings.tls);
    this.send = this.base.protocol === 'https:' ? httpsRequest : httpRequest;
    const headers: Record<string, string> = { 'user-agent': USER_AGENT };
    for (const [name, value] of Object.entries(settings.customHeaders)) headers[name.toLowerCase()] = value;
    if (settings.apiKey !== undefined) headers.authorization = `ApiKey ${settings.apiKey}`;
    else if (settings.username !== undefined && settings.password !== undefined) headers.authorization = `Basic ${Buffer.from(`${settings.username}:${settings.password}`).toString('base64')}`;
    this.headers = headers;
    this.bulkPath = settings.pipeline === undefined ? '_bulk' : `_bulk?pipeline=${encodeURIComponent(settings.pipeline)}`;
    this.templateName = settings.templateName ?? settings.index;
    if (settings.createIndexTemplate) this.template = this.putTemplate(AbortSignal.timeout(settings.timeoutMs));
  }

  deliver(alerts: readonly Alert[], ctx: DeliveryContext): Promise<DeliveryResult> {
    if (alerts.length === 0) return Promise.resolve({ kind: 'delivered' });
    return guarded(async () => {
      const template = await this.templateReady(ctx.signal);
      if (template.kind !== 'delivered') return template;
      const lines: string[] = [];
      for (const alert of alerts) {
        lines.push(JSON.stringify({ create: { _index: indexFor(alert, this.settings), _id: alert.uuid } }), alertDocument(alert));
      }
      const answer = await this.call('POST', this.bulkPath, `${lines.join('\n')}\n`, 'application/x-ndjson', ctx.signal);
      if ('error' in answer) return this.failure('_bulk', answer, ctx.signal);
      if (answer.status < 200 || answer.status >= 300) {
        const result = resultFromStatus(`opensearch _bulk at ${this.base.host}`, { status: answer.status, retryAfter: answer.retryAfter, body: answer.body });
        return answer.status === 413 ? { kind: 'permanent', reason: `${result.kind === 'delivered' ? '' : result.reason} (the batch is larger than the cluster's http.max_content_length: lower delivery.maxBatch)` } : result;
      }
      return this.bulkOutcome(alerts, answer.body, answer.retryAfter);
    });
  }

  async close(): Promise<void> {
    await this.template?.catch(() => undefined);
    this.agent.destroy();
  }

  /** Per-item results of a 2xx _bulk answer. */
  private bulkOutcome(alerts: readonly Alert[], body: string, retryAfter: string | undefined): DeliveryResult {
    let parsed: { errors?: boolean; items?: Array<Record<string, BulkItemResult>> };
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      // Written or not, a create of the same _id again is harmless.
      return { kind: 'retryable', reason: `opensearch _bulk answered 2xx with a body that is not JSON: ${bodySnippet(body)}` };
    }
    if (parsed.errors === false) return { kind: 'delivered' };
    const items = parsed.items ?? [];
    if (items.length !== alerts.length) return { kind: 'retryable', reason: `opensearch _bulk answered ${items.length} items for ${alerts.length} documents` };
    const outcomes: AlertOutcome[] = items.map((item, i) => itemOutcome(alerts[i], Object.values(item)[0] ?? {}, retryAfter));
    const failed = outcomes.filter((o): o is Exclude<AlertOutcome, { kind: 'delivered' }> => o.kind !== 'delivered');
    if (failed.length === 0) return { kind: 'delivered' };
    for (const f of failed) this.deps.logger.warn({ result: f.kind, reason: f.reason }, 'opensearch refused a document');
    const retryable = failed.find((o) => o.kind === 'retryable');
    const summary = retryable ?? failed[0];
    const reason = failed.length > 1 ? `${summary.reason} (${failed.length} of ${alerts.length} documents failed)` : summary.reason;
    return retryable !== undefined ? { kind: 'retryable', reason, outcomes } : { kind: 'permanent', reason, outcomes };
  }

  private templateReady(signal: AbortSignal): Promise<DeliveryResult> {
    if (!this.settings.createIndexTemplate) return Promise.resolve({ kind: 'delivered' });
    if (this.template === undefined) this.template = this.putTemplate(signal);
    const template = this.template;
    return template.then((result) => {
      // A failure is tried again by the next delivery.
      if (result.kind !== 'delivered' && this.template === template) this.template = undefined;
      return result.kind === 'delivered' ? result : { kind: 'retryable', reason: `${result.reason}; documents are not written before the template exists (or set createIndexTemplate: false)` };
    });
  }

  private async putTemplate(signal: AbortSignal): Promise<DeliveryResult> {
    const path = `_index_template/${encodeURIComponent(this.templateName)}`;
    const answer = await this.call('PUT', path, JSON.stringify(indexTemplate(this.settings)), 'application/json', signal);
    if ('error' in answer) return this.failure(`index template ${this.templateName}`, answer, signal);
    const result = resultFromStatus(`opensearch: index template ${this.templateName}`, { status: answer.status, body: answer.body });
    if (result.kind === 'delivered') this.deps.logger.info({ template: this.templateName }, 'opensearch index template in place');
    else this.deps.logger.error({ template: this.templateName, reason: result.reason }, 'opensearch index template could not be created');
    return result;
  }

  private failure(what: string, answer: { error: unknown; timedOut?: boolean }, signal: AbortSignal): DeliveryResult {
    if (signal.aborted) {
      const cause = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'aborted');
      return { kind: 'retryable', reason: `opensearch ${what}: request aborted (${cause})` };
    }
    if (answer.timedOut) return { kind: 'retryable', reason: `opensearch ${what}: no answer within ${this.settings.timeoutMs} ms` };
    return { kind: 'retryable', reason: `opensearch ${what} at ${this.base.host}: ${describeError(answer.error)}` };
  }

  /** One request; the whole answer (up to MAX_RESPONSE_BYTES). Never throws. */
  private call(method: 'POST' | 'PUT', path: string, text: string, contentType: string, signal: AbortSignal): Promise<Answer> {
    if (signal.aborted) return Promise.resolve({ error: signal.reason });
    let body = Buffer.from(text, 'utf8');
    const headers: Record<string, string> = { ...this.headers, 'content-type': contentType, accept: 'application/json' };
    if (this.settings.compression === 'gzip') {
      body = gzipSync(body);
      headers['content-encoding'] = 'gzip';
    }
    headers['content-length'] = String(body.length);
    return new Promise<Answer>((resolve) => {
      let settled = false;
      const finish = (answer: Answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(answer);
      };
      const req = this.send(new URL(path, this.base), { method, agent: this.agent, headers }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
        });
        res.on('end', () => {
          const retryAfter = res.headers['retry-after'];
          finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter });
        });
        res.on('error', (error) => finish({ error }));
      });
      const onAbort = () => {
        req.destroy();
        finish({ error: signal.reason });
      };
      const timer = setTimeout(() => {
        req.destroy();
        finish({ error: new Error('timeout'), timedOut: true });
      }, this.settings.timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('error', (error) => finish({ error }));
      req.end(body);
    });
  }
}

/** One _bulk item: created or already there (409) → delivered; 429/5xx → retryable; any other refusal → permanent. */
function itemOutcome(alert: Alert, item: BulkItemResult, retryAfter: string | undefined): AlertOutcome {
  const status = item.status ?? 0;
  if ((status >= 200 && status < 300) || status === 409) return { kind: 'delivered' };
  const error = item.error;
  const cause = error?.caused_by?.reason !== undefined ? ` (caused by ${error.caused_by.type ?? 'error'}: ${error.caused_by.reason})` : '';
  const reason = `opensearch refused document ${alert.uuid} in ${item._index ?? '?'}: HTTP ${status} ${error?.type ?? 'error'}: ${error?.reason ?? 'no reason given'}${cause}`;
  if (status === 429 || status === 408 || status >= 500) {
    const result = resultFromStatus('opensearch', { status, retryAfter });
    return { kind: 'retryable', reason, ...(result.kind === 'retryable' && result.retryAfterMs !== undefined ? { retryAfterMs: result.retryAfterMs } : {}) };
  }
  return { kind: 'permanent', reason };
}
