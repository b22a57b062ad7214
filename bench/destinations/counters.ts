// How bench/destinations counts delivered alerts: at the server, never at the hub.
//  - webhook: the receiver process's own count (GET /count);
//  - Kafka: the sum of the topic's partition end offsets (every message the broker acknowledged);
//  - OpenSearch: documents indexed (`_stats/indexing` index_total, no refresh needed, cheap to poll),
//    and after the phase `_count` after `_refresh`: what a search sees.
import { Kafka, logLevel } from 'kafkajs';
import type { Admin } from 'kafkajs';

/** Alerts the server has as delivered so far, and (when the server knows it) when the last one arrived. */
export interface Count {
  readonly delivered: number;
  /** Epoch ms of the last arrival, when the server records it. */
  readonly lastAt?: number;
}

export interface DeliveryCounter {
  /** What the progress polls read (cheap). */
  count(): Promise<Count>;
  /** What a reader of the server would see at the end (may cost more: a refresh). */
  finalCount(): Promise<number>;
  close(): Promise<void>;
}

export function receiverCounter(url: string): DeliveryCounter {
  const count = async (): Promise<Count> => {
    const answer = (await (await fetch(`${url}/count`)).json()) as { delivered: number; lastAt: number };
    return { delivered: answer.delivered, lastAt: answer.lastAt };
  };
  return { count, finalCount: async () => (await count()).delivered, close: async () => undefined };
}

/** Creates `topic` with `partitions` partitions (replication 1) and counts its messages by end offsets. */
export async function kafkaTopicCounter(brokers: readonly string[], topic: string, partitions: number): Promise<DeliveryCounter> {
  const admin: Admin = new Kafka({ clientId: 'peregrine-bench-counter', brokers: [...brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const created = await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
  if (!created) throw new Error(`bench: Kafka topic ${topic} already exists (names are per phase)`);
  const count = async (): Promise<Count> => {
    const offsets = await admin.fetchTopicOffsets(topic);
    return { delivered: offsets.reduce((n, p) => n + Number(p.high), 0) };
  };
  return {
    count,
    finalCount: async () => (await count()).delivered,
    close: async () => {
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    },
  };
}

/** Counts documents in the indices `<index>-*` of an OpenSearch node. */
export function openSearchCounter(url: string, index: string): DeliveryCounter {
  const pattern = `${index}-*`;
  const get = async (path: string, method = 'GET'): Promise<unknown> => {
    const response = await fetch(`${url}/${path}`, { method });
    if (!response.ok) throw new Error(`bench: OpenSearch ${method} /${path} answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
    return response.json();
  };
  return {
    async count() {
      // Before the first document the pattern matches no index: _stats then answers an empty _all.
      const stats = (await get(`${pattern}/_stats/indexing?allow_no_indices=true`)) as { _all?: { primaries?: { indexing?: { index_total?: number } } } };
      return { delivered: stats._all?.primaries?.indexing?.index_total ?? 0 };
    },
    async finalCount() {
      await get(`${pattern}/_refresh?allow_no_indices=true`, 'POST');
      const answer = (await get(`${pattern}/_count?allow_no_indices=true`)) as { count: number };
      return answer.count;
    },
    async close() {
      // Each phase writes its own indices and template (named after the index): drop both, so the node carries nothing into the next phase.
      await fetch(`${url}/${pattern}`, { method: 'DELETE' }).catch(() => undefined);
      await fetch(`${url}/_index_template/${index}`, { method: 'DELETE' }).catch(() => undefined);
    },
  };
}
