import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startHttpReceiver, startTestRedis } from '@peregrine/testkit';
import type { HttpReceiver, TestRedis } from '@peregrine/testkit';
import { countDeliveriesByUuid, eventually, falcoAlert, startTestHub } from './support.ts';
import { sigkillMidBurstDrill, twoHubProcessesDrill, writeDrillConfig } from './hub-process.ts';
import type { HubProcess } from './hub-process.ts';

describe('drills (hub as a child process, real Redis)', () => {
  let redis: TestRedis;
  let receiver: HttpReceiver;
  let configPath: string;
  const hubs: HubProcess[] = [];

  before(async () => {
    redis = await startTestRedis();
    receiver = await startHttpReceiver();
    configPath = writeDrillConfig({ redis: `{ url: "${redis.url}", lockDurationMs: 2000 }`, receiverUrl: receiver.url });
  });

  after(async () => {
    for (const h of hubs) await h.stop('SIGKILL');
    await receiver.close();
    await redis.stop();
  });

  test('SIGKILL mid-burst of 10,000 alerts: every alert that got a 202 is delivered', { timeout: 240_000 }, async (t) => {
    const seen = countDeliveriesByUuid(receiver);
    const drill = await sigkillMidBurstDrill({ configPath, seen, hubs, total: 10_000, killAfter: 3000, makeAlert: (uuid, i) => falcoAlert({ uuid, rule: `drill ${i % 50}` }) });
    t.diagnostic(`accepted before kill: ${drill.ackedBeforeKill}; delivered distinct: ${drill.delivered}; duplicates: ${drill.duplicates}`);
    assert.equal(drill.delivered, 10_000);
    assert.equal(await drill.hub.stop('SIGTERM'), 0, `graceful stop exits 0:\n${drill.hub.output()}`);
  });

  test('two hub processes on one Redis under load: nothing lost, no duplicates', { timeout: 240_000 }, async (t) => {
    receiver.requests.length = 0;
    const seen = countDeliveriesByUuid(receiver);
    const drill = await twoHubProcessesDrill({ configPath, seen, hubs, total: 4000, firstIndex: 100_000, makeAlert: (uuid, i) => falcoAlert({ uuid, rule: `drill ${i % 50}` }) });
    t.diagnostic(`delivered distinct: ${drill.delivered}; duplicates: ${drill.duplicates}; requests at receiver: ${receiver.requests.length}`);
    assert.equal(drill.delivered, 4000);
    assert.equal(drill.duplicates, 0);
    assert.deepEqual(drill.exitCodes, [0, 0]);
  });
});

describe('Redis outage (in-process hub)', () => {
  test('503 while Redis is unreachable (nothing accepted), 202 and delivery after it returns', { timeout: 120_000 }, async () => {
    const redis = await startTestRedis();
    const receiver = await startHttpReceiver();
    const t = await startTestHub(redis.url, { destinations: { hook: { type: 'webhook', settings: { address: `${receiver.url}/in` } } } });
    try {
      assert.equal((await t.post('/', falcoAlert({ rule: 'before outage' }))).status, 202);
      await receiver.waitFor((rs) => rs.length === 1);
      await redis.crash();
      await eventually(async () => (await t.get('/readyz')).status === 503, 10_000, 'readyz reports the outage');
      const refused = await t.post('/', falcoAlert({ rule: 'during outage' }));
      assert.equal(refused.status, 503);
      assert.match(String(refused.json.message), /Redis is unreachable; nothing was accepted/);
      await redis.start();
      await eventually(async () => (await t.post('/', falcoAlert({ rule: 'after outage' }))).status === 202, 20_000, 'ingest accepts again');
      await receiver.waitFor((rs) => rs.some((r) => r.body.includes('after outage')), 20_000);
      assert.equal(receiver.requests.filter((r) => r.body.includes('during outage')).length, 0);
      assert.match((await t.get('/metrics')).text, /peregrine_hub_requests_rejected_total\{reason="unavailable"\} [1-9]/);
    } finally {
      await t.hub.close();
      await receiver.close();
      await redis.stop();
    }
  });
});
