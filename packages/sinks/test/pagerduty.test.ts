import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { PRIORITIES } from '@peregrine/alert';
import { PagerDutySink, createSink, pagerDutyEnqueueUrl, pagerDutySettingsSchema, pagerDutySinkModule } from '../src/index.ts';
import type { PagerDutyTriggerEvent, Sink } from '../src/index.ts';
import { alertWith, alertWithPriority, ctx, deps, falcoAlert } from './support/fixtures.ts';
import { HttpReceiver } from './support/http-receiver.ts';

const ROUTING_KEY = 'R0123456789abcdef0123456789abcde';

describe('pagerduty endpoint resolution', () => {
  const url = (raw: Record<string, unknown>) => pagerDutyEnqueueUrl(pagerDutySettingsSchema.parse({ routingKey: ROUTING_KEY, ...raw }));
  it('switches between the US and EU hosts (Falcosidekick ignores region)', () => {
    assert.equal(url({}), 'https://events.pagerduty.com/v2/enqueue');
    assert.equal(url({ region: 'us' }), 'https://events.pagerduty.com/v2/enqueue');
    assert.equal(url({ region: 'EU' }), 'https://events.eu.pagerduty.com/v2/enqueue');
  });
  it('baseUrl overrides the region', () => {
    assert.equal(url({ region: 'eu', baseUrl: 'http://127.0.0.1:8080/' }), 'http://127.0.0.1:8080/v2/enqueue');
  });
  it('the sink posts to the resolved URL', () => {
    const sink = pagerDutySinkModule.create(pagerDutySettingsSchema.parse({ routingKey: ROUTING_KEY, region: 'eu' }), deps);
    assert.ok(sink instanceof PagerDutySink);
    assert.equal(sink.url, 'https://events.eu.pagerduty.com/v2/enqueue');
  });
  it('rejects an unknown region and a missing routing key', () => {
    assert.throws(() => createSink('pagerduty', { region: 'apac' }, deps, 'oncall'), (e: Error) => {
      assert.match(e.message, /oncall\.routingKey: Required/);
      assert.match(e.message, /oncall\.region: .*'us' \| 'eu'/);
      return true;
    });
  });
});

