import { fieldsHoldBigInt, stringifyJsonExact } from '@peregrine/alert';
import type { Alert } from '@peregrine/alert';
import { deliverInOrder } from '../batch.ts';
import { HttpClient } from '../http/http-client.ts';
import { USER_AGENT } from '../http/user-agent.ts';
import type { DeliveryContext, DeliveryResult, Sink } from '../sink.ts';
import type { SinkDeps } from '../sink-module.ts';
import { compileTemplate } from '../template/template.ts';
import { buildTriggerEvent, pagerDutyEnqueueUrl } from './pagerduty-event.ts';
import type { PagerDutyTemplates } from './pagerduty-event.ts';
import type { PagerDutySettings } from './pagerduty-settings.ts';

/**
 * One Events API v2 `trigger` per alert, in order, stopping at the first
 * failure. Re-sending after a partial failure is safe: PagerDuty folds
 * events with the same dedup_key into the open incident.
 */
export class PagerDutySink implements Sink {
  readonly type = 'pagerduty';
  /** The resolved endpoint (region or baseUrl override). */
  readonly url: string;
  private readonly templates: PagerDutyTemplates;
  private readonly client: HttpClient;

  constructor(
    private readonly settings: PagerDutySettings,
    private readonly deps: SinkDeps,
  ) {
    this.url = pagerDutyEnqueueUrl(settings);
    this.client = new HttpClient('pagerduty', this.url, settings.tls);
    this.templates = {
      dedupKey: compileTemplate(settings.dedupKeyTemplate),
      summary: compileTemplate(settings.summaryTemplate),
      source: compileTemplate(settings.sourceTemplate),
      component: compileTemplate(settings.componentTemplate),
      group: compileTemplate(settings.groupTemplate),
    };
  }

  deliver(alerts: readonly Alert[], ctx: DeliveryContext): Promise<DeliveryResult> {
    return deliverInOrder(alerts, async (alert) => {
      // custom_details carries the output fields: integers beyond 2^53 keep every digit.
      const body = stringifyJsonExact(buildTriggerEvent(alert, this.settings, this.templates), fieldsHoldBigInt(alert.output_fields));
      const headers = { 'content-type': 'application/json', 'user-agent': USER_AGENT };
      const result = await this.client.request({ method: 'POST', headers, body }, ctx.signal, this.settings.timeoutMs);
      if (result.kind !== 'delivered') this.deps.logger.warn({ alertId: alert.uuid, result: result.kind, reason: result.reason }, 'pagerduty delivery failed');
      return result;
    });
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
