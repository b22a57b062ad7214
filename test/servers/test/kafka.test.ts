import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { startTestKafka } from '../../support/index.ts';
import type { TestKafka } from '../../support/index.ts';
import { assertGroupGone, groupAlive } from './process-gone.ts';

let kafka: TestKafka;

before(async () => {
  kafka = await startTestKafka();
}, { timeout: 600_000 });

after(async () => {
  await kafka?.stop();
});

test('a keyed, idempotent, gzip message with headers goes through the real broker and back to a consumer group', { timeout: 300_000 }, async () => {
  assert.match(kafka.broker, /^127\.0\.0\.1:\d+$/);
  const client = new Kafka({ clientId: 'peregrine-smoke', brokers: [...kafka.brokers], logLevel: logLevel.NOTHING });
  const admin = client.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'falco-smoke', numPartitions: 2, replicationFactor: 1 }], waitForLeaders: true });
  const metadata = await admin.fetchTopicMetadata({ topics: ['falco-smoke'] });
  assert.equal(metadata.topics[0]?.partitions.length, 2);
  await admin.disconnect();

  const producer = client.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const [ack] = await producer.send({
    topic: 'falco-smoke',
    acks: -1,
    compression: CompressionTypes.GZIP,
    messages: [{ key: 'Terminal shell in container:web-1', value: JSON.stringify({ rule: 'Terminal shell in container', priority: 'Notice' }), headers: { priority: 'Notice', uuid: 'u-1' } }],
  });
  assert.equal(ack?.errorCode, 0);
  await producer.disconnect();

  const consumer = client.consumer({ groupId: 'peregrine-smoke' });
  await consumer.connect();
  await consumer.subscribe({ topic: 'falco-smoke', fromBeginning: true });
  const received = await new Promise<{ key: string; value: string; priority: string; uuid: string }>((resolve, reject) => {
    consumer
      .run({
        eachMessage: async ({ message }) => {
          resolve({
            key: message.key?.toString() ?? '',
            value: message.value?.toString() ?? '',
            priority: message.headers?.priority?.toString() ?? '',
            uuid: message.headers?.uuid?.toString() ?? '',
          });
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  assert.deepEqual(received, {
    key: 'Terminal shell in container:web-1',
    value: JSON.stringify({ rule: 'Terminal shell in container', priority: 'Notice' }),
    priority: 'Notice',
    uuid: 'u-1',
  });
});

test('stop() leaves no broker process behind', { timeout: 120_000 }, async () => {
  assert.equal(groupAlive(kafka.pid), true);
  await kafka.stop();
  assertGroupGone(kafka.pid, 'Kafka');
});
