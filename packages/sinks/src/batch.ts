import type { Alert } from '@peregrine/alert';
import type { DeliveryResult } from './sink.ts';

/**
 * Delivers a batch one alert at a time, in order, and stops at the first
 * failure. `delivered` in the result says how many leading alerts went
 * through, so the failure belongs to alert number `delivered` alone: the
 * Peregrine hub dead-letters that one on a permanent failure and goes on with
 * the alerts after it, and on a retryable one resubmits only
 * `alerts.slice(delivered)`. A hub that ignores `delivered` and retries the
 * whole batch is also correct, at the cost of duplicates (receivers that
 * deduplicate, PagerDuty by dedup_key and webhooks by the alert uuid, absorb
 * them; Slack shows them).
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
 * does not have the Alert shape, a value Node refuses in a request, a bug)
 * into a permanent failure, so a sink keeps its "never throws" promise.
 * Retrying the same input cannot help. Inside `deliverInOrder` the step is
 * one alert, so the failure is that alert's (with `delivered` before it).
 */
export async function guarded(step: () => Promise<DeliveryResult>): Promise<DeliveryResult> {
  try {
    return await step();
  } catch (error) {
    return { kind: 'permanent', reason: `could not deliver: ${error instanceof Error ? error.message : String(error)}` };
  }
}