describe('pagerduty sink (Events API v2, against a local receiver)', () => {
  let receiver: HttpReceiver;
  const sinks: Sink[] = [];
  const pagerduty = (settings: Record<string, unknown> = {}): Sink => {
    const sink = createSink('pagerduty', { routingKey: ROUTING_KEY, baseUrl: receiver.url, ...settings }, deps);
    sinks.push(sink);
    return sink;
  };
  const events = () => receiver.jsonBodies() as PagerDutyTriggerEvent[];

  before(async () => {
    receiver = await HttpReceiver.start();
    receiver.fallback = { status: 202, headers: { 'content-type': 'application/json' }, body: '{"status":"success","message":"Event processed","dedup_key":"k"}' };
  });
  beforeEach(() => {
    receiver.requests.length = 0;
  });
  after(async () => {
    await Promise.all(sinks.map((s) => s.close()));
    await receiver.stop();
  });

  it('POSTs a documented trigger event to /v2/enqueue', async () => {
    assert.deepEqual(await pagerduty().deliver([falcoAlert], ctx()), { kind: 'delivered' });
    const [req] = receiver.requests;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/v2/enqueue');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.deepEqual(events()[0], {
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: 'Read sensitive file untrusted|ip-10-0-12-34|web-7d4b9c6f5-x2k8q',
      client: 'Peregrine',
      payload: {
        summary: falcoAlert.output.replace('06:13:20.123456789: Warning ', ''),
        source: 'ip-10-0-12-34',
        severity: 'warning',
        timestamp: '2024-06-10T06:13:20.123Z',
        component: 'web-7d4b9c6f5-x2k8q',
        group: 'shop',
        class: 'Read sensitive file untrusted',
        custom_details: {
          ...falcoAlert.output_fields,
          rule: falcoAlert.rule,
          priority: 'Warning',
          source: 'syscall',
          hostname: 'ip-10-0-12-34',
          tags: falcoAlert.tags,
          uuid: falcoAlert.uuid,
          output: falcoAlert.output,
        },
      },
    });
  });

  it('maps every Falco priority to a PagerDuty severity (not always critical), with overrides', async () => {
    const batch = PRIORITIES.map((p) => alertWithPriority(p));
    assert.deepEqual(await pagerduty().deliver(batch, ctx()), { kind: 'delivered' });
    assert.deepEqual(
      events().map((e) => e.payload.severity),
      ['critical', 'critical', 'critical', 'error', 'warning', 'info', 'info', 'info'],
    );
    receiver.requests.length = 0;
    await pagerduty({ severityMap: { Notice: 'warning', Debug: 'warning' } }).deliver(batch, ctx());
    assert.deepEqual(events().map((e) => e.payload.severity), ['critical', 'critical', 'critical', 'error', 'warning', 'warning', 'info', 'warning']);
    for (const e of events()) assert.ok(['critical', 'error', 'warning', 'info'].includes(e.payload.severity));
  });

  it('dedup_key comes from the template; the default falls back when there is no pod; long keys are hashed', async () => {
    const hostOnly = alertWith({ output_fields: { 'proc.name': 'cat', 'container.name': 'host' } });
    await pagerduty().deliver([hostOnly], ctx());
    await pagerduty({ dedupKeyTemplate: '{{ rule }}:{{ output_fields["k8s.ns.name"] }}' }).deliver([falcoAlert], ctx());
    await pagerduty({ dedupKeyTemplate: '{{ output }}{{ output }}' }).deliver([falcoAlert], ctx());
    await pagerduty({ dedupKeyTemplate: '' }).deliver([falcoAlert], ctx());
    const [dflt, custom, long, none] = events();
    assert.equal(dflt.dedup_key, 'Read sensitive file untrusted|ip-10-0-12-34|-');
    assert.equal(dflt.payload.component, 'host');
    assert.equal('group' in dflt.payload, false);
    assert.equal(custom.dedup_key, 'Read sensitive file untrusted:shop');
    assert.match(long.dedup_key ?? '', /^[0-9a-f]{64}$/);
    assert.equal('dedup_key' in none, false);
  });

  it('keeps the summary within 1024 characters', async () => {
    await pagerduty().deliver([alertWith({ output: 'x'.repeat(5000) })], ctx());
    assert.equal(events()[0].payload.summary.length, 1024);
  });

  it('400 is permanent with PagerDuty\'s error text; 429 and 5xx are retryable; a batch stops at the first failure', async () => {
    receiver.reply({ status: 400, body: '{"status":"invalid event","message":"Event object is invalid","errors":["\'routing_key\' is invalid"]}' });
    const bad = await pagerduty().deliver([falcoAlert], ctx());
    assert.equal(bad.kind, 'permanent');
    assert.match(bad.kind === 'permanent' ? bad.reason : '', /^pagerduty answered HTTP 400: .*routing_key' is invalid/);

    receiver.reply({ status: 202 }, { status: 429, headers: { 'retry-after': '60' }, body: '{"status":"throttle"}' });
    const batch = [alertWith({ uuid: 'one' }), alertWith({ uuid: 'two' }), alertWith({ uuid: 'three' })];
    const throttled = await pagerduty().deliver(batch, ctx());
    assert.equal(throttled.kind, 'retryable');
    assert.ok(throttled.kind === 'retryable' && throttled.retryAfterMs === 60_000 && throttled.delivered === 1, JSON.stringify(throttled));
    assert.equal(receiver.requests.length, 3);

    receiver.reply({ status: 502, body: 'bad gateway' });
    assert.equal((await pagerduty().deliver([falcoAlert], ctx())).kind, 'retryable');
  });
});
