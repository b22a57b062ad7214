// One suite for every sink type: the promises of the Sink interface.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Alert } from '@peregrine/alert';
import { startTestKafka, startTestLambda, startTestOpenSearch } from '@peregrine/testkit';
import type { TestKafka, TestLambda, TestOpenSearch } from '@peregrine/testkit';
import { StdoutSink, createSink, sinkModules, stdoutSettingsSchema } from '../src/index.ts';
import type { Sink } from '../src/index.ts';
import { alertWith, ctx, deps, falcoAlert } from './support/fixtures.ts';
import { HttpReceiver } from './support/http-receiver.ts';

/** Odd but valid alerts every sink must deliver. */
const ODD_ALERTS: Alert[] = [
  alertWith({ uuid: 'empty', tags: [], hostname: '', output_fields: {}, output: '' }),
  alertWith({ uuid: 'unicode', rule: 'Règle « spéciale » 🚨', output: 'ünïcödé \u0000 control \u001b[31m', output_fields: { 'proc.args': ['a', 'b'], 'fd.num': 3, 'evt.is_open_read': true, 'k8s.pod.name': null } }),
  alertWith({ uuid: 'no-prefix', output: 'plain output with "quotes" & <angle>', time: '2024-06-10T06:13:20Z', priority: 'Debug' }),
];

/** Not an Alert at all (what a bug upstream could hand over): must not throw. */
const BROKEN = { uuid: 'broken', rule: 'x', priority: 'Warning' } as unknown as Alert;

describe('sink conformance (every type)', () => {
  let receiver: HttpReceiver;
  let dir: string;
  // Destinations with a server of their own get the real one.
  let kafka: TestKafka;
  let openSearch: TestOpenSearch;
  let lambda: TestLambda;
  const sinks: Sink[] = [];
  const make: Record<string, () => Sink> = {};

  before(async () => {
    receiver = await HttpReceiver.start();
    receiver.fallback = { status: 202, body: '{"status":"success"}' };
    dir = await mkdtemp(join(tmpdir(), 'peregrine-sink-conformance-'));
    const build = (type: string, settings: Record<string, unknown>) => () => {
      const sink = createSink(type, settings, deps);
      sinks.push(sink);
      return sink;
    };
    make.slack = build('slack', { webhookUrl: `${receiver.url}/slack` });
    make.pagerduty = build('pagerduty', { routingKey: 'k', baseUrl: receiver.url });
    make.webhook = build('webhook', { address: `${receiver.url}/hook` });
    make.file = build('file', { path: join(dir, 'alerts.jsonl'), fsync: false });
    make.stdout = () => new StdoutSink(stdoutSettingsSchema.parse({}), new PassThrough().resume());
    [kafka, openSearch, lambda] = await Promise.all([startTestKafka(), startTestOpenSearch(), startTestLambda({ handlerModule: 'packages/sinks/test/fixtures/lambda-handler.mjs' })]);
    // The emulator takes one invocation at a time: these tests invoke sequentially.
    process.env.AWS_ACCESS_KEY_ID ??= 'AKIDPEREGRINETEST';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'peregrine-test-secret';
    make.lambda = build('lambda', { functionName: lambda.functionName, region: 'us-east-1', endpoint: lambda.endpoint });
    make.opensearch = build('opensearch', { url: openSearch.url, index: 'conformance', numberOfReplicas: 0 });
    make.kafka = build('kafka', { brokers: kafka.brokers, topic: 'conformance', allowAutoTopicCreation: true });
  }, { timeout: 600_000 });
  after(async () => {
    await Promise.all(sinks.map((s) => s.close()));
    await receiver.stop();
    await rm(dir, { recursive: true, force: true });
    await Promise.all([kafka?.stop(), openSearch?.stop(), lambda?.stop()]);
  });

  it('the suite covers every registered type', () => {
    assert.deepEqual(Object.keys(make).sort(), Object.keys(sinkModules).sort());
  });

  for (const type of Object.keys(sinkModules)) {
    describe(type, () => {
      it('reports its type and delivers a real Falco alert and odd-but-valid alerts', async () => {
        const sink = make[type]();
        assert.equal(sink.type, type);
        assert.deepEqual(await sink.deliver([falcoAlert, ...ODD_ALERTS], ctx()), { kind: 'delivered' });
      });

      it('an empty batch is delivered without sending anything', async () => {
        const before = receiver.requests.length;
        assert.deepEqual(await make[type]().deliver([], ctx()), { kind: 'delivered' });
        assert.equal(receiver.requests.length, before);
      });

      it('returns retryable, without sending, when the hub has already aborted', async () => {
        const before = receiver.requests.length;
        const controller = new AbortController();
        controller.abort(new Error('shutting down'));
        const result = await make[type]().deliver([falcoAlert], ctx(controller.signal));
        assert.equal(result.kind, 'retryable', JSON.stringify(result));
        assert.equal(receiver.requests.length, before);
      });

      it('never throws, even for input that is not an Alert', async () => {
        const result = await make[type]().deliver([BROKEN], ctx());
        assert.ok(['delivered', 'permanent'].includes(result.kind), JSON.stringify(result));
      });

      it('close() resolves and can be called after use', async () => {
        const sink = make[type]();
        await sink.deliver([falcoAlert], ctx());
        await sink.close();
      });
    });
  }
});
