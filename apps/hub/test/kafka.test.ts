// The hub into a real Kafka broker (4.4.0, KRaft): messages consumed back, an outage drill,
// and Falcosidekick's KAFKA_* variables.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { consumeKafkaMessages, startTestKafka, startTestRedis } from '@peregrine/testkit';
import type { ConsumedKafkaMessage, TestKafka, TestRedis } from '@peregrine/testkit';
import { loadHubConfig, unreadSidekickVariables } from '../src/index.ts';
import { eventually, falcoAlert, issuesOf, startTestHub } from './support.ts';
import type { TestHub } from './support.ts';

function client(kafka: TestKafka): Kafka {
  return new Kafka({ clientId: 'hub-test', brokers: [...kafka.brokers], logLevel: logLevel.NOTHING });
}

/** Every message of `topic`, from the beginning, once `count` have arrived. */
function consume(kafka: TestKafka, topic: string, count: number, timeoutMs = 120_000): Promise<ConsumedKafkaMessage[]> {
  return consumeKafkaMessages(kafka.brokers, [topic], count, timeoutMs);
}

/** Messages ever written to `topic` (high watermark − low, summed over partitions): a duplicate shows here. */
async function messagesInTopic(kafka: TestKafka, topic: string): Promise<number> {
  const admin = client(kafka).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}

async function createTopics(kafka: TestKafka, topics: readonly string[], partitions: number): Promise<void> {
  const admin = client(kafka).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })), waitForLeaders: false });
    // Leaders of a fresh broker's topics come a moment later.
    await eventually(async () => {
      const metadata = await admin.fetchTopicMetadata({ topics: [...topics] }).catch(() => undefined);
      return metadata !== undefined && metadata.topics.every((tm) => tm.partitions.length === partitions && tm.partitions.every((p) => p.leader >= 0));
    }, 60_000, 'topic leaders');
  } finally {
    await admin.disconnect();
  }
}

