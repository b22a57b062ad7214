import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import pino from 'pino';
import { startHttpReceiver, startTestRedisCluster } from '@peregrine/testkit';
import type { HttpReceiver, TestRedisCluster } from '@peregrine/testkit';
import { parseHubConfig, startHub } from '../src/index.ts';
import type { RunningHub } from '../src/index.ts';
import { countDeliveriesByUuid, eventually, falcoAlert } from './support.ts';
import { sigkillMidBurstDrill, twoHubProcessesDrill, writeDrillConfig } from './hub-process.ts';
import type { HubProcess } from './hub-process.ts';

/**
 * The hub on a real three-node Redis Cluster (no Sentinel, no replicas):
 * ingest, delivery, dead-letter + replay and throttle; two hub processes
 * sharing it; the SIGKILL-mid-burst drill. Every key of the hub must hash to
 * the slot of its `{prefix}` tag, or MULTI/EXEC and the Lua scripts would be
 * refused with CROSSSLOT.
 */
describe('hub on a 3-node Redis Cluster', () => {
  let cluster: TestRedisCluster;
  const hubs: HubProcess[] = [];

  before(async () => {
    cluster = await startTestRedisCluster();
  });

  after(async () => {
    for (const h of hubs) await h.stop('SIGKILL');
    await cluster?.stop();
  });

  /** Every key on every node whose name contains `prefix`, with the node's port. */
  async function keysOnNodes(prefix: string): Promise<Array<{ port: number; key: string }>> {
    const found: Array<{ port: number; key: string }> = [];
    for (const node of cluster.nodes) {
      const client = new Redis({ host: node.host, port: node.port, lazyConnect: true });
      await client.connect();
      try {
        let cursor = '0';
        do {
          const [next, keys] = await client.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
          cursor = next;
          for (const key of keys) found.push({ port: node.port, key });
        } while (cursor !== '0');
      } finally {
        client.disconnect();
      }
    }
    return found;
  }

  test('ingest, delivery to two destinations, dead-letter + replay and throttle; every key in the slot of the {prefix} tag', { timeout: 120_000 }, async () => {
    const receiver = await startHttpReceiver();
    const refusing = await startHttpReceiver();
    refusing.respond = () => ({ status: 400, body: 'refused' });
    const prefix = '{hubc1}';
    let hub: RunningHub | undefined;
    try {
      hub = await startHub(
        parseHubConfig({
          listen: { host: '127.0.0.1', port: 0 },
          redis: { cluster: cluster.startupNodes.map((n) => ({ ...n })), prefix },
          delivery: { backoffInitialMs: 50, backoffMaxMs: 200, attempts: 2 },
          destinations: {
            a: { type: 'webhook', settings: { address: `${receiver.url}/a` } },
            b: { type: 'webhook', settings: { address: `${receiver.url}/b` }, match: { minimumPriority: 'warning' } },
            refused: { type: 'webhook', settings: { address: `${refusing.url}/r` }, match: { rules: ['refused *'] } },
            throttled: { type: 'webhook', settings: { address: `${receiver.url}/t` }, match: { rules: ['noisy'] }, throttle: { key: '{{ rule }}|{{ hostname }}', windowMs: 1000 } },
          },
        }),
        { logger: pino({ level: 'silent' }) },
      );
      const post = (path: string, body: unknown) => fetch(`${hub!.address}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

      // Ingest + delivery: one transaction writes to the queues of a and b (and refused/throttled get none).
      const batch = Array.from({ length: 30 }, (_, i) => falcoAlert({ rule: `cluster ${i}`, priority: i % 3 === 0 ? 'Notice' : 'Critical' }));
      assert.equal((await post('/v1/alerts', batch)).status, 202);
      await receiver.waitFor((rs) => rs.filter((r) => r.url === '/a').length === 30 && rs.filter((r) => r.url === '/b').length === 20, 30_000);

      // Dead-letter: a 400 is permanent; the set lives on the cluster, replay delivers.
      const refusedAlerts = Array.from({ length: 3 }, (_, i) => falcoAlert({ rule: `refused ${i}`, uuid: `6d1f0d3e-0000-4000-8000-00000000000${i}` }));
      assert.equal((await post('/v1/alerts', refusedAlerts)).status, 202);
      await eventually(async () => (JSON.parse(await (await fetch(`${hub!.address}/v1/deadletter?destination=refused`)).text()) as { total: number }).total === 3, 30_000, 'three dead-lettered alerts');
      const deadLetterKeys = (await keysOnNodes(prefix)).filter((k) => k.key === `${prefix}:deadletter:refused`);
      assert.equal(deadLetterKeys.length, 1, 'the dead-letter hash is on the cluster');
      refusing.respond = () => ({ status: 200 });
      const replay = await post('/v1/deadletter/replay', { destination: 'refused' });
      assert.equal(replay.status, 202);
      assert.deepEqual(await replay.json(), { replayed: 3, byDestination: { refused: 3 } });
      await refusing.waitFor((rs) => rs.length === 3, 30_000);
      assert.equal(refusing.attempts.length, 6, 'three refused, three replayed');
      assert.equal((JSON.parse(await (await fetch(`${hub.address}/v1/deadletter`)).text()) as { total: number }).total, 0);

      // Throttle: the first of six repeats is delivered, the other five are summarised after the window.
      const noisy = Array.from({ length: 6 }, () => falcoAlert({ rule: 'noisy' }));
      assert.equal((await post('/v1/alerts', noisy)).status, 202);
      await receiver.waitFor((rs) => rs.some((r) => r.url === '/t' && r.body.includes('5 more \\"noisy\\" alerts')), 30_000);
      assert.equal(receiver.requests.filter((r) => r.url === '/t').length, 2, 'one alert and one summary');
      assert.match(await (await fetch(`${hub.address}/metrics`)).text(), /peregrine_hub_alerts_suppressed_total\{destination="throttled"\} 5/);

      // Where the keys are: all in one slot, the one of the hash tag, hence on one node.
      const keys = [...deadLetterKeys, ...(await keysOnNodes(prefix))];
      assert.ok(keys.some((k) => k.key.includes(':dest-a:')), 'queue keys exist');
      assert.ok(keys.some((k) => k.key.includes(':admitted:throttled:')), 'throttle decision keys exist');
      const probe = new Redis({ host: cluster.nodes[0].host, port: cluster.nodes[0].port });
      try {
        const slot = await probe.cluster('KEYSLOT', prefix);
        const slots = new Set(await Promise.all(keys.map((k) => probe.cluster('KEYSLOT', k.key))));
        assert.deepEqual([...slots], [slot], 'every hub key hashes to the slot of its {prefix} tag');
        assert.equal(new Set(keys.map((k) => k.port)).size, 1, 'so they live on one node');
      } finally {
        probe.disconnect();
      }
    } finally {
      await hub?.close();
      await receiver.close();
      await refusing.close();
    }
  });

  function writeConfig(receiverUrl: string, prefix: string): string {
    return writeDrillConfig({ redis: `{ prefix: "${prefix}", cluster: [${cluster.startupNodes.map((n) => `{ host: ${n.host}, port: ${n.port} }`).join(', ')}] }`, receiverUrl });
  }

  test('two hub processes share the cluster under load: nothing lost, no duplicates', { timeout: 240_000 }, async (t) => {
    const receiver = await startHttpReceiver();
    try {
      const seen = countDeliveriesByUuid(receiver);
      const drill = await twoHubProcessesDrill({ configPath: writeConfig(receiver.url, '{hubc2}'), seen, hubs, total: 4000, firstIndex: 0, makeAlert: (uuid, i) => falcoAlert({ uuid, rule: `cluster pair ${i % 50}` }) });
      t.diagnostic(`delivered distinct: ${drill.delivered}; duplicates: ${drill.duplicates}; requests at receiver: ${receiver.requests.length}`);
      assert.equal(drill.delivered, 4000);
      assert.equal(drill.duplicates, 0);
      assert.deepEqual(drill.exitCodes, [0, 0]);
    } finally {
      await receiver.close();
    }
  });

  test('SIGKILL mid-burst of 10,000 alerts on the cluster: every alert that got a 202 is delivered', { timeout: 240_000 }, async (t) => {
    const receiver = await startHttpReceiver();
    try {
      const seen = countDeliveriesByUuid(receiver);
      const drill = await sigkillMidBurstDrill({ configPath: writeConfig(receiver.url, '{hubc3}'), seen, hubs, total: 10_000, killAfter: 3000, makeAlert: (uuid, i) => falcoAlert({ uuid, rule: `cluster drill ${i % 50}` }) });
      t.diagnostic(`accepted before kill: ${drill.ackedBeforeKill}; delivered distinct: ${drill.delivered}; duplicates: ${drill.duplicates}`);
      assert.equal(drill.delivered, 10_000);
      assert.equal(await drill.hub.stop('SIGTERM'), 0, `graceful stop exits 0:\n${drill.hub.output()}`);
    } finally {
      await receiver.close();
    }
  });
});
