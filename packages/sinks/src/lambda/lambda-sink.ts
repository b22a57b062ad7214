import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { InvokeCommandOutput } from '@aws-sdk/client-lambda';
import type { Alert } from '@peregrine/alert';
import { deliverInOrder } from '../batch.ts';
import { encodeAlert } from '../falco/falcosidekick-json.ts';
import { bodySnippet, describeError } from '../http/status-result.ts';
import type { DeliveryContext, DeliveryResult, Sink } from '../sink.ts';
import type { SinkDeps } from '../sink-module.ts';
import { compileTemplate } from '../template/template.ts';
import type { LambdaSettings } from './lambda-settings.ts';

/** Keys of Lambda's error document (a handler that threw); a payload of only these is a function error. */
const ERROR_DOCUMENT_KEYS = new Set(['errorType', 'errorMessage', 'stackTrace', 'trace', 'requestId', 'cause']);

/**
 * One Invoke per alert, in order (the batch stops at the first failure, as
 * the webhook): payload = the alert's Falcosidekick JSON or `payloadTemplate`.
 * One client for the sink's life (Falcosidekick builds one per event); the
 * SDK's own retries are off (the hub retries). Credentials and, unless set,
 * the region come from the standard AWS chain.
 *
 * A function error is a failed delivery, retried by the hub: Lambda reports
 * it with `X-Amz-Function-Error` (FunctionError), and an error document
 * (`{errorType, errorMessage, …}`) as the payload is taken as one too,
 * because not every endpoint sets the header (the Runtime Interface Emulator
 * does not). With `Event` Lambda only queues the event (202): the function's
 * result is not seen here (Lambda retries it twice on its own; configure a
 * destination or DLQ on the function for its failures).
 */
export class LambdaSink implements Sink {
  readonly type = 'lambda';
  private readonly client: LambdaClient;
  private readonly payload: (alert: Alert) => string;
  private readonly what: string;

  constructor(
    private readonly settings: LambdaSettings,
    private readonly deps: SinkDeps,
  ) {
    this.client = new LambdaClient({
      ...(settings.region === undefined ? {} : { region: settings.region }),
      ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
      maxAttempts: 1,
      requestHandler: { requestTimeout: settings.timeoutMs, connectionTimeout: Math.min(settings.timeoutMs, 5_000) },
    });
    this.payload = settings.payloadTemplate === undefined ? encodeAlert : compileTemplate(settings.payloadTemplate, { escape: 'json' });
    this.what = `lambda ${settings.functionName}${settings.qualifier === undefined ? '' : `:${settings.qualifier}`}`;
  }

  deliver(alerts: readonly Alert[], ctx: DeliveryContext): Promise<DeliveryResult> {
    if (alerts.length === 0) return Promise.resolve({ kind: 'delivered' });
    return deliverInOrder(alerts, (alert) => this.invoke(alert, ctx));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private async invoke(alert: Alert, ctx: DeliveryContext): Promise<DeliveryResult> {
    const { settings, what } = this;
    if (ctx.signal.aborted) return { kind: 'retryable', reason: `${what}: invocation aborted (${abortCause(ctx.signal)})` };
    const payload = this.payload(alert);
    if (settings.payloadTemplate !== undefined) {
      try {
        JSON.parse(payload);
      } catch (e) {
        return { kind: 'permanent', reason: `${what}: payloadTemplate rendered invalid JSON for alert ${alert.uuid}: ${(e as Error).message}` };
      }
    }
    let response: InvokeCommandOutput;
    try {
      response = await this.client.send(
        new InvokeCommand({
          FunctionName: settings.functionName,
          Qualifier: settings.qualifier,
          InvocationType: settings.invocationType,
          LogType: settings.invocationType === 'RequestResponse' ? settings.logType : undefined,
          Payload: Buffer.from(payload, 'utf8'),
        }),
        { abortSignal: ctx.signal },
      );
    } catch (error) {
      return this.failure(error, ctx.signal);
    }
    // No payload at all for Event (202).
    const text = response.Payload == null ? '' : Buffer.from(response.Payload).toString('utf8');
    const functionError = response.FunctionError ?? (isErrorDocument(text) ? 'error document' : undefined);
    if (functionError !== undefined) {
      const logTail = response.LogResult === undefined ? undefined : Buffer.from(response.LogResult, 'base64').toString('utf8').slice(-2_000);
      const reason = `${what} function error (${functionError}): ${describeErrorDocument(text)}`;
      this.deps.logger.warn({ alertId: alert.uuid, statusCode: response.StatusCode, reason, logTail }, 'lambda function failed');
      return { kind: 'retryable', reason };
    }
    // The function's answer is recorded: it is what an automated response did.
    this.deps.logger.info({ alertId: alert.uuid, statusCode: response.StatusCode, executedVersion: response.ExecutedVersion, result: bodySnippet(text) }, 'lambda invoked');
    return { kind: 'delivered' };
  }

  /** SDK errors: 408/429/5xx and network errors retryable; other Lambda refusals (404 no such function, 403, 400/413 payload) permanent. */
  private failure(error: unknown, signal: AbortSignal): DeliveryResult {
    const { what } = this;
    if (signal.aborted) return { kind: 'retryable', reason: `${what}: invocation aborted (${abortCause(signal)})` };
    const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode;
    const reason = `${what}: ${e.name ?? 'Error'}${status === undefined ? '' : ` (HTTP ${status})`}: ${describeError(error)}`;
    if (status === undefined) {
      // No answer from Lambda: the network, or the SDK's own set-up. A missing region is configuration, not weather.
      if (/region is missing/i.test(e.message ?? '')) return { kind: 'permanent', reason: `${reason}; set region in the destination or AWS_REGION` };
      return { kind: 'retryable', reason };
    }
    return status === 408 || status === 429 || status >= 500 ? { kind: 'retryable', reason } : { kind: 'permanent', reason };
  }
}

function abortCause(signal: AbortSignal): string {
  return signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'aborted');
}

/** Lambda's error document: an object of errorType/errorMessage (and stackTrace…) only. */
function isErrorDocument(text: string): boolean {
  if (!text.startsWith('{') || !text.includes('errorMessage')) return false;
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
    const keys = Object.keys(value);
    return typeof (value as { errorMessage?: unknown }).errorMessage === 'string' && keys.every((k) => ERROR_DOCUMENT_KEYS.has(k));
  } catch {
    return false;
  }
}

function describeErrorDocument(text: string): string {
  try {
    const doc = JSON.parse(text) as { errorType?: string; errorMessage?: string };
    if (typeof doc.errorMessage === 'string') return `${doc.errorType ?? 'Error'}: ${doc.errorMessage}`;
  } catch {
    // not JSON: the raw text
  }
  return bodySnippet(text) || '(no payload)';
}
