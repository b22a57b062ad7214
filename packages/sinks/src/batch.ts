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
    const result = await guarded(() => deliverOne(alert, i));
    if (result.kind === 'delivered') continue;
    const where = alerts.length > 1 ? ` [alert ${i + 1} of ${alerts.length}, uuid ${alert.uuid}; ${i} delivered before it]` : '';
    return { ...result, reason: `${result.reason}${where}`, delivered: i };
  }
  return { kind: 'delivered' };
}

/**
 * Runs one delivery step and turns an unexpected exception (an alert that
 * does not have the Alert shape, a bug) into a permanent failure, so a sink
 * keeps its "never throws" promise. Retrying the same input cannot help.
 */
export async function guarded(step: () => Promise<DeliveryResult>): Promise<DeliveryResult> {
  try {
    return await step();
  } catch (error) {
    return { kind: 'permanent', reason: `could not deliver: ${error instanceof Error ? error.message : String(error)}` };
  }
}
