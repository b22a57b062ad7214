// The hub into a real OpenSearch 2.19.6 node: documents searchable, no duplicates after a
// connection cut mid-bulk, one refused document dead-lettered alone; ELASTICSEARCH_* variables.
import assert from 'node:assert/strict';
import { Socket, createServer } from 'node:net';
import type { Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startHttpReceiver, startTestOpenSearch, startTestRedis } from '@peregrine/testkit';
import type { HttpReceiver, TestOpenSearch, TestRedis } from '@peregrine/testkit';
import { loadHubConfig, unreadSidekickVariables } from '../src/index.ts';
import { eventually, falcoAlert, startTestHub } from './support.ts';
import type { TestHub } from './support.ts';

/**
 * A TCP proxy in front of the node that lets the first `_bulk` request through to the node
 * and then cuts the connection before the answer reaches the hub: the documents are written,
 * the hub cannot know it and retries.
 */
async function startCuttingProxy(target: URL): Promise<{ url: string; bulkRequests: () => number; cuts: () => number; close: () => Promise<void> }> {
  let bulks = 0;
  let cut = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createServerConnection(target);
    sockets.add(client).add(upstream);
    let cutThisAnswer = false;
    client.on('data', (chunk: Buffer) => {
      if (chunk.includes('POST /_bulk')) {
        bulks++;
        if (cut === 0 && !cutThisAnswer) cutThisAnswer = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (cutThisAnswer) {
        cut++;
        cutThisAnswer = false;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bulkRequests: () => bulks,
    cuts: () => cut,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function createServerConnection(target: URL): Socket {
  return new Socket().connect(Number(target.port), target.hostname);
}

async function search(node: TestOpenSearch, index: string, query: Record<string, unknown> = { match_all: {} }): Promise<Array<{ _id: string; _index: string; _source: Record<string, unknown> }>> {
  await fetch(`${node.url}/${index}/_refresh`, { method: 'POST' });
  const res = await fetch(`${node.url}/${index}/_search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, size: 1000 }) });
  return ((await res.json()) as { hits: { hits: Array<{ _id: string; _index: string; _source: Record<string, unknown> }> } }).hits.hits;
}

describe('hub → opensearch (real node)', () => {
  let redis: TestRedis;
  let node: TestOpenSearch;
  let proxy: Awaited<ReturnType<typeof startCuttingProxy>>;
  let t: TestHub;

  before(async () => {
    [redis, node] = await Promise.all([startTestRedis(), startTestOpenSearch()]);
    proxy = await startCuttingProxy(new URL(node.url));
    t = await startTestHub(redis.url, {
      delivery: { attempts: 5, backoffInitialMs: 100, backoffMaxMs: 500, timeoutMs: 10_000 },
      destinations: {
        search: { type: 'opensearch', settings: { url: proxy.url, index: 'falco', numberOfReplicas: 0 }, match: { rules: ['search *'] } },
        strict: { type: 'opensearch', settings: { url: node.url, index: 'strict', suffix: 'monthly', numberOfReplicas: 0 }, match: { rules: ['strict *'] } },
      },
    });
  }, { timeout: 600_000 });

  after(async () => {
    await t?.hub.close();
    await proxy?.close();
    await Promise.all([node?.stop(), redis?.stop()]);
  });

  test('documents are searchable with the expected fields, and a bulk cut after the node wrote it leaves no duplicate', { timeout: 180_000 }, async () => {
    const alerts = Array.from({ length: 20 }, (_, i) =>
      falcoAlert({ rule: `search ${i % 3}`, uuid: `33333333-0000-4000-8000-${String(i).padStart(12, '0')}`, hostname: `node-${i % 2}` }),
    );
    const body = `[${alerts.map((a) => JSON.stringify(a).replace('"evt.time":1718000000123456800', '"evt.time":1718000000123456789')).join(',')}]`;
    assert.equal((await t.post('/v1/alerts', body)).status, 202);
    await eventually(async () => /peregrine_hub_alerts_delivered_total\{destination="search"\} 20/.test((await t.get('/metrics')).text), 60_000, '20 alerts delivered');
    assert.equal(proxy.cuts(), 1, 'the first bulk answer was cut');
    assert.ok(proxy.bulkRequests() >= 2, 'the hub retried the bulk');
    const docs = await search(node, 'falco-*');
    assert.equal(docs.length, 20, 'no duplicates');
    assert.deepEqual(docs.map((d) => d._id).sort(), alerts.map((a) => a.uuid).sort());
    assert.ok(docs.every((d) => d._index === 'falco-2024.06.10'), 'the index date is the alert time');
    const one = docs.find((d) => d._id === alerts[4].uuid)?._source ?? {};
    assert.equal(one.rule, 'search 1');
    assert.equal(one.hostname, 'node-0');
    assert.equal(one['@timestamp'], '2024-06-10T06:13:20.123456789Z');
    assert.deepEqual(one.tags, ['container', 'mitre_execution', 'shell']);
    assert.equal((one.output_fields as Record<string, unknown>).k8s_pod_name, 'web-1');
    assert.equal((await search(node, 'falco-*', { bool: { filter: [{ term: { rule: 'search 1' } }, { term: { 'output_fields.proc_name': 'bash' } }] } })).length, 7);
    const raw = await (await fetch(`${node.url}/falco-2024.06.10/_doc/${alerts[0].uuid}`)).text();
    assert.match(raw, /"evt_time":1718000000123456789[,}]/, 'Falco\'s exact int64 reaches the index unrounded');
  });

  test('drill: the index refuses one document of a batch (mapping conflict): the rest are written, that one is dead-lettered with the reason', { timeout: 180_000 }, async () => {
    const batch = Array.from({ length: 10 }, (_, i) => falcoAlert({ rule: 'strict rule', uuid: `44444444-0000-4000-8000-${String(i).padStart(12, '0')}` }));
    // proc.pid is mapped long by the template; this alert carries a string there.
    (batch[6].output_fields as Record<string, unknown>)['proc.pid'] = 'pid-unknown';
    assert.equal((await t.post('/v1/alerts', batch)).status, 202);
    let listing: { total: number; entries: Array<{ alert: { uuid: string }; reason: string; kind: string; attempts: number }> } = { total: 0, entries: [] };
    await eventually(async () => {
      listing = JSON.parse((await t.get('/v1/deadletter?destination=strict')).text) as typeof listing;
      return listing.total === 1;
    }, 60_000, 'the refused alert in the dead-letter set');
    const [entry] = listing.entries;
    assert.equal(entry.alert.uuid, batch[6].uuid);
    assert.equal(entry.kind, 'permanent');
    assert.equal(entry.attempts, 1, 'a refusal is not retried');
    assert.match(entry.reason, /opensearch refused document 44444444-0000-4000-8000-000000000006 in strict-2024\.06: HTTP 400 mapper_parsing_exception: failed to parse field \[output_fields\.proc_pid\] of type \[long\]/);
    const written = await search(node, 'strict-*');
    assert.deepEqual(written.map((d) => d._id).sort(), batch.filter((_, i) => i !== 6).map((a) => a.uuid).sort());
    const metrics = (await t.get('/metrics')).text;
    assert.match(metrics, /peregrine_hub_alerts_delivered_total\{destination="strict"\} 9/);
    assert.match(metrics, /peregrine_hub_alerts_dead_lettered_total\{destination="strict"\} 1/);
  });
});

describe('hub applies per-document outcomes (a scripted _bulk answer: what a real node does not do on demand)', () => {
  let redis: TestRedis;
  let receiver: HttpReceiver;
  let t: TestHub;

  before(async () => {
    [redis, receiver] = await Promise.all([startTestRedis(), startHttpReceiver()]);
    t = await startTestHub(redis.url, {
      delivery: { attempts: 3, backoffInitialMs: 50, backoffMaxMs: 100 },
      destinations: { scripted: { type: 'opensearch', settings: { url: receiver.url, suffix: 'none' } } },
    });
  });
  after(async () => {
    await t?.hub.close();
    await receiver?.close();
    await redis?.stop();
  });

  test('only the 429 document is sent again; the refused one is dead-lettered at once with its reason', { timeout: 60_000 }, async () => {
    let bulks = 0;
    receiver.respond = (req) => {
      if (req.method === 'PUT') return { status: 200, body: '{"acknowledged":true}' };
      const ids = req.body.split('\n').filter((line) => line.startsWith('{"create"')).map((line) => (JSON.parse(line) as { create: { _id: string } }).create._id);
      bulks++;
      const item = (id: string, status: number, type?: string) => ({ create: { _index: 'falco', _id: id, status, ...(type ? { error: { type, reason: `${type} for ${id}` } } : {}) } });
      const items = bulks === 1 ? [item(ids[0], 201), item(ids[1], 429, 'es_rejected_execution_exception'), item(ids[2], 400, 'document_parsing_exception')] : ids.map((id) => item(id, 201));
      return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ errors: true, items }) };
    };
    const alerts = ['a', 'b', 'c'].map((c) => falcoAlert({ uuid: `55555555-0000-4000-8000-00000000000${c}` }));
    assert.equal((await t.post('/v1/alerts', alerts)).status, 202);
    await eventually(() => bulks === 2, 30_000, 'the retry of the 429 document');
    const bodies = receiver.attempts.filter((r) => r.method === 'POST').map((r) => r.body.split('\n').filter((l) => l.startsWith('{"create"')).length);
    assert.deepEqual(bodies, [3, 1], 'the retry carries the one retryable document only');
    assert.match(receiver.attempts.filter((r) => r.method === 'POST')[1].body, /55555555-0000-4000-8000-00000000000b/);
    const listing = JSON.parse((await t.get('/v1/deadletter?destination=scripted')).text) as { total: number; entries: Array<{ alert: { uuid: string }; reason: string; kind: string }> };
    assert.equal(listing.total, 1);
    assert.equal(listing.entries[0].alert.uuid, alerts[2].uuid);
    assert.equal(listing.entries[0].kind, 'permanent');
    assert.match(listing.entries[0].reason, /HTTP 400 document_parsing_exception: document_parsing_exception for 55555555-0000-4000-8000-00000000000c/);
    await eventually(async () => /peregrine_hub_alerts_delivered_total\{destination="scripted"\} 2/.test((await t.get('/metrics')).text), 10_000, 'two delivered');
  });
});

describe('Falcosidekick ELASTICSEARCH_* variables', () => {
  test('become an opensearch destination named elasticsearch with its minimum priority, auth, suffix and template settings', () => {
    const env = {
      ELASTICSEARCH_HOSTPORT: 'https://es.example.com:9200',
      ELASTICSEARCH_INDEX: 'falco-events',
      ELASTICSEARCH_SUFFIX: 'annually',
      ELASTICSEARCH_USERNAME: 'falco',
      ELASTICSEARCH_PASSWORD: 'pw',
      ELASTICSEARCH_PIPELINE: 'geoip',
      ELASTICSEARCH_CUSTOMHEADERS: 'X-Tenant:sec',
      ELASTICSEARCH_NUMBEROFSHARDS: '2',
      ELASTICSEARCH_NUMBEROFREPLICAS: '1',
      ELASTICSEARCH_CREATEINDEXTEMPLATE: 'false',
      ELASTICSEARCH_ENABLECOMPRESSION: 'true',
      ELASTICSEARCH_MINIMUMPRIORITY: 'warning',
      ELASTICSEARCH_CHECKCERT: 'false',
      ELASTICSEARCH_MAXCONCURRENTREQUESTS: '2',
      ELASTICSEARCH_FLATTENFIELDS: 'true',
      ELASTICSEARCH_TYPE: '_doc',
    };
    const config = loadHubConfig(undefined, env);
    const es = config.destinations.elasticsearch;
    assert.equal(es.type, 'opensearch');
    assert.equal(es.match.minimumPriority, 'Warning');
    assert.deepEqual(es.settings, {
      url: 'https://es.example.com:9200',
      index: 'falco-events',
      suffix: 'annually',
      username: 'falco',
      password: 'pw',
      pipeline: 'geoip',
      customHeaders: 'X-Tenant:sec',
      numberOfShards: 2,
      numberOfReplicas: 1,
      createIndexTemplate: false,
      compression: 'gzip',
      tls: { checkCert: false },
    });
    assert.equal(es.delivery?.concurrency, 2);
    // FLATTENFIELDS is how documents are written anyway; TYPE (mapping types) has no use.
    assert.deepEqual(unreadSidekickVariables(env), ['ELASTICSEARCH_TYPE']);
  });

  test('ELASTICSEARCH_APIKEY; a bad suffix is a start-up error naming the variable', () => {
    const config = loadHubConfig(undefined, { ELASTICSEARCH_HOSTPORT: 'http://es:9200', ELASTICSEARCH_APIKEY: 'a2V5OnNlY3JldA==' });
    assert.equal(config.destinations.elasticsearch.settings.apiKey, 'a2V5OnNlY3JldA==');
    assert.throws(() => loadHubConfig(undefined, { ELASTICSEARCH_HOSTPORT: 'http://es:9200', ELASTICSEARCH_SUFFIX: 'hourly' }), /suffix: must be daily, monthly, yearly \(annually\) or none.*\(from ELASTICSEARCH_SUFFIX\)/);
  });
});
