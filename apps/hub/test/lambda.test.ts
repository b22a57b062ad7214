// The hub into AWS Lambda, against the Lambda Runtime Interface Emulator running a Node
// handler (test/support): the handler gets the alert and its answer is recorded; a handler
// that throws is retried, then dead-lettered with the error. AWS_LAMBDA_* variables.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { startTestLambda, startTestRedis } from '@peregrine/testkit';
import type { TestLambda, TestRedis } from '@peregrine/testkit';
import { loadHubConfig, parseHubConfig, startHub, unreadSidekickVariables } from '../src/index.ts';
import type { RunningHub } from '../src/index.ts';
import { recordedInvocations } from '../../../packages/sinks/test/fixtures/lambda-record.ts';
import { eventually, falcoAlert } from './support.ts';

// The standard AWS credential chain reads these; the emulator ignores the signature.
process.env.AWS_ACCESS_KEY_ID = 'AKIDPEREGRINETEST';
process.env.AWS_SECRET_ACCESS_KEY = 'peregrine-test-secret';

describe('hub → AWS Lambda (Runtime Interface Emulator)', () => {
  let redis: TestRedis;
  let lambda: TestLambda;
  let hub: RunningHub;
  let dir: string;
  let record: string;
  const logLines: Array<Record<string, unknown>> = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'peregrine-hub-lambda-'));
    record = join(dir, 'invocations.jsonl');
    [redis, lambda] = await Promise.all([startTestRedis(), startTestLambda({ handlerModule: 'packages/sinks/test/fixtures/lambda-handler.mjs', env: { PEREGRINE_LAMBDA_RECORD: record } })]);
    const config = parseHubConfig({
      listen: { host: '127.0.0.1', port: 0 },
      redis: { url: redis.url, lockDurationMs: 3000 },
      delivery: { attempts: 3, backoffInitialMs: 100, backoffMaxMs: 300 },
      destinations: {
        // The emulator crashes on two concurrent invocations: one delivery in flight.
        responder: { type: 'lambda', settings: { functionName: lambda.functionName, region: 'us-east-1', endpoint: lambda.endpoint }, delivery: { concurrency: 1 } },
      },
    });
    const logs = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    hub = await startHub(config, { logger: pino({ level: 'info' }, logs) });
  }, { timeout: 600_000 });

  after(async () => {
    await hub?.close();
    await Promise.all([lambda?.stop(), redis?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  async function post(body: unknown): Promise<number> {
    const res = await fetch(`${hub.address}/v1/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await res.text();
    return res.status;
  }

  test('the handler is invoked with the alert and its answer is recorded in the hub\'s log', { timeout: 120_000 }, async () => {
    const uuid = '66666666-0000-4000-8000-000000000001';
    assert.equal(await post([falcoAlert({ rule: 'respond to shell', uuid })]), 202);
    await eventually(() => logLines.some((l) => l.msg === 'lambda invoked' && l.alertId === uuid), 60_000, 'the invocation logged');
    const [invocation] = recordedInvocations(record).filter((r) => r.event.uuid === uuid);
    assert.equal(invocation.event.rule, 'respond to shell');
    assert.equal((invocation.event.output_fields as Record<string, unknown>)['k8s.pod.name'], 'web-1');
    const line = logLines.find((l) => l.msg === 'lambda invoked' && l.alertId === uuid) ?? {};
    assert.equal(line.sink, 'responder');
    assert.equal(line.statusCode, 200);
    assert.equal(line.result, `{"handled":"${uuid}","action":"labelled pod","pod":"web-1"}`);
  });

  test('a handler that throws is retried, then dead-lettered with the error', { timeout: 120_000 }, async () => {
    const uuid = '66666666-0000-4000-8000-000000000002';
    assert.equal(await post([falcoAlert({ rule: 'fail to respond', uuid })]), 202);
    let listing: { total: number; entries: Array<{ alert: { uuid: string }; reason: string; kind: string; attempts: number }> } = { total: 0, entries: [] };
    await eventually(async () => {
      const res = await fetch(`${hub.address}/v1/deadletter?destination=responder`);
      listing = (await res.json()) as typeof listing;
      return listing.total === 1;
    }, 60_000, 'the alert dead-lettered');
    const [entry] = listing.entries;
    assert.equal(entry.alert.uuid, uuid);
    assert.equal(entry.kind, 'exhausted');
    assert.equal(entry.attempts, 3);
    assert.equal(entry.reason, `lambda function function error (error document): TypeError: cannot respond to ${uuid}`);
    assert.equal(recordedInvocations(record).filter((r) => r.event.uuid === uuid).length, 3, 'invoked once per attempt');
    assert.ok(logLines.some((l) => l.msg === 'lambda function failed' && l.alertId === uuid));
  });
});

describe('Falcosidekick AWS_LAMBDA_* variables', () => {
  test('become a lambda destination with its minimum priority; AWS_REGION and credentials stay the SDK\'s', () => {
    const env = {
      AWS_LAMBDA_FUNCTIONNAME: 'arn:aws:lambda:eu-west-1:123456789012:function:kill-pod',
      AWS_LAMBDA_INVOCATIONTYPE: 'Event',
      AWS_LAMBDA_LOGTYPE: 'Tail',
      AWS_LAMBDA_MINIMUMPRIORITY: 'critical',
      AWS_REGION: 'eu-west-1',
      AWS_CHECKIDENTITY: 'false',
    };
    const config = loadHubConfig(undefined, env);
    const lambda = config.destinations.lambda;
    assert.equal(lambda.type, 'lambda');
    assert.equal(lambda.match.minimumPriority, 'Critical');
    assert.deepEqual(lambda.settings, { functionName: 'arn:aws:lambda:eu-west-1:123456789012:function:kill-pod', invocationType: 'Event', logType: 'Tail' });
    assert.deepEqual(unreadSidekickVariables(env), []);
    assert.throws(() => loadHubConfig(undefined, { AWS_LAMBDA_FUNCTIONNAME: 'kill-pod', AWS_LAMBDA_INVOCATIONTYPE: 'DryRun' }), /invocationType: must be RequestResponse.*\(from AWS_LAMBDA_INVOCATIONTYPE\)/);
  });
});
