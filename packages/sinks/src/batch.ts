import type { Alert } from '@peregrine/alert';
import type { DeliveryResult } from './sink.ts';

/**
 * Delivers a batch one alert at a time, in order, and stops at the first
 * failure. The hub gets one result for the batch: on failure it retries the
 * whole batch, so alerts before the failed one are sent again. Receivers that
 * deduplicate (PagerDuty by dedup_key, webhooks by the alert uuid) absorb
 * that; Slack will show a duplicate message. `delivered` in the result says
 * how many leading alerts did go through, for a hub that wants to resubmit
 * only the rest.
 */
export async function deliverInOrder(
  alerts: readonly Alert[],
  deliverOne: (alert: Alert, index: number) => Promise<DeliveryResult>,
): Promise<DeliveryResult> {
  for (let i = 0; i < alerts.length; i++) {
    const alert = alerts[i];
    const result = await deliverOne(alert, i);
    if (result.kind === 'delivered') continue;
    const where = alerts.length > 1 ? ` [alert ${i + 1} of ${alerts.length}, uuid ${alert.uuid}; ${i} delivered before it]` : '';
    return { ...result, reason: `${result.reason}${where}`, delivered: i };
  }
  return { kind: 'delivered' };
}
