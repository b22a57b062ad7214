import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Queue } from 'bullmq';
import { HubKeys } from '../src/redis/keys.ts';
import { startHttpReceiver, startTestRedis } from '@peregrine/testkit';
import type { HttpReceiver, TestRedis } from '@peregrine/testkit';
import { eventually, falcoAlert, startTestHub } from './support.ts';
import type { TestHub } from './support.ts';

const TOKEN = 'test-token-0123456789abcdef';

describe('hub ingest and delivery (real Redis, local receivers)', () => {
  let redis: TestRedis;
  let receiver: HttpReceiver;
  let t: TestHub;
  const auth = { authorization: `Bearer ${TOKEN}` };

  before(async () => {
    redis = await startTestRedis();
    receiver = await startHttpReceiver();
    receiver.respond = (req) => (req.url.startsWith('/pd') ? { status: 202, body: '{"status":"success","dedup_key":"k"}' } : { status: 200, body: 'ok' });
    t = await startTestHub(redis.url, {
      auth: { tokens: [TOKEN] },
      bodyLimitBytes: 64 * 1024,
      destinations: {
        'slack-secops': { type: 'slack', settings: { webhookUrl: `${receiver.url}/slack` }, match: { minimumPriority: 'warning' } },
        pager: { type: 'pagerduty', settings: { routingKey: 'R0UT1NGKEY', baseUrl: `${receiver.url}/pd` }, match: { minimumPriority: 'critical' } },
        hook: { type: 'webhook', settings: { address: `${receiver.url}/hook` }, match: { fields: ['k8s.ns.name != kube-system'] } },
        templated: {
          type: 'webhook',
          settings: { address: `${receiver.url}/tpl`, bodyTemplate: '{"text": "{{ rule }} in pod {{ output_fields["k8s.pod.name"] }}", "level": "{{ priority | lower }}"}' },
          match: { rules: ['Terminal shell*'], tags: { all: ['shell'] } },
        },
      },
    });
  });

  after(async () => {
    await t.hub.close();
    await receiver.close();
    await redis.stop();
  });

  const bodiesAt = (prefix: string) => receiver.requests.filter((r) => r.url.startsWith(prefix)).map((r) => JSON.parse(r.body) as Record<string, unknown>);

  test('a real Falco alert posted to / reaches Slack, PagerDuty and the webhook with the expected bodies', async () => {
    const alert = falcoAlert({ priority: 'Critical', uuid: '9b2f2d4e-5a3c-4a8e-8f3e-0c1d2e3f4a5b' });
    const res = await t.post('/', alert, auth);
    assert.equal(res.status, 202);
    assert.equal(res.json.uuid, alert.uuid, 'uuid kept when present');
    await receiver.waitFor((rs) => ['/slack', '/pd', '/hook', '/tpl'].every((p) => rs.some((r) => r.url.startsWith(p) && r.body.includes('Terminal shell'))));

    assert.deepEqual(bodiesAt('/tpl'), [{ text: 'Terminal shell in container in pod web-1', level: 'critical' }], 'per-destination body template');

    const [hook] = bodiesAt('/hook');
    assert.deepEqual(hook, { ...alert, output_fields: alert.output_fields }, 'webhook gets the alert as Falcosidekick sends it');
    assert.equal(receiver.requests.find((r) => r.url === '/hook')?.headers['x-peregrine-alert-id'], alert.uuid);

    const [slack] = bodiesAt('/slack') as Array<{ attachments: Array<{ color: string; fallback: string; fields: Array<{ title: string; value: string }> }> }>;
    assert.equal(slack.attachments[0].color, '#ff5400', 'Critical is orange, as Falcosidekick');
    assert.equal(slack.attachments[0].fallback, alert.output);
    assert.deepEqual(slack.attachments[0].fields.slice(0, 3).map((f) => [f.title, f.value]), [['rule', 'Terminal shell in container'], ['priority', 'Critical'], ['source', 'syscall']]);

    const [pd] = bodiesAt('/pd') as Array<{ routing_key: string; event_action: string; payload: { severity: string; source: string } }>;
    assert.equal(pd.routing_key, 'R0UT1NGKEY');
    assert.equal(pd.event_action, 'trigger');
    assert.equal(pd.payload.severity, 'critical');
    assert.equal(pd.payload.source, 'node-1');
  });

  test('routing: priority and output-field conditions decide the destinations; uuid is filled when absent', async () => {
    const before = receiver.requests.length;
    const quiet = falcoAlert({ priority: 'Notice', rule: 'Notice rule', output_fields: { 'k8s.ns.name': 'kube-system' } });
    const notice = falcoAlert({ priority: 'Notice', rule: 'Notice rule 2' });
    const r1 = await t.post('/', quiet, auth);
    const r2 = await t.post('/', notice, auth);
    assert.equal(r1.status, 202);
    assert.match(String(r2.json.uuid), /^[0-9a-f-]{36}$/);
    await receiver.waitFor((rs) => rs.some((r) => r.body.includes('Notice rule 2')));
    const fresh = receiver.requests.slice(before);
    assert.deepEqual(fresh.map((r) => r.url), ['/hook'], 'Notice goes to the webhook only; kube-system goes nowhere; other rules skip the templated one');
  });

  test('alerts wait in the queue as encoded text; a job holding alert objects (queued by an earlier version) is still delivered', async () => {
    const queue = new Queue(new HubKeys('{peregrine}').queueName('hook'), { connection: { url: redis.url }, prefix: '{peregrine}' });
    try {
      await queue.pause();
      const r = await t.post('/', falcoAlert({ rule: 'Encoded in queue' }), auth);
      assert.equal(r.status, 202);
      const [waiting] = await queue.getJobs(['wait', 'paused']);
      assert.equal(typeof waiting.data.alerts[0], 'string', 'queued as JSON text');
      assert.equal((JSON.parse(waiting.data.alerts[0] as string) as { rule: string }).rule, 'Encoded in queue');
      const legacy = { ...falcoAlert({ rule: 'Legacy object job' }), uuid: '11111111-2222-4333-8444-555555555555' };
      await queue.add('deliver', { alerts: [legacy], receivedAt: Date.now() }, { attempts: 3, removeOnComplete: true });
      await queue.resume();
      await receiver.waitFor((rs) => rs.some((x) => x.url === '/hook' && x.body.includes('Legacy object job')) && rs.some((x) => x.url === '/hook' && x.body.includes('Encoded in queue')));
      const legacyBody = bodiesAt('/hook').find((b) => b.rule === 'Legacy object job');
      assert.equal(legacyBody?.uuid, legacy.uuid);
    } finally {
      await queue.resume();
      await queue.close();
    }
  });

  test('POST /v1/alerts takes a JSON array, NDJSON and gzip', async () => {
    const batch = Array.from({ length: 5 }, (_, i) => falcoAlert({ rule: `batch-json-${i}`, priority: 'Debug' }));
    const a = await t.post('/v1/alerts', batch, auth);
    assert.deepEqual([a.status, a.json.accepted], [202, 5]);
    const ndjson = batch.map((x) => JSON.stringify({ ...x, rule: `${String(x.rule)}-nd` })).join('\n');
    const b = await t.post('/v1/alerts', gzipSync(ndjson), { ...auth, 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' });
    assert.deepEqual([b.status, b.json.accepted], [202, 5]);
    await receiver.waitFor((rs) => rs.filter((r) => r.url === '/hook' && r.body.includes('batch-json-')).length === 10);
  });

  test('bad input gets its status and a message naming the problem', async () => {
    const cases: Array<[string, unknown, Record<string, string>, number, RegExp]> = [
      ['/', falcoAlert({ rule: undefined }), auth, 400, /rule: is required/],
      ['/', falcoAlert({ priority: 'Loud' }), auth, 400, /priority: unknown priority "Loud"/],
      ['/', falcoAlert({ time: 'yesterday' }), auth, 400, /time: .*RFC 3339/],
      ['/', '{"rule": ', auth, 400, /not valid JSON/],
      ['/', '', auth, 400, /empty body/],
      ['/v1/alerts', [falcoAlert(), falcoAlert({ priority: 7 })], auth, 400, /alert \[1\]: priority: must be a string/],
      ['/', falcoAlert(), {}, 401, /bearer token/],
      ['/', falcoAlert(), { authorization: 'Bearer wrong-token-0123456789' }, 401, /bearer token/],
      ['/test', {}, {}, 401, /bearer token/],
      ['/v1/alerts', 'x'.repeat(70 * 1024), auth, 413, /larger than the limit of 65536/],
      ['/v1/alerts', gzipSync(JSON.stringify(Array.from({ length: 400 }, () => falcoAlert()))), { ...auth, 'content-encoding': 'gzip' }, 413, /larger than the limit/],
      ['/', 'not gzip', { ...auth, 'content-encoding': 'gzip' }, 400, /gzip/],
      ['/', falcoAlert(), { ...auth, 'content-encoding': 'br' }, 415, /Content-Encoding "br"/],
    ];
    for (const [path, body, headers, status, message] of cases) {
      const res = await t.post(path, body, headers);
      assert.equal(res.status, status, `${path} ${String(message)}: got ${res.status} ${JSON.stringify(res.json)}`);
      assert.match(String(res.json.message), message);
    }
    const metrics = (await t.get('/metrics')).text;
    assert.match(metrics, /peregrine_hub_requests_rejected_total\{reason="invalid_alert"\} [1-9]/);
    assert.match(metrics, /peregrine_hub_requests_rejected_total\{reason="unauthorized"\} 3/);
    assert.match(metrics, /peregrine_hub_requests_rejected_total\{reason="too_large"\} 2/);
  });

  test('probes, /test to every destination, and metrics', async () => {
    assert.equal((await t.get('/ping')).text, 'pong\n');
    assert.deepEqual(JSON.parse((await t.get('/healthz')).text), { status: 'ok' });
    assert.equal((await t.get('/readyz')).status, 200);
    const res = await t.post('/test', '', auth);
    assert.equal(res.status, 202);
    // Debug priority, yet it reaches Slack (minimum warning) and PagerDuty (minimum critical): /test bypasses match.
    await receiver.waitFor((rs) => ['/slack', '/pd', '/hook', '/tpl'].every((p) => rs.some((r) => r.url.startsWith(p) && r.body.includes(p === '/tpl' ? 'Test rule' : 'This is a test from Peregrine'))));
    const metrics = (await t.get('/metrics')).text;
    for (const name of ['alerts_received_total', 'alerts_queued_total{destination="pager"}', 'alerts_delivered_total{destination="hook"}', 'delivery_latency_seconds_bucket', 'queue_jobs{destination="slack-secops",state="wait"}']) {
      assert.ok(metrics.includes(`peregrine_hub_${name}`), `metrics expose ${name}`);
    }
  });
});
