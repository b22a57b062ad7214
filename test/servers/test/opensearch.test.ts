import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestOpenSearch } from '../../support/index.ts';
import type { TestOpenSearch } from '../../support/index.ts';
import { assertGroupGone, groupAlive } from './process-gone.ts';

let node: TestOpenSearch;

before(async () => {
  node = await startTestOpenSearch();
}, { timeout: 600_000 });

after(async () => {
  await node?.stop();
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${node.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

test('the embedded node indexes a document and finds it again', { timeout: 300_000 }, async () => {
  assert.match(node.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const root = await call('GET', '/');
  assert.equal((root.json.version as { number: string }).number, '2.19.6');

  const created = await call('PUT', '/falco-smoke', {
    settings: { number_of_shards: 1, number_of_replicas: 0 },
    mappings: { properties: { rule: { type: 'keyword' }, priority: { type: 'keyword' }, output: { type: 'text' } } },
  });
  assert.equal(created.status, 200, JSON.stringify(created.json));

  const indexed = await call('PUT', '/falco-smoke/_doc/alert-uuid-1?refresh=true', { rule: 'Terminal shell in container', priority: 'Notice', output: 'A shell was spawned in a container' });
  assert.equal(indexed.status, 201, JSON.stringify(indexed.json));

  const found = await call('POST', '/falco-smoke/_search', { query: { bool: { filter: [{ term: { rule: 'Terminal shell in container' } }], must: [{ match: { output: 'shell' } }] } } });
  const hits = (found.json.hits as { hits: { _id: string; _source: { priority: string } }[] }).hits;
  assert.deepEqual(hits.map((h) => [h._id, h._source.priority]), [['alert-uuid-1', 'Notice']]);

  const health = await call('GET', '/_cluster/health');
  assert.equal(health.json.status, 'green');
});

test('stop() leaves no node process behind', { timeout: 120_000 }, async () => {
  assert.equal(groupAlive(node.pid), true);
  await node.stop();
  assertGroupGone(node.pid, 'OpenSearch');
});
