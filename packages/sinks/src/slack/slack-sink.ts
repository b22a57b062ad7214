import type { Agent as HttpAgent } from 'node:http';
import type { Alert } from '@peregrine/alert';
import { ErrorCode, IncomingWebhook } from '@slack/webhook';
import type { IncomingWebhookDefaultArguments } from '@slack/webhook';
import { deliverInOrder } from '../batch.ts';
import { keepAliveAgent } from '../http/http-client.ts';
import { describeError, resultFromError, resultFromStatus } from '../http/status-result.ts';
import type { DeliveryContext, DeliveryResult, Sink } from '../sink.ts';
import type { SinkDeps } from '../sink-module.ts';
import { compileTemplate } from '../template/template.ts';
import type { RenderTemplate } from '../template/template.ts';
import { buildSlackMessage } from './slack-payload.ts';
import type { SlackSettings } from './slack-settings.ts';

/** The parts of an axios error response that @slack/webhook wraps as `original`. */
interface HttpErrorResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, unknown>>;
  readonly data?: unknown;
}

function responseOf(error: unknown): HttpErrorResponse | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const original = (error as { original?: unknown }).original;
  if (typeof original !== 'object' || original === null) return undefined;
  const response = (original as { response?: unknown }).response;
  if (typeof response !== 'object' || response === null) return undefined;
  const status = (response as { status?: unknown }).status;
  return typeof status === 'number' ? (response as HttpErrorResponse) : undefined;
}

function headerText(value: unknown): string | undefined {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
}

/**
 * Posts one incoming-webhook message per alert through @slack/webhook, in
 * order, stopping at the first failure (see batch.ts for what that means).
 *
 * @slack/webhook 7 reports HTTP failures as an error with code
 * `slack_webhook_http_error` and the axios response under `original.response`
 * (status, headers, data), network failures and its own timeout as
 * `slack_webhook_request_error`. It has no AbortSignal, so the hub's signal
 * is raced against the send; the abandoned request still ends at `timeoutMs`.
 * Its built-in retries stay off (the default): the hub owns retries.
 */
export class SlackSink implements Sink {
  readonly type = 'slack';
  private readonly webhook: IncomingWebhook;
  private readonly agent: HttpAgent;
  private readonly messageFormat: RenderTemplate | undefined;

  constructor(
    private readonly settings: SlackSettings,
    private readonly deps: SinkDeps,
  ) {
    this.agent = keepAliveAgent(settings.webhookUrl, settings.tls);
    const defaults: IncomingWebhookDefaultArguments = { agent: this.agent, timeout: settings.timeoutMs };
    this.webhook = new IncomingWebhook(settings.webhookUrl, defaults);
    // IncomingWebhook keeps this object as the base of every payload and
    // strips `agent` but not `timeout`, which would be posted to Slack as a
    // message field. Its axios client already has the timeout, so drop it.
    delete defaults.timeout;
    this.messageFormat = settings.messageFormat === undefined ? undefined : compileTemplate(settings.messageFormat, { escape: 'slack' });
  }

  deliver(alerts: readonly Alert[], ctx: DeliveryContext): Promise<DeliveryResult> {
    return deliverInOrder(alerts, (alert) => this.deliverOne(alert, ctx.signal));
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  private async deliverOne(alert: Alert, signal: AbortSignal): Promise<DeliveryResult> {
    if (signal.aborted) return resultFromError('slack', signal.reason, signal);
    const message = buildSlackMessage(alert, this.settings, this.messageFormat);
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<DeliveryResult>((resolve) => {
      onAbort = () => resolve(resultFromError('slack', signal.reason, signal));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    const sent = this.webhook.send(message).then(
      (): DeliveryResult => ({ kind: 'delivered' }),
      (error: unknown): DeliveryResult => this.mapError(error),
    );
    try {
      const result = await Promise.race([sent, aborted]);
      if (result.kind !== 'delivered') this.deps.logger.warn({ alertId: alert.uuid, result: result.kind, reason: result.reason }, 'slack delivery failed');
      return result;
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  private mapError(error: unknown): DeliveryResult {
    const code = (error as { code?: unknown } | null)?.code;
    const response = responseOf(error);
    if (code === ErrorCode.HTTPError && response) {
      const data = response.data;
      return resultFromStatus('slack', {
        status: response.status,
        retryAfter: headerText(response.headers?.['retry-after']),
        body: typeof data === 'string' ? data : data === undefined ? undefined : JSON.stringify(data),
      });
    }
    // Request errors (no response: refused, reset, timeout) are retryable;
    // anything else is a bug in building the request, which a retry won't fix.
    if (code === ErrorCode.RequestError) return { kind: 'retryable', reason: `slack: ${describeError((error as { original?: unknown }).original ?? error)}` };
    return { kind: 'permanent', reason: `slack: ${describeError(error)}` };
  }
}
