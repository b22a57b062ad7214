import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestLambda } from '../../support/index.ts';
import type { TestLambda } from '../../support/index.ts';
import { assertGroupGone, groupAlive } from './process-gone.ts';

let lambda: TestLambda;

before(async () => {
  lambda = await startTestLambda({ handlerModule: 'test/servers/test/fixtures/lambda-handler.ts', env: { PEREGRINE_SMOKE_MARK: 'from-the-starter' } });
}, { timeout: 600_000 });

after(async () => {
  await lambda?.stop();
});

// One invocation at a time: two concurrent ones crash the emulator.
async function invoke(event: unknown): Promise<{ status: number; functionError: string | null; payload: Record<string, unknown> }> {
  const response = await fetch(lambda.invokeUrl, { method: 'POST', body: JSON.stringify(event) });
  return { status: response.status, functionError: response.headers.get('x-amz-function-error'), payload: JSON.parse(await response.text()) as Record<string, unknown> };
}

test('an invocation over plain HTTP runs the handler and returns its result', { timeout: 120_000 }, async () => {
  assert.match(lambda.invokeUrl, /^http:\/\/127\.0\.0\.1:\d+\/2015-03-31\/functions\/function\/invocations$/);
  const first = await invoke({ name: 'falco' });
  assert.equal(first.status, 200);
  assert.equal(first.payload.greeting, 'hello falco');
  assert.equal(first.payload.mark, 'from-the-starter');
  assert.match(String(first.payload.requestId), /^[0-9a-f-]{36}$/);
  const second = await invoke({ name: 'again' });
  assert.equal(second.payload.greeting, 'hello again');
  assert.notEqual(second.payload.requestId, first.payload.requestId);
});

test('a throwing handler comes back as the error payload, 200 and no X-Amz-Function-Error (the emulator\'s limit)', { timeout: 120_000 }, async () => {
  const failed = await invoke({ name: 'this one', fail: true });
  assert.equal(failed.status, 200);
  assert.equal(failed.functionError, null);
  assert.equal(failed.payload.errorType, 'TypeError');
  assert.equal(failed.payload.errorMessage, 'refused this one');
  assert.ok(Array.isArray(failed.payload.stackTrace));
  // The runtime keeps serving after an error.
  assert.equal((await invoke({ name: 'after' })).payload.greeting, 'hello after');
});

test('stop() ends the emulator and the handler runtime', { timeout: 60_000 }, async () => {
  assert.equal(groupAlive(lambda.pid), true);
  await lambda.stop();
  assertGroupGone(lambda.pid, 'Lambda emulator');
});
