import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { startTestRedisCluster } from '../../support/index.ts';
import type { TestRedisCluster } from '../../support/index.ts';
import { assertGroupGone, groupAlive } from './process-gone.ts';

let cluster: TestRedisCluster;

before(async () => {
  cluster = await startTestRedisCluster();
}, { timeout: 120_000 });

after(async () => {
  await cluster?.stop();
});

test('three masters share the slots: keys spread over them, a hash tag keeps multi-key commands on one', { timeout: 120_000 }, async () => {
  assert.equal(cluster.nodes.length, 3);
  const client = new Cluster([...cluster.startupNodes]);
  try {
    const slots = (await client.cluster('SLOTS')) as [number, number, ...unknown[]][];
    const covered = slots.reduce((sum, [from, to]) => sum + (to - from + 1), 0);
    assert.equal(covered, 16384);
    for (let i = 0; i < 60; i += 1) await client.set(`alert:${i}`, String(i));
    assert.equal(await client.get('alert:42'), '42');
    // Without a hash tag these keys live in different slots: the cluster refuses them together.
    await assert.rejects(client.mset('alert:a', '1', 'alert:b', '2'), /CROSSSLOT/);
    await client.mset('{hub}:a', '1', '{hub}:b', '2');
    assert.deepEqual(await client.mget('{hub}:a', '{hub}:b'), ['1', '2']);
  } finally {
    client.disconnect();
  }
  for (const node of cluster.nodes) {
    const direct = new Redis({ host: node.host, port: node.port, lazyConnect: true });
    await direct.connect();
    const keys = await direct.dbsize();
    direct.disconnect();
    assert.ok(keys > 0, `node ${node.port} holds none of the 60 keys`);
  }
});

test('stop() leaves no redis-server behind', { timeout: 60_000 }, async () => {
  for (const node of cluster.nodes) assert.equal(groupAlive(node.pid), true);
  await cluster.stop();
  for (const node of cluster.nodes) assertGroupGone(node.pid, `Redis Cluster node ${node.port}`);
});
