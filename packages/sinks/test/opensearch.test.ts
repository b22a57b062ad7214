// The Elasticsearch/OpenSearch sink against a real OpenSearch 2.19.6 node (test/support),
// plus what a real node will not do on demand (per-item 429) against a scripted receiver.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestOpenSearch } from '@peregrine/testkit';
import type { TestOpenSearch } from '@peregrine/testkit';
import { createSink, indexFor, openSearchSettingsSchema } from '../src/index.ts';
import type { AlertOutcome, DeliveryResult, Sink } from '../src/index.ts';
import { alertWith, ctx, deps, falcoAlert } from './support/fixtures.ts';
import { HttpReceiver, closedPortUrl } from './support/http-receiver.ts';

async function search(url: string, index: string, query: Record<string, unknown> = { match_all: {} }): Promise<{ total: number; hits: Array<{ _id: string; _index: string; _source: Record<string, unknown> }> }> {
  await fetch(`${url}/${index}/_refresh`, { method: 'POST' });
  const res = await fetch(`${url}/${index}/_search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, size: 100 }) });
  const body = (await res.json()) as { hits: { total: { value: number }; hits: Array<{ _id: string; _index: string; _source: Record<string, unknown> }> } };
  return { total: body.hits.total.value, hits: body.hits.hits };
}

function outcomesOf(result: DeliveryResult): readonly AlertOutcome[] | undefined {
  return result.kind === 'delivered' ? undefined : result.outcomes;
}

describe('opensearch sink (real node)', () => {
  let node: TestOpenSearch;
  const sinks: Sink[] = [];
  const make = (settings: Record<string, unknown>) => {
    const sink = createSink('opensearch', { url: node.url, numberOfReplicas: 0, numberOfShards: 1, ...settings }, deps, 'search');
    sinks.push(sink);
    return sink;
  };

  before(async () => {
    node = await startTestOpenSearch();
  }, { timeout: 600_000 });
  after(async () => {
    await Promise.all(sinks.map((s) => s.close()));
    await node?.stop();
  });

  it('creates the index template and writes a batch into the alert\'s daily index, _id = uuid, fields flattened, integers exact', { timeout: 120_000 }, async () => {
    const sink = make({ index: 'falco' });
    const big = alertWith({ uuid: 'os-1', output_fields: { ...falcoAlert.output_fields, 'evt.time': 1718000000123456789n, 'proc.pid': 4242 } });
    const other = alertWith({ uuid: 'os-2', time: '2024-06-11T00:00:01.5Z', hostname: 'node-9' });
    assert.deepEqual(await sink.deliver([big, other], ctx()), { kind: 'delivered' });
    const template = (await (await fetch(`${node.url}/_index_template/falco`)).json()) as { index_templates: Array<{ index_template: { index_patterns: string[] } }> };
    assert.deepEqual(template.index_templates[0].index_template.index_patterns, ['falco-*']);
    const all = await search(node.url, 'falco-*');
    assert.deepEqual(all.hits.map((h) => `${h._index}/${h._id}`).sort(), ['falco-2024.06.10/os-1', 'falco-2024.06.11/os-2']);
    const raw = await (await fetch(`${node.url}/falco-2024.06.10/_doc/os-1`)).text();
    assert.match(raw, /"evt_time":1718000000123456789[,}]/, 'the 19-digit integer is stored with every digit');
    const doc = all.hits.find((h) => h._id === 'os-1')?._source ?? {};
    assert.equal(doc['@timestamp'], '2024-06-10T06:13:20.123456789Z');
    assert.equal((doc.output_fields as Record<string, unknown>).proc_name, 'cat');
    // Keyword fields: an exact term query finds them.
    assert.equal((await search(node.url, 'falco-*', { term: { 'output_fields.k8s_pod_name': 'web-7d4b9c6f5-x2k8q' } })).total, 2);
    assert.equal((await search(node.url, 'falco-*', { term: { rule: 'Read sensitive file untrusted' } })).total, 2);
    // os-2 carries the fixture's evt.time as a JS number (rounded) and another time: nothing to repair it from.
    const exact = await search(node.url, 'falco-*', { term: { 'output_fields.evt_time': '1718000000123456789' } });
    assert.deepEqual(exact.hits.map((h) => h._id), ['os-1']);
    const mapping = (await (await fetch(`${node.url}/falco-2024.06.10/_mapping`)).json()) as Record<string, { mappings: { properties: Record<string, { type?: string; properties?: Record<string, { type: string }> }> } }>;
    const props = mapping['falco-2024.06.10'].mappings.properties;
    assert.equal(props.time.type, 'date_nanos');
    assert.equal(props.tags.type, 'keyword');
    assert.equal(props.output_fields.properties?.['proc_aname[2]']?.type, 'keyword', 'an unforeseen string field: keyword by the dynamic template');
    assert.equal(props.output_fields.properties?.evt_time?.type, 'long');
  });

  it('the same batch again writes nothing twice (create of an existing _id counts as delivered)', { timeout: 120_000 }, async () => {
    const sink = make({ index: 'again', suffix: 'none' });
    const batch = [alertWith({ uuid: 'r-1' }), alertWith({ uuid: 'r-2' })];
    assert.deepEqual(await sink.deliver(batch, ctx()), { kind: 'delivered' });
    assert.deepEqual(await sink.deliver(batch, ctx()), { kind: 'delivered' });
    assert.equal((await search(node.url, 'again')).total, 2);
  });

  it('a document the index refuses (mapping conflict) is that alert\'s permanent failure with the reason; the others are written', { timeout: 120_000 }, async () => {
    const sink = make({ index: 'conflict', suffix: 'monthly' });
    const batch = [alertWith({ uuid: 'c-1' }), alertWith({ uuid: 'c-2', output_fields: { ...falcoAlert.output_fields, 'proc.pid': 'not-a-number' } }), alertWith({ uuid: 'c-3' })];
    const result = await sink.deliver(batch, ctx());
    assert.equal(result.kind, 'permanent', JSON.stringify(result));
    const outcomes = outcomesOf(result) ?? [];
    assert.deepEqual(outcomes.map((o) => o.kind), ['delivered', 'permanent', 'delivered']);
    const refused = outcomes[1];
    assert.match(refused.kind === 'permanent' ? refused.reason : '', /document c-2 in conflict-2024\.06: HTTP 400 mapper_parsing_exception: failed to parse field \[output_fields\.proc_pid\] of type \[long\]/);
    assert.deepEqual((await search(node.url, 'conflict-*')).hits.map((h) => h._id).sort(), ['c-1', 'c-3']);
  });

  it('a cluster that is away is retryable', async () => {
    const sink = createSink('opensearch', { url: await closedPortUrl(), createIndexTemplate: false }, deps, 'away');
    sinks.push(sink);
    const result = await sink.deliver([falcoAlert], ctx());
    assert.equal(result.kind, 'retryable');
    assert.match(result.kind === 'retryable' ? result.reason : '', /ECONNREFUSED/);
  });
});

describe('opensearch sink (scripted receiver)', () => {
  let receiver: HttpReceiver;
  before(async () => {
    receiver = await HttpReceiver.start();
  });
  after(() => receiver.stop());

  it('per-item 429 and 503 are retryable, others permanent; auth, pipeline and gzip go on the request', async () => {
    const sink = createSink('opensearch', { url: `${receiver.url}/prefix`, apiKey: 'a2V5OnNlY3JldA==', pipeline: 'falco', compression: 'gzip', customHeaders: 'X-Tenant:sec' }, deps, 'scripted');
    const item = (status: number, type?: string) => ({ create: { _index: 'falco-2024.06.10', status, ...(type ? { error: { type, reason: `${type} happened` } } : {}) } });
    receiver.reply(
      { status: 200, body: '{"acknowledged":true}' },
      { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ errors: true, items: [item(201), item(429, 'es_rejected_execution_exception'), item(400, 'illegal_argument_exception'), item(503, 'unavailable_shards_exception'), item(409, 'version_conflict_engine_exception')] }) },
    );
    const batch = ['i-1', 'i-2', 'i-3', 'i-4', 'i-5'].map((uuid) => alertWith({ uuid }));
    const result = await sink.deliver(batch, ctx());
    assert.equal(result.kind, 'retryable', JSON.stringify(result));
    assert.deepEqual(outcomesOf(result)?.map((o) => o.kind), ['delivered', 'retryable', 'permanent', 'retryable', 'delivered']);
    assert.match(result.kind === 'retryable' ? result.reason : '', /document i-2 .*429 es_rejected_execution_exception.*\(3 of 5 documents failed\)/);
    const [template, bulk] = receiver.requests;
    assert.equal(template.method, 'PUT');
    assert.equal(template.url, '/prefix/_index_template/falco');
    assert.equal(bulk.url, '/prefix/_bulk?pipeline=falco');
    assert.equal(bulk.headers.authorization, 'ApiKey a2V5OnNlY3JldA==');
    assert.equal(bulk.headers['x-tenant'], 'sec');
    assert.equal(bulk.headers['content-encoding'], 'gzip');
    assert.equal(bulk.headers['content-type'], 'application/x-ndjson');
    await sink.close();
  });

  it('a template the cluster refuses holds documents back (retryable, saying why) and is tried again', async () => {
    const sink = createSink('opensearch', { url: receiver.url, username: 'falco', password: 'pw', index: 'held' }, deps, 'held');
    receiver.reply({ status: 403, body: 'no privilege for indices:admin/index_template/put' }, { status: 200, body: '{}' }, { status: 200, body: '{"errors":false,"items":[]}' });
    const before = receiver.requests.length;
    const first = await sink.deliver([falcoAlert], ctx());
    assert.equal(first.kind, 'retryable');
    assert.match(first.kind === 'retryable' ? first.reason : '', /index template held answered HTTP 403.*createIndexTemplate: false/);
    assert.deepEqual(await sink.deliver([falcoAlert], ctx()), { kind: 'delivered' });
    const sent = receiver.requests.slice(before);
    assert.deepEqual(sent.map((r) => `${r.method} ${r.url}`), ['PUT /_index_template/held', 'PUT /_index_template/held', 'POST /_bulk']);
    assert.equal(sent[2].headers.authorization, `Basic ${Buffer.from('falco:pw').toString('base64')}`);
    await sink.close();
  });
});

describe('opensearch settings and index names', () => {
  it('index suffix from the alert time: daily, monthly, yearly (annually), none', () => {
    const at = alertWith({ time: '2024-12-31T23:59:59.999999999Z' });
    const name = (suffix: string) => indexFor(at, openSearchSettingsSchema.parse({ url: 'http://x:9200', suffix }));
    assert.equal(name('daily'), 'falco-2024.12.31');
    assert.equal(name('monthly'), 'falco-2024.12');
    assert.equal(name('ANNUALLY'), 'falco-2024');
    assert.equal(name('none'), 'falco');
  });

  it('refuses bad index names, half basic auth and unknown suffixes', () => {
    const r = openSearchSettingsSchema.safeParse({ url: 'http://x:9200', index: 'Falco', suffix: 'hourly' });
    assert.equal(r.success, false);
    const text = r.success ? '' : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
    assert.match(text, /index: must be lower case/);
    assert.match(text, /suffix: must be daily, monthly, yearly \(annually\) or none/);
    const half = openSearchSettingsSchema.safeParse({ url: 'http://x:9200', username: 'u' });
    assert.match(half.success ? '' : half.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n'), /password: username and password go together/);
  });
});

