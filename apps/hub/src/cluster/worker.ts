import { AggregatorRegistry } from 'prom-client';
import type { Registry } from 'prom-client';
import { METRICS_REQUEST, isMetricsReply } from './messages.ts';

const METRICS_TIMEOUT_MS = 10_000;

/**
 * The hub-process side of a multi-process hub: its registry joins the
 * primary's sum, and its /metrics asks the primary for that sum (a scrape
 * lands on any one process, but must count all of them).
 */
export function clusterMetricsText(registry: Registry): () => Promise<string> {
  // Constructing an AggregatorRegistry installs prom-client's answer to the primary's collection requests.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  let nextId = 0;
  const waiting = new Map<number, { resolve(text: string): void; reject(error: Error): void }>();
  process.on('message', (message: unknown) => {
    if (!isMetricsReply(message)) return;
    const w = waiting.get(message.id);
    if (w === undefined) return;
    waiting.delete(message.id);
    if (message.text !== undefined) w.resolve(message.text);
    else w.reject(new Error(`metrics from the hub primary: ${message.error ?? 'no answer'}`));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`the hub primary did not answer for metrics within ${METRICS_TIMEOUT_MS} ms`));
      }, METRICS_TIMEOUT_MS);
      waiting.set(id, {
        resolve: (text) => {
          clearTimeout(timer);
          resolve(text);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      process.send?.({ type: METRICS_REQUEST, id });
    });
}
