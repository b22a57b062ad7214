// The AWS Lambda sink against the Lambda Runtime Interface Emulator (a real invoke endpoint
// running a Node handler, test/support), and what the emulator cannot show (Event
// invocations, the X-Amz-Function-Error header, Lambda's refusals) against a scripted receiver.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestLambda } from '@peregrine/testkit';
import type { TestLambda } from '@peregrine/testkit';
import { createSink, lambdaSettingsSchema } from '../src/index.ts';
import type { Sink } from '../src/index.ts';
import { alertWith, ctx, deps } from './support/fixtures.ts';
import { recordedInvocations } from './fixtures/lambda-record.ts';
import { HttpReceiver, closedPortUrl } from './support/http-receiver.ts';

// The standard credential chain reads these (the emulator and the receiver ignore the signature).
process.env.AWS_ACCESS_KEY_ID = 'AKIDPEREGRINETEST';
process.env.AWS_SECRET_ACCESS_KEY = 'peregrine-test-secret';

const handlerModule = 'packages/sinks/test/fixtures/lambda-handler.mjs';

describe('lambda sink (Runtime Interface Emulator)', () => {
  let lambda: TestLambda;
  let dir: string;
  let record: string;
  const sinks: Sink[] = [];
  // The emulator crashes on two concurrent invocations: these tests invoke one at a time.
  const make = (settings: Record<string, unknown> = {}) => {
    const sink = createSink('lambda', { functionName: lambda.functionName, region: 'us-east-1', endpoint: lambda.endpoint, ...settings }, deps, 'responder');
    sinks.push(sink);
    return sink;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'peregrine-lambda-sink-'));
    record = join(dir, 'invocations.jsonl');
    lambda = await startTestLambda({ handlerModule, env: { PEREGRINE_LAMBDA_RECORD: record } });
  }, { timeout: 600_000 });
  after(async () => {
    await Promise.all(sinks.map((s) => s.close()));
    await lambda?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('invokes the function once per alert, in order, with the Falcosidekick JSON alert as the event', { timeout: 60_000 }, async () => {
    const batch = [alertWith({ uuid: 'l-1' }), alertWith({ uuid: 'l-2', hostname: 'node-2' })];
    assert.deepEqual(await make().deliver(batch, ctx()), { kind: 'delivered' });
    const events = recordedInvocations(record).map((r) => r.event);
    assert.deepEqual(events.map((e) => e.uuid), ['l-1', 'l-2']);
    assert.deepEqual(Object.keys(events[0]), ['uuid', 'output', 'priority', 'rule', 'time', 'output_fields', 'source', 'tags', 'hostname']);
    assert.equal(events[1].hostname, 'node-2');
  });

  it('a payload template shapes the event', { timeout: 60_000 }, async () => {
    const before = recordedInvocations(record).length;
    const sink = make({ payloadTemplate: '{"uuid": "{{ uuid }}", "pod": "{{ output_fields["k8s.pod.name"] }}", "tags": {{ tags | json }}}' });
    assert.deepEqual(await sink.deliver([alertWith({ uuid: 'l-3' })], ctx()), { kind: 'delivered' });
    assert.deepEqual(recordedInvocations(record)[before].event, { uuid: 'l-3', pod: 'web-7d4b9c6f5-x2k8q', tags: ['T1555', 'container', 'filesystem', 'host', 'maturity_stable', 'mitre_credential_access'] });
  });

  it('a handler that throws is a retryable failure with its error (the emulator sends no X-Amz-Function-Error: the error document says it)', { timeout: 60_000 }, async () => {
    const batch = [alertWith({ uuid: 'l-4' }), alertWith({ uuid: 'l-5', rule: 'fail on purpose' }), alertWith({ uuid: 'l-6' })];
    const result = await make().deliver(batch, ctx());
    assert.equal(result.kind, 'retryable', JSON.stringify(result));
    assert.equal(result.kind === 'retryable' ? result.delivered : undefined, 1);
    assert.match(result.kind === 'retryable' ? result.reason : '', /^lambda function function error \(error document\): TypeError: cannot respond to l-5 \[alert 2 of 3, uuid l-5; 1 delivered before it\]$/);
  });
});

