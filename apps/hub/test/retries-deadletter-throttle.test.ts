import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHttpReceiver, startTestRedis } from '@peregrine/testkit';
import type { HttpReceiver, TestRedis } from '@peregrine/testkit';
import { eventually, falcoAlert, startTestHub } from './support.ts';
import type { TestHub } from './support.ts';

describe('retries, dead-letter, replay and throttling', () => {
  let redis: TestRedis;
  let flaky: HttpReceiver;
  let dead: HttpReceiver;
  let throttled: HttpReceiver;
  let paced: HttpReceiver;
  let t: TestHub;

  before(async () => {
    redis = await startTestRedis();
    [flaky, dead, throttled, paced] = await Promise.all([startHttpReceiver(), startHttpReceiver(), startHttpReceiver(), startHttpReceiver()]);
    dead.respond = () => ({ status: 500, body: 'down' });
    t = await startTestHub(redis.url, {
      delivery: { attempts: 3, backoffInitialMs: 50, backoffMaxMs: 200, timeoutMs: 2000 },
      destinations: {
        flaky: { type: 'webhook', settings: { address: `${flaky.url}/in` }, match: { rules: ['flaky *'] } },
        dead: { type: 'webhook', settings: { address: `${dead.url}/in` }, match: { rules: ['dead *'] } },
        throttled: {
          type: 'webhook',
          settings: { address: `${throttled.url}/in` },
          match: { tags: { any: ['noisy'] } },
          throttle: { key: '{{ rule }}|{{ hostname }}', windowMs: 1500 },
        },
        paced: {
          type: 'webhook',
          settings: { address: `${paced.url}/in` },
          match: { rules: ['paced *'] },
          delivery: { maxBatch: 1, concurrency: 4, rateLimit: { max: 2, perMs: 1000 } },
        },
      },
    });
  });

  after(async () => {
    await t.hub.close();
    await Promise.all([flaky.close(), dead.close(), throttled.close(), paced.close()]);
    await redis.stop();
  });

  test('503 with Retry-After: 2 is honoured (the retry waits at least 2 s), then the alert is delivered once', async () => {
    let refusals = 0;
    flaky.respond = () => (refusals++ < 2 ? { status: 503, headers: { 'retry-after': '2' }, body: 'busy' } : { status: 200 });
    const res = await t.post('/', falcoAlert({ rule: 'flaky one' }));
    assert.equal(res.status, 202);
    await flaky.waitFor((rs) => rs.length === 1, 20_000);
    assert.equal(flaky.attempts.length, 3);
    // Lower bounds only: the hub must not retry before the receiver's Retry-After.
    for (const i of [1, 2]) {
      const gap = flaky.attempts[i].receivedAt - flaky.attempts[i - 1].receivedAt;
      assert.ok(gap >= 1900, `retry ${i} came ${gap} ms after the 503, before Retry-After: 2`);
    }
  });

  test('delivery.rateLimit paces deliveries: 6 one-alert deliveries at 2 per second span at least 2 s, each alert once', async () => {
    const alerts = Array.from({ length: 6 }, (_, i) => falcoAlert({ rule: `paced ${i}`, uuid: `00000000-0000-4000-8000-0000000001${i}0` }));
    assert.equal((await t.post('/v1/alerts', alerts)).status, 202);
    await paced.waitFor((rs) => rs.length === 6, 20_000);
    const uuids = paced.requests.map((r) => (JSON.parse(r.body) as { uuid: string }).uuid).sort();
    assert.deepEqual(uuids, alerts.map((a) => a.uuid).sort());
    // Lower bound only: without the limit (concurrency 4) the six would arrive together.
    const span = paced.requests[5].receivedAt - paced.requests[0].receivedAt;
    assert.ok(span >= 1800, `6 deliveries at 2 per second arrived within ${span} ms`);
  });

  test('a receiver that never recovers fills the dead-letter set; replay delivers once it recovers', async () => {
    const alerts = Array.from({ length: 4 }, (_, i) => falcoAlert({ rule: `dead ${i}`, uuid: `00000000-0000-4000-8000-00000000000${i}` }));
    assert.equal((await t.post('/v1/alerts', alerts)).status, 202);
    let listing: { total: number; entries: Array<{ alert: { uuid: string }; reason: string; kind: string; attempts: number; destination: string }> } = { total: 0, entries: [] };
    await eventually(async () => {
      listing = JSON.parse((await t.get('/v1/deadletter?destination=dead')).text) as typeof listing;
      return listing.total === 4;
    }, 20_000, 'four dead-lettered alerts');
    // The webhook sink sends a batch in order and stops at the first failure: one request per attempt.
    assert.equal(dead.attempts.length, 3, 'three attempts, then the whole batch is dead-lettered');
    assert.deepEqual(listing.entries.map((e) => e.alert.uuid).sort(), alerts.map((a) => a.uuid));
    for (const e of listing.entries) {
      assert.equal(e.destination, 'dead');
      assert.equal(e.kind, 'exhausted');
      assert.equal(e.attempts, 3);
      assert.match(e.reason, /HTTP 500/);
    }
    const metrics = (await t.get('/metrics')).text;
    assert.match(metrics, /peregrine_hub_alerts_dead_lettered_total\{destination="dead"\} 4/);
    assert.match(metrics, /peregrine_hub_delivery_failures_total\{destination="dead",kind="retryable"\} 12/, 'three failed attempts of the four-alert batch');
    assert.match(metrics, /peregrine_hub_delivery_failures_total\{destination="flaky",kind="retryable"\} 2/);
    assert.match(metrics, /peregrine_hub_alerts_delivered_total\{destination="flaky"\} 1/);

    const unknown = await t.get('/v1/deadletter?destination=nope');
    assert.equal(unknown.status, 400);
    assert.match(String((JSON.parse(unknown.text) as { message: string }).message), /unknown destination "nope"/);
    const bad = await t.post('/v1/deadletter/replay', { destination: 'nope' });
    assert.equal(bad.status, 400);
    assert.match(String(bad.json.message), /unknown destination "nope"/);

    dead.respond = () => ({ status: 200 });
    const one = await t.post('/v1/deadletter/replay', { destination: 'dead', ids: [alerts[0].uuid as string] });
    assert.deepEqual(one.json.replayed, 1);
    await dead.waitFor((rs) => rs.length === 1);
    const rest = await t.post('/v1/deadletter/replay', { all: true });
    assert.deepEqual(rest.json.replayed, 3);
    await dead.waitFor((rs) => rs.length === 4);
    assert.deepEqual(dead.requests.map((r) => (JSON.parse(r.body) as { uuid: string }).uuid).sort(), alerts.map((a) => a.uuid));
    assert.equal(JSON.parse((await t.get('/v1/deadletter')).text).total, 0);
  });

  test('throttle: repeats within the window are suppressed and reported in a summary', async () => {
    const alerts = Array.from({ length: 6 }, () => falcoAlert({ rule: 'noisy rule', tags: ['noisy'] }));
    for (const a of alerts) assert.equal((await t.post('/', a)).status, 202);
    const other = await t.post('/', falcoAlert({ rule: 'noisy rule', hostname: 'node-2', tags: ['noisy'] }));
    assert.equal(other.status, 202);
    await throttled.waitFor((rs) => rs.some((r) => r.body.includes('5 more \\"noisy rule\\" alerts')), 20_000);
    const bodies = throttled.requests.map((r) => JSON.parse(r.body) as { hostname: string; output: string; output_fields: Record<string, unknown> });
    const node1 = bodies.filter((b) => b.hostname === 'node-1');
    assert.equal(node1.length, 2, 'the first alert and one summary');
    assert.equal(node1[1].output, '5 more "noisy rule" alerts in the last 1500 ms (suppressed by throttle)');
    assert.equal(node1[1].output_fields['peregrine.suppressed'], 5);
    assert.equal(bodies.filter((b) => b.hostname === 'node-2').length, 1, 'another host is another key');
    assert.match((await t.get('/metrics')).text, /peregrine_hub_alerts_suppressed_total\{destination="throttled"\} 5/);
  });
});
