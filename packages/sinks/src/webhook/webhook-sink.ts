import { createHmac } from 'node:crypto';
import { validateHeaderValue } from 'node:http';
import type { Alert } from '@peregrine/alert';
import { deliverInOrder, guarded } from '../batch.ts';
import { encodeAlert } from '../falco/falcosidekick-json.ts';
import { HttpClient } from '../http/http-client.ts';
import { USER_AGENT } from '../http/user-agent.ts';
import type { DeliveryContext, DeliveryResult, Sink } from '../sink.ts';
import type { SinkDeps } from '../sink-module.ts';
import { compileTemplate } from '../template/template.ts';
import type { RenderTemplate } from '../template/template.ts';
import { isJsonContentType } from './webhook-settings.ts';
import type { WebhookSettings } from './webhook-settings.ts';

/** `sha256=<hex>` over the exact body bytes, the form GitHub webhooks use. */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/**
 * POST/PUT of each alert (or of the batch as an array) to one URL. Headers:
 * Content-Type, User-Agent, `X-Peregrine-Alert-Id` (the alert uuid, for
 * receivers that deduplicate; per-alert mode only), the custom headers and
 * the optional HMAC signature.
 */
export class WebhookSink implements Sink {
  readonly type = 'webhook';
  private readonly render: (alert: Alert) => string;
  readonly deliverEncoded?: (encoded: readonly string[], ctx: DeliveryContext) => Promise<DeliveryResult>;
  private readonly json: boolean;
  private readonly client: HttpClient;
  /** Headers every request carries (content type, user agent, custom headers), built once. */
  private readonly baseHeaders: Readonly<Record<string, string>>;

  constructor(
    private readonly settings: WebhookSettings,
    private readonly deps: SinkDeps,
  ) {
    this.json = isJsonContentType(settings.contentType);
    this.client = new HttpClient('webhook', settings.address, settings.tls);
    const headers: Record<string, string> = { 'content-type': settings.contentType, 'user-agent': USER_AGENT };
    for (const [name, value] of Object.entries(settings.customHeaders)) headers[name.toLowerCase()] = value;
    this.baseHeaders = headers;
    const template: RenderTemplate | undefined =
      settings.bodyTemplate === undefined ? undefined : compileTemplate(settings.bodyTemplate, { escape: this.json ? 'json' : 'text' });
    this.render = template ?? encodeAlert;
    // The default body is the encoded alert itself: take it as queued.
    if (template === undefined) this.deliverEncoded = (encoded, ctx) => this.sendEncoded(encoded, ctx);
  }

  async deliver(alerts: readonly Alert[], ctx: DeliveryContext): Promise<DeliveryResult> {
    if (alerts.length === 0) return { kind: 'delivered' };
    if (this.settings.batchAsArray) {
      return guarded(async () => {
        const parts: string[] = [];
        for (const alert of alerts) {
          const body = this.renderChecked(alert);
          if (typeof body !== 'string') return body;
          parts.push(body);
        }
        return this.send(`[${parts.join(',')}]`, undefined, ctx);
      });
    }
    return deliverInOrder(alerts, (alert) => {
      const body = this.renderChecked(alert);
      return typeof body === 'string' ? this.send(body, alert.uuid, ctx) : Promise.resolve(body);
    });
  }

  async close(): Promise<void> {
    this.client.close();
  }

  private sendEncoded(encoded: readonly string[], ctx: DeliveryContext): Promise<DeliveryResult> {
    if (encoded.length === 0) return Promise.resolve({ kind: 'delivered' });
    if (this.settings.batchAsArray) return guarded(() => this.send(`[${encoded.join(',')}]`, undefined, ctx));
    // One request per alert: the uuid header and failure reasons need the alert (a parse is small next to a request).
    return guarded(() => {
      const alerts = encoded.map((body) => JSON.parse(body) as Alert);
      return deliverInOrder(alerts, (alert, i) => this.send(encoded[i], alert.uuid, ctx));
    });
  }

  private renderChecked(alert: Alert): string | DeliveryResult {
    const body = this.render(alert);
    if (this.json && this.settings.bodyTemplate !== undefined) {
      try {
        JSON.parse(body);
      } catch (e) {
        return { kind: 'permanent', reason: `webhook bodyTemplate rendered invalid JSON for alert ${alert.uuid}: ${(e as Error).message}` };
      }
    }
    return body;
  }

  private async send(body: string, alertId: string | undefined, ctx: DeliveryContext): Promise<DeliveryResult> {
    const { settings } = this;
    if (alertId !== undefined) {
      // The hub refuses such uuids at ingest; jobs queued before that check, or
      // alerts from other producers, still reach here. This alert's failure only:
      // a thrown ERR_INVALID_CHAR would otherwise read as a failure of the batch.
      try {
        validateHeaderValue('x-peregrine-alert-id', alertId);
      } catch (e) {
        return { kind: 'permanent', reason: `alert uuid ${JSON.stringify(alertId.slice(0, 60))} cannot be sent in the X-Peregrine-Alert-Id header (${(e as Error).message}); fix the sender's uuid and replay` };
      }
    }
    let headers = this.baseHeaders;
    if (alertId !== undefined || settings.hmacSecret !== undefined) {
      const extra: Record<string, string> = { ...headers };
      if (alertId !== undefined) extra['x-peregrine-alert-id'] = alertId;
      if (settings.hmacSecret !== undefined) extra[settings.hmacHeader.toLowerCase()] = webhookSignature(settings.hmacSecret, body);
      headers = extra;
    }
    const result = await this.client.request({ method: settings.method, headers, body }, ctx.signal, settings.timeoutMs);
    if (result.kind !== 'delivered') this.deps.logger.warn({ alertId, result: result.kind, reason: result.reason }, 'webhook delivery failed');
    return result;
  }
}