describe('lambda sink (scripted endpoint: what the emulator cannot show)', () => {
  let receiver: HttpReceiver;
  before(async () => {
    receiver = await HttpReceiver.start();
  });
  after(() => receiver.stop());

  const arn = 'arn:aws:lambda:eu-west-1:123456789012:function:kill-pod';

  it('Event: the request names the function, qualifier and invocation type; Lambda\'s 202 is delivered', async () => {
    const sink = createSink('lambda', { functionName: arn, qualifier: 'live', invocationType: 'event', region: 'eu-west-1', endpoint: receiver.url }, deps, 'event');
    receiver.reply({ status: 202, body: '' });
    assert.deepEqual(await sink.deliver([alertWith({ uuid: 'e-1' })], ctx()), { kind: 'delivered' });
    const request = receiver.requests.at(-1);
    assert.ok(request);
    assert.equal(request.method, 'POST');
    assert.equal(decodeURIComponent(request.url), `/2015-03-31/functions/${arn}/invocations?Qualifier=live`);
    assert.equal(request.headers['x-amz-invocation-type'], 'Event');
    assert.equal(request.headers['x-amz-log-type'], undefined, 'no log tail for Event');
    assert.match(String(request.headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKIDPEREGRINETEST\/\d{8}\/eu-west-1\/lambda\/aws4_request/);
    assert.match(request.body, /^\{"uuid":"e-1","output":/);
    await sink.close();
  });

  it('X-Amz-Function-Error is a retryable failure even when the payload is not an error document; refusals are permanent, throttling retryable', async () => {
    const sink = createSink('lambda', { functionName: 'kill-pod', region: 'eu-west-1', endpoint: receiver.url, logType: 'Tail' }, deps, 'errors');
    receiver.reply(
      { status: 200, headers: { 'x-amz-function-error': 'Unhandled', 'x-amz-log-result': Buffer.from('START\nboom\nEND').toString('base64'), 'content-type': 'application/json' }, body: '"Process exited before completing request"' },
      { status: 404, headers: { 'x-amzn-errortype': 'ResourceNotFoundException', 'content-type': 'application/json' }, body: '{"Type":"User","Message":"Function not found: kill-pod"}' },
      { status: 429, headers: { 'x-amzn-errortype': 'TooManyRequestsException', 'content-type': 'application/json' }, body: '{"Type":"User","message":"Rate exceeded","Reason":"ReservedFunctionConcurrentInvocationLimitExceeded"}' },
      { status: 200, headers: { 'content-type': 'application/json' }, body: '{"errorMessage":"looks like an error","ok":true}' },
    );
    const unhandled = await sink.deliver([alertWith({ uuid: 'x-1' })], ctx());
    assert.equal(unhandled.kind, 'retryable');
    assert.match(unhandled.kind === 'retryable' ? unhandled.reason : '', /function error \(Unhandled\): "Process exited before completing request"/);
    assert.equal(receiver.requests.at(-1)?.headers['x-amz-log-type'], 'Tail');
    const missing = await sink.deliver([alertWith({ uuid: 'x-2' })], ctx());
    assert.equal(missing.kind, 'permanent', JSON.stringify(missing));
    assert.match(missing.kind === 'permanent' ? missing.reason : '', /ResourceNotFoundException \(HTTP 404\)/);
    const throttled = await sink.deliver([alertWith({ uuid: 'x-3' })], ctx());
    assert.equal(throttled.kind, 'retryable', JSON.stringify(throttled));
    assert.match(throttled.kind === 'retryable' ? throttled.reason : '', /TooManyRequestsException \(HTTP 429\)/);
    // A result that merely has an errorMessage key among others is the function's answer, not an error.
    assert.deepEqual(await sink.deliver([alertWith({ uuid: 'x-4' })], ctx()), { kind: 'delivered' });
    await sink.close();
  });

  it('an endpoint that is away is retryable; settings refuse DryRun and odd names', async () => {
    const sink = createSink('lambda', { functionName: 'kill-pod', region: 'eu-west-1', endpoint: await closedPortUrl() }, deps, 'away');
    const result = await sink.deliver([alertWith({ uuid: 'y-1' })], ctx());
    assert.equal(result.kind, 'retryable', JSON.stringify(result));
    await sink.close();
    const bad = lambdaSettingsSchema.safeParse({ functionName: 'kill pod', invocationType: 'DryRun', payloadTemplate: '{"uuid": {{ uuid }}}' });
    const text = bad.success ? '' : bad.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
    assert.match(text, /functionName: must be a function name/);
    assert.match(text, /invocationType: must be RequestResponse .* DryRun invokes nothing/);
    const template = lambdaSettingsSchema.safeParse({ functionName: 'kill-pod', payloadTemplate: '{"uuid": {{ uuid }}}' });
    assert.match(template.success ? '' : template.error.issues[0].message, /renders invalid JSON for a sample alert/);
  });
});
