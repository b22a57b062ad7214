// The Kafka sink against a real broker (Apache Kafka 4.4.0, KRaft, test/support).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { consumeKafkaMessages, freeLoopbackPort, startTestKafka } from '@peregrine/testkit';
import type { ConsumedKafkaMessage, TestKafka } from '@peregrine/testkit';
import { SinkConfigError, createSink, kafkaSettingsSchema } from '../src/index.ts';
import type { Sink } from '../src/index.ts';
import { alertWith, ctx, deps, falcoAlert } from './support/fixtures.ts';

/** Reads every message of `topics` from the beginning until `count` arrived (new group each time). */
function consume(brokers: readonly string[], topics: readonly string[], count: number, timeoutMs = 60_000): Promise<ConsumedKafkaMessage[]> {
  return consumeKafkaMessages(brokers, topics, count, timeoutMs);
}

async function createTopics(brokers: readonly string[], topics: readonly string[], partitions = 3): Promise<void> {
  const admin = new Kafka({ clientId: 'sink-test-admin', brokers: [...brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })), waitForLeaders: true });
  await admin.disconnect();
}

/** Resolves once every thread of `pid` is stopped (state T in /proc), or throws after 30 s naming those that are not. */
async function everyThreadStopped(pid: number): Promise<void> {
  const running = () =>
    readdirSync(`/proc/${pid}/task`).filter((tid) => {
      try {
        return !/^\d+ \(.*\) [Tt] /.test(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      } catch {
        return false; // the thread ended
      }
    });
  const deadline = Date.now() + 30_000;
  for (let left = running(); left.length > 0; left = running()) {
    if (Date.now() > deadline) throw new Error(`the broker (pid ${pid}) did not stop within 30 s of SIGSTOP; threads still running: ${left.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('kafka sink (real broker)', () => {
  let kafka: TestKafka;
  const sinks: Sink[] = [];
  const make = (settings: Record<string, unknown>) => {
    const sink = createSink('kafka', { brokers: kafka.brokers, ...settings }, deps, 'kafka-test');
    sinks.push(sink);
    return sink;
  };

  before(async () => {
    kafka = await startTestKafka();
    await createTopics(kafka.brokers, ['falco', 'falco-warning', 'falco-critical', 'falco-abandoned']);
  }, { timeout: 600_000 });
  after(async () => {
    await Promise.all(sinks.map((s) => s.close()));
    await kafka?.stop();
  });

  it('one batch becomes messages with the key template, the four headers and the exact Falcosidekick JSON as value', { timeout: 120_000 }, async () => {
    const onPod = alertWith({ uuid: 'k-1' });
    const onHost = alertWith({ uuid: 'k-2', output_fields: { ...falcoAlert.output_fields, 'k8s.pod.name': null, 'evt.time': 1718000000123456789n } });
    const sink = make({ topic: 'falco' });
    assert.deepEqual(await sink.deliver([onPod, onHost], ctx()), { kind: 'delivered' });
    const got = await consume(kafka.brokers, ['falco'], 2);
    const byUuid = new Map(got.map((m) => [m.headers.uuid, m]));
    assert.equal(byUuid.get('k-1')?.key, 'Read sensitive file untrusted|web-7d4b9c6f5-x2k8q');
    assert.equal(byUuid.get('k-2')?.key, 'Read sensitive file untrusted|ip-10-0-12-34', 'no pod: the host');
    assert.deepEqual(byUuid.get('k-1')?.headers, { priority: 'Warning', rule: 'Read sensitive file untrusted', source: 'syscall', uuid: 'k-1' });
    const value = byUuid.get('k-2')?.value ?? '';
    assert.match(value, /^\{"uuid":"k-2","output":/, 'Falcosidekick key order');
    assert.match(value, /"evt\.time":1718000000123456789[,}]/, 'a bigint field keeps every digit');
  });

  it('a topic template sends one batch to several topics; gzip and a keyless message (placed by uuid) work', { timeout: 120_000 }, async () => {
    const sink = make({ topic: 'falco-{{ priority | lower }}', compression: 'GZIP', keyTemplate: '' });
    const batch = [alertWith({ uuid: 't-1', priority: 'Warning' }), alertWith({ uuid: 't-2', priority: 'Critical' }), alertWith({ uuid: 't-3', priority: 'Critical' })];
    assert.deepEqual(await sink.deliver(batch, ctx()), { kind: 'delivered' });
    const got = await consume(kafka.brokers, ['falco-warning', 'falco-critical'], 3);
    assert.deepEqual(got.map((m) => `${m.topic}:${m.headers.uuid}:${m.key}`).sort(), ['falco-critical:t-2:null', 'falco-critical:t-3:null', 'falco-warning:t-1:null']);
  });

  it('deliveries the hub gave up on (before or during their produce) and their retries leave exactly one copy', { timeout: 120_000 }, async () => {
    const sink = make({ topic: 'falco-abandoned' });
    // Connected first, so the produces below go straight to the broker.
    assert.deepEqual(await sink.deliver([alertWith({ uuid: 'a-0' })], ctx()), { kind: 'delivered' });

    // Given up before its turn: the abort comes in the same tick as the call, so nothing is sent.
    const before = new AbortController();
    const early = sink.deliver([alertWith({ uuid: 'a-1' })], ctx(before.signal));
    before.abort(new Error('delivery timeout'));
    const earlyResult = await early;
    assert.equal(earlyResult.kind, 'retryable');
    assert.match(earlyResult.kind === 'retryable' ? earlyResult.reason : '', /abandoned \(delivery timeout\)/);

    // Given up during its produce: the broker is frozen (SIGSTOP) while the
    // request is on the wire, the hub gives up, the broker then writes it.
    // A real timer race would decide this by chance on a loaded machine.
    const batch = [alertWith({ uuid: 'a-2' }), alertWith({ uuid: 'a-3' })];
    const during = new AbortController();
    process.kill(kafka.pid, 'SIGSTOP');
    let resumed = false;
    try {
      // SIGSTOP is delivered to each of the JVM's threads in turn (one busy in the kernel stops
      // on its way out): the produce starts only once every one of them is stopped.
      await everyThreadStopped(kafka.pid);
      const inFlight = sink.deliver(batch, ctx(during.signal));
      await new Promise((resolve) => setTimeout(resolve, 300));
      during.abort(new Error('delivery timeout'));
      const duringResult = await inFlight;
      assert.equal(duringResult.kind, 'retryable', 'the hub stopped waiting while the broker was frozen');
      // The hub's retry of the same batch, queued behind the produce still on the wire.
      const retry = sink.deliver(batch, ctx());
      process.kill(kafka.pid, 'SIGCONT');
      resumed = true;
      assert.deepEqual(await retry, { kind: 'delivered' });
    } finally {
      if (!resumed) process.kill(kafka.pid, 'SIGCONT');
    }
    assert.deepEqual(await sink.deliver([alertWith({ uuid: 'a-1' })], ctx()), { kind: 'delivered' }, 'the retry of the one given up before its turn');
    assert.deepEqual(await sink.deliver([alertWith({ uuid: 'a-4' })], ctx()), { kind: 'delivered' });
    const got = await consume(kafka.brokers, ['falco-abandoned'], 5);
    assert.deepEqual(got.map((m) => m.headers.uuid).sort(), ['a-0', 'a-1', 'a-2', 'a-3', 'a-4']);
    // Every message ever written to the topic: a second copy would show here.
    const admin = new Kafka({ clientId: 'sink-test-admin', brokers: [...kafka.brokers], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets('falco-abandoned');
    await admin.disconnect();
    assert.equal(offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0), 5);
  });

  it('a broker that is away is a retryable failure naming it', { timeout: 60_000 }, async () => {
    const port = await freeLoopbackPort();
    const sink = createSink('kafka', { brokers: `127.0.0.1:${port}`, topic: 'falco', connectionTimeoutMs: 500 }, deps, 'away');
    sinks.push(sink);
    const result = await sink.deliver([falcoAlert], ctx());
    assert.equal(result.kind, 'retryable', JSON.stringify(result));
    assert.match(result.kind === 'retryable' ? result.reason : '', new RegExp(`127\\.0\\.0\\.1:${port}`));
  });

  it('an already aborted delivery sends nothing and is retryable', async () => {
    const controller = new AbortController();
    controller.abort(new Error('shutting down'));
    const result = await make({ topic: 'falco' }).deliver([falcoAlert], ctx(controller.signal));
    assert.equal(result.kind, 'retryable');
  });
});

describe('kafka settings', () => {
  it('takes Falcosidekick\'s comma list of brokers, upper-case compression and SASL names', () => {
    const s = kafkaSettingsSchema.parse({ brokers: 'b1:9092, b2:9093', topic: 'falco', compression: 'GZIP', sasl: { mechanism: 'SCRAM_SHA512', username: 'u', password: 'p' } });
    assert.deepEqual(s.brokers, ['b1:9092', 'b2:9093']);
    assert.equal(s.compression, 'gzip');
    assert.equal(s.sasl?.mechanism, 'scram-sha-512');
    assert.equal(s.requiredAcks, 'all');
    assert.equal(s.keyTemplate, '{{ rule }}|{{ output_fields["k8s.pod.name"] | default hostname }}');
  });

  it('refuses what it cannot do, naming the key and the fix', () => {
    try {
      createSink('kafka', { brokers: 'b1', topic: '{{ rle }}', compression: 'snappy', sasl: { mechanism: 'oauth', username: 'u', password: 'p' } }, deps, 'siem');
      assert.fail('expected SinkConfigError');
    } catch (e) {
      assert.ok(e instanceof SinkConfigError);
      const text = e.issues.map((i) => `${i.path}: ${i.message}`).join('\n');
      assert.match(text, /brokers\.0: must be host:port/);
      assert.match(text, /topic: template error .*unknown field 'rle'/);
      assert.match(text, /compression: must be none or gzip/);
      assert.match(text, /sasl\.mechanism: must be plain, scram-sha-256 or scram-sha-512/);
    }
  });
});
