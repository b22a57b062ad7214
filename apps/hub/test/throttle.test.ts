import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { validateAlert } from '@peregrine/alert';
import type { Alert } from '@peregrine/alert';
import { startTestRedis } from '@peregrine/testkit';
import type { TestRedis } from '@peregrine/testkit';
import { throttleSchema } from '../src/config/schema.ts';
import { Throttle } from '../src/delivery/throttle.ts';
import { HubKeys } from '../src/redis/keys.ts';
import { falcoAlert } from './support.ts';

let redis: TestRedis;
let client: Redis;

before(async () => {
  redis = await startTestRedis({ appendOnly: false });
  client = new Redis(redis.url);
});

after(async () => {
  await client.quit();
  await redis.stop();
});

function alert(n: number, host = 'node-1'): Alert {
  const r = validateAlert(falcoAlert({ uuid: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, hostname: host }));
  assert.ok(r.ok);
  return r.alert;
}

test('throttle: first alert passes, repeats are suppressed, decisions are idempotent, the next alert after the window reports the count', async () => {
  const throttle = new Throttle(throttleSchema.parse({ key: '{{ rule }}|{{ hostname }}', windowMs: 100 }), 'dest', new HubKeys('{t1}'), client);
  const first = await throttle.filter([alert(1), alert(2), alert(3), alert(4, 'node-2')]);
  assert.deepEqual(first.admitted.map((a) => a.uuid), [alert(1).uuid, alert(4).uuid]);
  assert.equal(first.suppressed, 2);
  assert.deepEqual(first.firstSuppressed.map((f) => f.alert.uuid), [alert(2).uuid], 'one summary per window and key');
  assert.ok(first.firstSuppressed[0].delayMs <= 100);

  // A retried job gets the same answers (alert 1 still admitted, not suppressed by its own window).
  const again = await throttle.filter([alert(1), alert(2)]);
  assert.deepEqual(again.admitted.map((a) => a.uuid), [alert(1).uuid]);
  assert.equal(again.firstSuppressed.length, 0, 'no second summary for the same suppression');

  await new Promise((r) => setTimeout(r, 150)); // let the 100 ms window expire in Redis
  const next = await throttle.filter([alert(5)]);
  assert.equal(next.admitted.length, 1);
  assert.equal(next.admitted[0].output_fields['peregrine.suppressed'], 2);
  assert.match(next.admitted[0].output, /\(2 more in the last 100 ms\)$/);
  assert.equal(await throttle.take('Terminal shell in container|node-1'), 0, 'already reported: the summary finds nothing');
});

test('throttle summary takes the count once', async () => {
  const throttle = new Throttle(throttleSchema.parse({ key: '{{ rule }}', windowMs: 10_000 }), 'dest', new HubKeys('{t2}'), client);
  await throttle.filter([alert(11), alert(12), alert(13)]);
  assert.equal(await throttle.take('Terminal shell in container'), 2);
  assert.equal(await throttle.take('Terminal shell in container'), 0);
  const summary = throttle.summaryAlert(alert(11), 'summary-uuid', 2);
  assert.equal(summary.output, '2 more "Terminal shell in container" alerts in the last 10 s (suppressed by throttle)');
  assert.equal(summary.uuid, 'summary-uuid');
});
