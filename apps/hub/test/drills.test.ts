import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { KeepAliveClient, freeLoopbackPort, postMany, startHttpReceiver, startTestRedis } from '@peregrine/testkit';
import type { HttpReceiver, TestRedis } from '@peregrine/testkit';
import { countDeliveriesByUuid, eventually, falcoAlert, startTestHub } from './support.ts';
import { spawnHub } from './hub-process.ts';
import type { HubProcess } from './hub-process.ts';

function writeConfig(redisUrl: string, receiverUrl: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'hub-drill-'));
  const path = join(dir, 'hub.yaml');
  writeFileSync(
    path,
    [
      'listen: { host: 127.0.0.1 }',
      `redis: { url: "${redisUrl}", lockDurationMs: 2000 }`,
      'delivery: { concurrency: 8, maxBatch: 200, backoffInitialMs: 100, backoffMaxMs: 1000 }',
      'destinations:',
      '  hook:',
      '    type: webhook',
      `    settings: { address: "${receiverUrl}/in", batchAsArray: true }`,
      '',
    ].join('\n'),
  );
  return path;
}

const uuidOf = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const bodyOf = (i: number) => JSON.stringify(falcoAlert({ uuid: uuidOf(i), rule: `drill ${i % 50}` }));

function duplicates(seen: Map<string, number>): number {
  let n = 0;
  for (const c of seen.values()) n += c - 1;
  return n;
}

describe('drills (hub as a child process, real Redis)', () => {
  let redis: TestRedis;
  let receiver: HttpReceiver;
  let configPath: string;
  const hubs: HubProcess[] = [];

  before(async () => {
    redis = await startTestRedis();
    receiver = await startHttpReceiver();
    configPath = writeConfig(redis.url, receiver.url);
  });

  after(async () => {
    for (const h of hubs) await h.stop('SIGKILL');
    await receiver.close();
    await redis.stop();
  });

  test('SIGKILL mid-burst of 10,000 alerts: every alert that got a 202 is delivered', { timeout: 240_000 }, async (t) => {
    const seen = countDeliveriesByUuid(receiver);
    const port = await freeLoopbackPort();
    let hub = await spawnHub(configPath, port);
    hubs.push(hub);
    const total = 10_000;
    const acked = new Set<number>();
    const client = new KeepAliveClient(32);
    let killed: Promise<number | null> | undefined;
    await postMany(client, `${hub.url}/`, total, 32, bodyOf, (i, r) => {
      if (r.status === 202) acked.add(i);
      if (acked.size >= 3000 && killed === undefined) killed = hub.stop('SIGKILL');
    });
    assert.ok(killed, 'the hub was killed mid-burst');
    assert.equal(await killed, null, 'killed by a signal');
    const ackedBeforeKill = acked.size;
    assert.ok(ackedBeforeKill < total, 'some alerts were refused while the hub was down');

    hub = await spawnHub(configPath, port);
    hubs.push(hub);
    // The sender retries what did not get a 202, as Falcosidekick clients and our sensors do.
    for (let round = 0; round < 5 && acked.size < total; round++) {
      const missing = [...Array(total).keys()].filter((i) => !acked.has(i));
      await postMany(client, `${hub.url}/`, missing.length, 32, (k) => bodyOf(missing[k]), (k, r) => {
        if (r.status === 202) acked.add(missing[k]);
      });
    }
    client.close();
    assert.equal(acked.size, total);
    await eventually(() => [...acked].every((i) => seen.has(uuidOf(i))), 60_000, 'every acknowledged alert delivered');
    const dups = duplicates(seen);
    t.diagnostic(`accepted before kill: ${ackedBeforeKill}; delivered distinct: ${seen.size}; duplicates: ${dups}`);
    assert.equal(seen.size, total);

    assert.equal(await hub.stop('SIGTERM'), 0, `graceful stop exits 0:\n${hub.output()}`);
  });

  test('two hub processes on one Redis under load: nothing lost, no duplicates', { timeout: 240_000 }, async (t) => {
    receiver.requests.length = 0;
    const seen = countDeliveriesByUuid(receiver);
    const [a, b] = await Promise.all([freeLoopbackPort(), freeLoopbackPort()]);
    const hubA = await spawnHub(configPath, a);
    hubs.push(hubA);
    const hubB = await spawnHub(configPath, b);
    hubs.push(hubB);
    const total = 4000;
    const acked = new Set<number>();
    const client = new KeepAliveClient(32);
    const offset = 100_000;
    await Promise.all(
      [hubA, hubB].map((h, lane) =>
        postMany(client, `${h.url}/`, total / 2, 16, (k) => bodyOf(offset + k * 2 + lane), (k, r) => {
          if (r.status === 202) acked.add(offset + k * 2 + lane);
        }),
      ),
    );
    client.close();
    assert.equal(acked.size, total);
    await eventually(() => [...acked].every((i) => seen.has(uuidOf(i))), 60_000, 'every alert delivered');
    const dups = duplicates(seen);
    t.diagnostic(`delivered distinct: ${seen.size}; duplicates: ${dups}; requests at receiver: ${receiver.requests.length}`);
    assert.equal(seen.size, total);
    assert.equal(dups, 0);
    const [codeA, codeB] = await Promise.all([hubA.stop('SIGTERM'), hubB.stop('SIGTERM')]);
    assert.deepEqual([codeA, codeB], [0, 0]);
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
