import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createSink, encodeAlert, falcosidekickPayload } from '../src/index.ts';
import type { Sink } from '../src/index.ts';
import { alertWith, ctx, deps, falcoAlert } from './support/fixtures.ts';
import { HttpReceiver, closedPortUrl } from './support/http-receiver.ts';

describe('webhook sink', () => {
  let receiver: HttpReceiver;
  const sinks: Sink[] = [];
  const webhook = (settings: Record<string, unknown>): Sink => {
    const sink = createSink('webhook', { address: `${receiver.url}/hook`, ...settings }, deps);
    sinks.push(sink);
    return sink;
  };

  before(async () => {
    receiver = await HttpReceiver.start();
  });
  beforeEach(() => {
    receiver.requests.length = 0;
  });
  after(async () => {
    await Promise.all(sinks.map((s) => s.close()));
    await receiver.stop();
  });

  it('POSTs each alert as Falcosidekick\'s JSON with content type, user agent and alert id', async () => {
    const second = alertWith({ uuid: 'second-uuid', rule: 'Other rule' });
    const result = await webhook({}).deliver([falcoAlert, second], ctx());
    assert.deepEqual(result, { kind: 'delivered' });
    assert.equal(receiver.requests.length, 2);
    const [first] = receiver.requests;
    assert.equal(first.method, 'POST');
    assert.equal(first.url, '/hook');
    assert.equal(first.headers['content-type'], 'application/json');
    assert.match(first.headers['user-agent'] ?? '', /^Peregrine\//);
    assert.equal(first.headers['x-peregrine-alert-id'], falcoAlert.uuid);
    assert.deepEqual(Object.keys(JSON.parse(first.body) as object), ['uuid', 'output', 'priority', 'rule', 'time', 'output_fields', 'source', 'tags', 'hostname']);
    assert.deepEqual(receiver.jsonBodies(), [falcosidekickPayload(falcoAlert), falcosidekickPayload(second)]);
    assert.equal((receiver.jsonBodies()[0] as { output_fields: Record<string, unknown> }).output_fields['proc.tty'], 34816);
  });

  it('uses PUT, custom headers (Falcosidekick "k:v" string form, values with colons) and a verifiable HMAC-SHA256 signature', async () => {
    const secret = 'a-long-enough-shared-secret';
    const sink = webhook({ method: 'put', customHeaders: 'Authorization:Bearer abc:def,X-Team:secops', hmacSecret: secret });
    assert.deepEqual(await sink.deliver([falcoAlert], ctx()), { kind: 'delivered' });
    const [req] = receiver.requests;
    assert.equal(req.method, 'PUT');
    assert.equal(req.headers.authorization, 'Bearer abc:def');
    assert.equal(req.headers['x-team'], 'secops');
    const expected = `sha256=${createHmac('sha256', secret).update(req.body).digest('hex')}`;
    assert.equal(req.headers['x-peregrine-signature'], expected);
    const forged = `sha256=${createHmac('sha256', 'another-secret-value').update(req.body).digest('hex')}`;
    assert.notEqual(req.headers['x-peregrine-signature'], forged);
  });

  it('renders a body template with JSON escaping', async () => {
    const nasty = alertWith({ rule: 'He said "hi"\nand left \\' });
    const sink = webhook({ bodyTemplate: '{"text": "{{ rule }} on {{ hostname }}", "pod": {{ output_fields["k8s.pod.name"] | json }}, "tags": {{ tags | json }}}' });
    assert.deepEqual(await sink.deliver([nasty], ctx()), { kind: 'delivered' });
    assert.deepEqual(receiver.jsonBodies(), [{ text: `${nasty.rule} on ip-10-0-12-34`, pod: 'web-7d4b9c6f5-x2k8q', tags: nasty.tags }]);
  });

  it('sends a batch as one JSON array when batchAsArray is set', async () => {
    const batch = [falcoAlert, alertWith({ uuid: 'b' }), alertWith({ uuid: 'c' })];
    assert.deepEqual(await webhook({ batchAsArray: true }).deliver(batch, ctx()), { kind: 'delivered' });
    assert.equal(receiver.requests.length, 1);
    assert.deepEqual(receiver.jsonBodies()[0], batch.map(falcosidekickPayload));
    assert.equal(receiver.requests[0].headers['x-peregrine-alert-id'], undefined);
    receiver.requests.length = 0;
    assert.deepEqual(await webhook({ batchAsArray: true }).deliver([], ctx()), { kind: 'delivered' });
    assert.equal(receiver.requests.length, 0, 'an empty batch sends no empty array');
  });

  it('deliverEncoded (alerts as queued by the hub) sends the same requests as deliver; a body template has no such path', async () => {
    const batch = [falcoAlert, alertWith({ uuid: 'b' })];
    for (const batchAsArray of [true, false]) {
      const sink = webhook({ batchAsArray });
      assert.ok(sink.deliverEncoded);
      assert.deepEqual(await sink.deliver(batch, ctx()), { kind: 'delivered' });
      const viaObjects = receiver.requests.splice(0).map((r) => [r.body, r.headers['x-peregrine-alert-id']]);
      assert.deepEqual(await sink.deliverEncoded(batch.map(encodeAlert), ctx()), { kind: 'delivered' });
      const viaText = receiver.requests.splice(0).map((r) => [r.body, r.headers['x-peregrine-alert-id']]);
      assert.deepEqual(viaText, viaObjects, `batchAsArray ${batchAsArray}`);
      assert.equal(viaText.length, batchAsArray ? 1 : 2);
    }
    receiver.reply({ status: 500 });
    const failed = await webhook({}).deliverEncoded?.(batch.map(encodeAlert), ctx());
    assert.equal(failed?.kind, 'retryable');
    assert.match(failed?.kind === 'retryable' ? failed.reason : '', /alert 1 of 2, uuid .*; 0 delivered before it/);
    assert.equal(webhook({ bodyTemplate: '{"r": "{{ rule }}"}' }).deliverEncoded, undefined);
  });

  it('maps 503 + Retry-After to retryable with retryAfterMs, 400 to permanent with the body', async () => {
    receiver.reply({ status: 503, headers: { 'retry-after': '12' }, body: 'maintenance' });
    assert.deepEqual(await webhook({}).deliver([falcoAlert], ctx()), { kind: 'retryable', reason: 'webhook answered HTTP 503: maintenance', retryAfterMs: 12_000, delivered: 0 });
    receiver.reply({ status: 429, headers: { 'retry-after': new Date(Date.now() + 60_000).toUTCString() } });
    const limited = await webhook({}).deliver([falcoAlert], ctx());
    assert.ok(limited.kind === 'retryable' && limited.retryAfterMs !== undefined && limited.retryAfterMs > 50_000 && limited.retryAfterMs <= 60_000, JSON.stringify(limited));
    receiver.reply({ status: 400, body: '{"error":"unknown field"}' });
    assert.deepEqual(await webhook({}).deliver([falcoAlert], ctx()), { kind: 'permanent', reason: 'webhook answered HTTP 400: {"error":"unknown field"}', delivered: 0 });
  });

  it('stops a batch at the first failure and reports how many went through', async () => {
    receiver.reply({ status: 200 }, { status: 500, body: 'boom' });
    const batch = [falcoAlert, alertWith({ uuid: 'second' }), alertWith({ uuid: 'third' })];
    const result = await webhook({}).deliver(batch, ctx());
    assert.equal(result.kind, 'retryable');
    assert.ok(result.kind === 'retryable' && result.delivered === 1 && result.reason.includes('alert 2 of 3, uuid second'), JSON.stringify(result));
    assert.equal(receiver.requests.length, 2, 'the third alert must not be sent after the failure');
  });

  it('connection refused and a dropped connection are retryable', async () => {
    const dead = createSink('webhook', { address: `${await closedPortUrl()}/none` }, deps);
    const refused = await dead.deliver([falcoAlert], ctx());
    assert.equal(refused.kind, 'retryable');
    assert.match(refused.kind === 'retryable' ? refused.reason : '', /ECONNREFUSED/);
    receiver.reply({ destroy: true });
    assert.equal((await webhook({}).deliver([falcoAlert], ctx())).kind, 'retryable');
  });

  it('an abort from the hub (ctx.signal) ends a hanging request as retryable', async () => {
    receiver.reply({ hang: true });
    const controller = new AbortController();
    const pending = webhook({}).deliver([falcoAlert], ctx(controller.signal));
    while (receiver.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort(new Error('hub timeout'));
    const result = await pending;
    assert.equal(result.kind, 'retryable');
    assert.match(result.kind === 'retryable' ? result.reason : '', /aborted \(hub timeout\)/);
  });

  it('timeoutMs ends a hanging request as retryable', async () => {
    receiver.reply({ hang: true });
    const result = await webhook({ timeoutMs: 100 }).deliver([falcoAlert], ctx());
    assert.equal(result.kind, 'retryable');
  });

  it('rejects bad settings at start-up with key paths', () => {
    assert.throws(() => createSink('webhook', { address: 'not a url', method: 'DELETE', hmacSecret: 'short' }, deps, 'audit-hook'), (e: Error) => {
      assert.match(e.message, /audit-hook\.address: /);
      assert.match(e.message, /audit-hook\.method: .*'POST' \| 'PUT'/);
      assert.match(e.message, /audit-hook\.hmacSecret: use at least 16 characters/);
      return true;
    });
    assert.throws(() => createSink('webhook', { address: 'http://x', bodyTemplate: '{"a": {{ rule }}}' }, deps), /bodyTemplate: renders invalid JSON for a sample alert/);
    assert.throws(() => createSink('webhook', { address: 'http://x', bodyTemplate: '{"a": "{{ rul }}"}' }, deps), /bodyTemplate: template error at line 1, column 11: unknown field 'rul'/);
  });
});