describe('hub → kafka (real broker)', () => {
  let redis: TestRedis;
  let kafka: TestKafka;
  let t: TestHub;

  before(async () => {
    [redis, kafka] = await Promise.all([startTestRedis(), startTestKafka()]);
    await createTopics(kafka, ['falco', 'falco-drill'], 3);
    t = await startTestHub(redis.url, {
      // Long enough to ride out a 30 s broker outage; short backoffs so it catches up soon after.
      delivery: { attempts: 200, backoffInitialMs: 200, backoffMaxMs: 2_000, timeoutMs: 8_000 },
      destinations: {
        siem: { type: 'kafka', settings: { brokers: kafka.brokers, topic: 'falco', connectionTimeoutMs: 1_000 }, match: { rules: ['siem *'] } },
        drill: { type: 'kafka', settings: { brokers: kafka.brokers, topic: 'falco-drill', connectionTimeoutMs: 1_000, compression: 'gzip' }, match: { rules: ['drill *'] } },
      },
    });
  }, { timeout: 600_000 });

  after(async () => {
    await t?.hub.close();
    await Promise.all([kafka?.stop(), redis?.stop()]);
  });

  test('alerts posted to the hub are consumed back with the key, the headers and the alert as body', { timeout: 180_000 }, async () => {
    const onPod = falcoAlert({ rule: 'siem shell', uuid: '11111111-0000-4000-8000-000000000001', output_fields: { ...(falcoAlert().output_fields as object), 'evt.time': 1718000000123456789n.toString() } });
    const onHost = falcoAlert({ rule: 'siem read', uuid: '11111111-0000-4000-8000-000000000002', priority: 'Critical', hostname: 'node-7', output_fields: { 'proc.name': 'cat', 'k8s.pod.name': null } });
    // evt.time as Falco prints it: an exact 19-digit integer, which must reach Kafka unrounded.
    const body = `[${JSON.stringify(onPod).replace('"evt.time":"1718000000123456789"', '"evt.time":1718000000123456789')},${JSON.stringify(onHost)}]`;
    assert.equal((await t.post('/v1/alerts', body)).status, 202);
    const got = await consume(kafka, 'falco', 2);
    const byUuid = new Map(got.map((m) => [m.headers.uuid, m]));
    const pod = byUuid.get('11111111-0000-4000-8000-000000000001');
    const host = byUuid.get('11111111-0000-4000-8000-000000000002');
    assert.ok(pod && host, JSON.stringify(got));
    assert.equal(pod.key, 'siem shell|web-1');
    assert.equal(host.key, 'siem read|node-7', 'no pod: the hostname');
    assert.deepEqual(host.headers, { priority: 'Critical', rule: 'siem read', source: 'syscall', uuid: '11111111-0000-4000-8000-000000000002' });
    assert.match(pod.value, /"evt\.time":1718000000123456789[,}]/);
    const decoded = JSON.parse(host.value) as Record<string, unknown>;
    assert.deepEqual(Object.keys(decoded), ['uuid', 'output', 'priority', 'rule', 'time', 'output_fields', 'source', 'tags', 'hostname']);
    assert.equal(decoded.hostname, 'node-7');
    assert.equal(await messagesInTopic(kafka, 'falco'), 2);
  });

  test('drill: the broker stops for 30 s under load and comes back (same log dir and port): every accepted alert arrives once', { timeout: 600_000 }, async () => {
    const accepted: string[] = [];
    let sending = true;
    let sequence = 0;
    const sender = (async () => {
      while (sending) {
        const batch = Array.from({ length: 10 }, () => falcoAlert({ rule: `drill ${sequence % 7}`, uuid: `22222222-0000-4000-8000-${String(sequence++).padStart(12, '0')}` }));
        const res = await t.post('/v1/alerts', batch);
        if (res.status === 202) accepted.push(...batch.map((a) => a.uuid as string));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await eventually(() => accepted.length >= 200, 60_000, '200 alerts accepted before the outage');
    await kafka.shutdown();
    const downAt = accepted.length;
    await new Promise((r) => setTimeout(r, 30_000));
    assert.ok(accepted.length > downAt, 'the hub kept accepting while the broker was away');
    await kafka.restart();
    await eventually(() => accepted.length >= downAt + 600, 120_000, 'load after the restart');
    sending = false;
    await sender;
    const metricsDelivered = async () => Number(/peregrine_hub_alerts_delivered_total\{destination="drill"\} (\d+)/.exec((await t.get('/metrics')).text)?.[1] ?? 0);
    await eventually(async () => (await metricsDelivered()) >= accepted.length, 180_000, 'every accepted alert delivered');
    const got = await consume(kafka, 'falco-drill', accepted.length, 180_000);
    const seen = new Map<string, number>();
    for (const m of got) seen.set(m.headers.uuid, (seen.get(m.headers.uuid) ?? 0) + 1);
    assert.deepEqual([...seen.keys()].sort(), [...accepted].sort(), 'every accepted alert arrived');
    assert.equal(await messagesInTopic(kafka, 'falco-drill'), accepted.length, 'no alert was written twice');
    assert.equal(JSON.parse((await t.get('/v1/deadletter?destination=drill')).text).total, 0);
  });
});

describe('Falcosidekick KAFKA_* variables', () => {
  test('become a kafka destination with its minimum priority; TLS, SASL, acks and compression carried over', () => {
    const env = {
      KAFKA_HOSTPORT: 'b1:9092,b2:9092',
      KAFKA_TOPIC: 'falco',
      KAFKA_MINIMUMPRIORITY: 'error',
      KAFKA_SASL: 'SCRAM_SHA256',
      KAFKA_USERNAME: 'falco',
      KAFKA_PASSWORD: 's3cret',
      KAFKA_TLS: 'true',
      KAFKA_REQUIREDACKS: 'NONE',
      KAFKA_COMPRESSION: 'GZIP',
      KAFKA_CLIENTID: 'node-1',
      KAFKA_TOPICCREATION: 'true',
      KAFKA_BALANCER: 'murmur2',
      TLSCLIENT_CACERTFILE: '/nonexistent/ca.crt',
    };
    const config = loadHubConfig(undefined, env);
    const kafka = config.destinations.kafka;
    assert.equal(kafka.type, 'kafka');
    assert.equal(kafka.match.minimumPriority, 'Error');
    assert.deepEqual(kafka.settings, {
      brokers: 'b1:9092,b2:9092',
      topic: 'falco',
      sasl: { mechanism: 'SCRAM_SHA256', username: 'falco', password: 's3cret' },
      // Falcosidekick's Kafka output takes neither TLSCLIENT_CACERTFILE nor other CA files.
      tls: {},
      requiredAcks: 'all',
      compression: 'GZIP',
      clientId: 'node-1',
      allowAutoTopicCreation: true,
    });
    // Read: no warning for them; KAFKA_BALANCER has no equivalent (partitioning is by key).
    assert.deepEqual(unreadSidekickVariables(env), ['KAFKA_BALANCER']);
  });

  test('a missing topic or a bad value is a start-up error naming the variable', () => {
    const missing = issuesOf(() => loadHubConfig(undefined, { KAFKA_HOSTPORT: 'b1:9092' }));
    assert.ok(missing.some((i) => /^destinations\.kafka.*topic/.test(i)), missing.join('\n'));
    const bad = issuesOf(() => loadHubConfig(undefined, { KAFKA_HOSTPORT: 'b1:9092', KAFKA_TOPIC: 'falco', KAFKA_COMPRESSION: 'SNAPPY', KAFKA_TLS: 'yes' }));
    assert.ok(bad.some((i) => /compression: must be none or gzip.*\(from KAFKA_COMPRESSION\)/.test(i)), bad.join('\n'));
    assert.ok(bad.some((i) => /tls.*\(from KAFKA_TLS\)/.test(i)), bad.join('\n'));
  });
});
