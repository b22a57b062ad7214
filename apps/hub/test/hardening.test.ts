// Regression tests for issue 13 ("Hardening"): each attack against a real hub
// (real Redis, real HTTP receivers), asserting the fixed behaviour.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { Queue } from 'bullmq';
import { encodeAlert, parseRetryAfter } from '@peregrine/sinks';
import { startHttpReceiver, startTestRedis } from '@peregrine/testkit';
import type { HttpReceiver, ReceivedRequest, TestRedis } from '@peregrine/testkit';
import { DEFAULT_MAX_RETRY_DELAY_MS, RetryableDeliveryError, retryDelayMs } from '../src/delivery/backoff.ts';
import { decodeContentEncoding } from '../src/http/content-encoding.ts';
import { HubKeys } from '../src/redis/keys.ts';
import pino from 'pino';
import { parseHubConfig, startHub } from '../src/index.ts';
import type { RunningHub } from '../src/index.ts';
import { alert, eventually, falcoAlert, startTestHub } from './support.ts';
import type { TestHub } from './support.ts';

interface DeadLetterListing {
  total: number;
  entries: Array<{ id?: string; alert: { uuid: string; rule: string; output: string }; reason: string; kind: string; attempts: number }>;
}

/** uuid → number of 2xx deliveries, from the webhook's one-request-per-alert bodies. */
function deliveriesByUuid(requests: readonly ReceivedRequest[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const r of requests) {
    const uuid = (JSON.parse(r.body) as { uuid: string }).uuid;
    seen.set(uuid, (seen.get(uuid) ?? 0) + 1);
  }
  return seen;
}

describe('hardening: one alert cannot fail the others', () => {
  let redis: TestRedis;
  let receiver: HttpReceiver;
  let t: TestHub;

  before(async () => {
    redis = await startTestRedis();
    receiver = await startHttpReceiver();
    t = await startTestHub(redis.url, {
      delivery: { attempts: 3, backoffInitialMs: 50, backoffMaxMs: 200, timeoutMs: 5000 },
      // One request per alert (the X-Peregrine-Alert-Id mode).
      destinations: { hook: { type: 'webhook', settings: { address: `${receiver.url}/in` } } },
    });
  });

  after(async () => {
    await t.hub.close();
    await receiver.close();
    await redis.stop();
  });

  const deadLetters = async (): Promise<DeadLetterListing> => JSON.parse((await t.get('/v1/deadletter?destination=hook&limit=1000')).text) as DeadLetterListing;

  test('a uuid with CR/LF is a 400 naming `uuid` at both ingest routes, and nothing of that request is queued', async () => {
    const before = receiver.attempts.length;
    const batch = ['good-1', 'bad\r\nX-Injected: 1', 'good-3', 'good-4'].map((uuid) => falcoAlert({ rule: 'crlf batch', uuid }));
    const res = await t.post('/v1/alerts', batch);
    assert.equal(res.status, 400);
    assert.match(String(res.json.message), /^alert \[1\]: uuid: must be a UUID or up to 128 visible ASCII characters/);
    const single = await t.post('/', falcoAlert({ rule: 'crlf single', uuid: 'x\ny' }));
    assert.equal(single.status, 400);
    assert.match(String(single.json.message), /^uuid: /);
    // All or nothing: a later good request is delivered, and nothing of the refused ones arrived.
    assert.equal((await t.post('/', falcoAlert({ rule: 'after crlf', uuid: 'after-crlf' }))).status, 202);
    await receiver.waitFor((rs) => rs.some((r) => r.body.includes('after-crlf')));
    const fresh = receiver.attempts.slice(before).map((r) => (JSON.parse(r.body) as { uuid: string }).uuid);
    assert.deepEqual(fresh, ['after-crlf']);
  });

  test('group commit: 5 bad uuids among 200 concurrent POST / are refused, the other 195 are each delivered exactly once', async () => {
    const uuids = Array.from({ length: 200 }, (_, i) => (i % 40 === 7 ? `bad-${i}\r\nX-Injected: ${i}` : `gc-${i}`));
    const answers = await Promise.all(uuids.map((uuid) => t.post('/', falcoAlert({ rule: 'group commit', uuid }))));
    uuids.forEach((uuid, i) => assert.equal(answers[i].status, uuid.startsWith('bad') ? 400 : 202, `${JSON.stringify(uuid)}: ${JSON.stringify(answers[i].json)}`));
    const good = uuids.filter((u) => u.startsWith('gc-'));
    assert.equal(good.length, 195);
    await receiver.waitFor((rs) => good.every((u) => rs.some((r) => r.body.includes(`"${u}"`))), 30_000);
    const seen = deliveriesByUuid(receiver.requests);
    for (const u of good) assert.equal(seen.get(u), 1, `${u} delivered once`);
    assert.equal((await deadLetters()).total, 0);
  });

  test('the receiver refusing one alert (422) dead-letters that alert alone; the others of its job are delivered exactly once', async () => {
    receiver.respond = (req) => (req.headers['x-peregrine-alert-id'] === 'refused-2' ? { status: 422, body: 'unprocessable' } : { status: 200 });
    try {
      const uuids = ['refused-1', 'refused-2', 'refused-3', 'refused-4'];
      // One request, so one job: the alerts after the refused one share its job.
      assert.equal((await t.post('/v1/alerts', uuids.map((uuid) => falcoAlert({ rule: 'one refused', uuid })))).status, 202);
      let listing: DeadLetterListing = { total: 0, entries: [] };
      await eventually(async () => {
        listing = await deadLetters();
        return listing.total === 1;
      }, 20_000, 'the refused alert dead-lettered');
      await receiver.waitFor((rs) => ['refused-1', 'refused-3', 'refused-4'].every((u) => rs.some((r) => r.headers['x-peregrine-alert-id'] === u)));
      assert.equal(listing.entries[0].alert.uuid, 'refused-2');
      assert.equal(listing.entries[0].kind, 'permanent');
      assert.match(listing.entries[0].reason, /HTTP 422/);
      const seen = deliveriesByUuid(receiver.requests);
      for (const u of ['refused-1', 'refused-3', 'refused-4']) assert.equal(seen.get(u), 1, `${u} delivered once`);
      assert.equal(seen.get('refused-2'), undefined);
      assert.equal(receiver.attempts.filter((r) => r.headers['x-peregrine-alert-id'] === 'refused-2').length, 1, 'a permanent failure is not retried');
      // Once the receiver takes it, a replay delivers it.
      receiver.respond = () => ({ status: 200 });
      assert.equal((await t.post('/v1/deadletter/replay', { all: true })).status, 202);
      await receiver.waitFor((rs) => rs.some((r) => r.headers['x-peregrine-alert-id'] === 'refused-2'));
      assert.equal((await deadLetters()).total, 0);
    } finally {
      receiver.respond = () => ({ status: 200 });
    }
  });

  test('a job queued before the uuid check (a CR/LF uuid already in Redis): the sink fails that alert alone, the rest of the job is delivered once', async () => {
    const queue = new Queue(new HubKeys('{peregrine}').queueName('hook'), { connection: { url: redis.url }, prefix: '{peregrine}' });
    try {
      const jobAlerts = ['queued-1', 'bad\r\nX-Injected: 1', 'queued-3', 'queued-4'].map((uuid) => encodeAlert({ ...alert({ rule: 'queued before the check' }), uuid }));
      await queue.add('deliver', { alerts: jobAlerts, receivedAt: Date.now() }, { attempts: 1_000_000, backoff: { type: 'peregrine' }, removeOnComplete: true });
      await receiver.waitFor((rs) => ['queued-1', 'queued-3', 'queued-4'].every((u) => rs.some((r) => r.headers['x-peregrine-alert-id'] === u)), 20_000);
      let listing: DeadLetterListing = { total: 0, entries: [] };
      await eventually(async () => {
        listing = await deadLetters();
        return listing.total === 1;
      }, 20_000, 'the bad alert dead-lettered').catch(async (e: Error) => assert.fail(`${e.message}: ${JSON.stringify(await deadLetters())} ${JSON.stringify(await queue.getJobCounts())} ${JSON.stringify((await queue.getJobs(['failed'])).map((j) => j.failedReason))}`));
      assert.equal(listing.entries[0].alert.uuid, 'bad\r\nX-Injected: 1');
      assert.equal(listing.entries[0].kind, 'permanent');
      assert.match(listing.entries[0].reason, /X-Peregrine-Alert-Id/);
      const seen = deliveriesByUuid(receiver.requests);
      for (const u of ['queued-1', 'queued-3', 'queued-4']) assert.equal(seen.get(u), 1, `${u} delivered once`);
      assert.ok(receiver.attempts.every((r) => r.headers['x-injected'] === undefined), 'no header was injected');
    } finally {
      await queue.close();
    }
  });
});

describe('hardening: a receiver cannot park a job for ever with Retry-After', () => {
  let redis: TestRedis;
  let receiver: HttpReceiver;
  let t: TestHub;
  // 310 digits of seconds is Infinity ms; 300 digits is finite but ~1e294 years; then a date in 9999.
  const retryAfter: Record<string, string> = {
    'ra-infinite': '9'.repeat(310),
    'ra-huge': '9'.repeat(300),
    'ra-year-9999': 'Fri, 31 Dec 9999 23:59:59 GMT',
  };

  before(async () => {
    redis = await startTestRedis();
    receiver = await startHttpReceiver();
    receiver.respond = (req) => ({ status: 503, headers: { 'retry-after': retryAfter[String(req.headers['x-peregrine-alert-id'])] ?? '1' }, body: 'busy' });
    t = await startTestHub(redis.url, {
      delivery: { attempts: 3, backoffInitialMs: 50, backoffMaxMs: 200, maxRetryDelayMs: 300, timeoutMs: 5000 },
      destinations: { hook: { type: 'webhook', settings: { address: `${receiver.url}/in` } } },
    });
  });

  after(async () => {
    await t.hub.close();
    await receiver.close();
    await redis.stop();
  });

  test('Retry-After of 310 digits, 300 digits or the year 9999: every attempt still runs, then the alert is dead-lettered', async () => {
    const uuids = Object.keys(retryAfter);
    for (const uuid of uuids) assert.equal((await t.post('/', falcoAlert({ rule: 'parked', uuid }))).status, 202);
    let listing: DeadLetterListing = { total: 0, entries: [] };
    await eventually(async () => {
      listing = JSON.parse((await t.get('/v1/deadletter?destination=hook')).text) as DeadLetterListing;
      return listing.total === uuids.length;
    }, 20_000, 'all three dead-lettered after their attempts').catch((e: Error) => {
      const attempts = uuids.map((u) => `${u}: ${receiver.attempts.filter((r) => r.headers['x-peregrine-alert-id'] === u).length} attempts`);
      assert.fail(`${e.message} (${attempts.join(', ')}; a job waits on an unbounded Retry-After)`);
    });
    for (const uuid of uuids) assert.equal(receiver.attempts.filter((r) => r.headers['x-peregrine-alert-id'] === uuid).length, 3, uuid);
    assert.deepEqual(listing.entries.map((e) => e.alert.uuid).sort(), [...uuids].sort());
    for (const e of listing.entries) assert.equal(e.kind, 'exhausted');
  });

  test('the retry delay is finite and capped: parseRetryAfter ignores values that are no finite number, retryDelayMs caps at maxRetryDelayMs', () => {
    assert.equal(parseRetryAfter('9'.repeat(310)), undefined);
    assert.equal(parseRetryAfter(`${'9'.repeat(310)}.5`), undefined);
    assert.equal(parseRetryAfter('120'), 120_000);
    const config = { backoffInitialMs: 1000, backoffMaxMs: 8000, maxRetryDelayMs: 60_000 };
    assert.equal(retryDelayMs(1, config, new RetryableDeliveryError('busy', Number('9'.repeat(300)) * 1000)), 60_000);
    assert.equal(retryDelayMs(1, config, new RetryableDeliveryError('busy', parseRetryAfter('Fri, 31 Dec 9999 23:59:59 GMT'))), 60_000);
    assert.equal(retryDelayMs(1, config, new RetryableDeliveryError('busy', 30_000)), 30_000, 'a Retry-After under the cap is honoured');
    for (const bad of [Infinity, Number.NaN, -5]) {
      const delay = retryDelayMs(1, config, new RetryableDeliveryError('busy', bad), () => 1);
      assert.equal(delay, 1000, `${bad}: ignored, the backoff applies`);
    }
    assert.equal(retryDelayMs(30, { backoffInitialMs: 1000, backoffMaxMs: 10 ** 12, maxRetryDelayMs: 5000 }, undefined, () => 1), 5000, 'the backoff is capped too');
    assert.equal(retryDelayMs(1, { backoffInitialMs: 1000, backoffMaxMs: 8000 }, new RetryableDeliveryError('busy', 10 ** 15)), DEFAULT_MAX_RETRY_DELAY_MS);
  });
});

describe('hardening: bad bodies are answered 400, not 500', () => {
  let redis: TestRedis;
  let hub: RunningHub;
  const errorLines: string[] = [];

  before(async () => {
    redis = await startTestRedis();
    const parsed = parseHubConfig({ listen: { host: '127.0.0.1', port: 0 }, redis: { url: redis.url, lockDurationMs: 3000 }, destinations: { hook: { type: 'webhook', settings: { address: 'http://127.0.0.1:9/in' } } } });
    // A logger that keeps error lines: a 500 logs its stack at level error.
    const logger = pino({ level: 'error' }, { write: (line: string) => void errorLines.push(line) });
    hub = await startHub(parsed, { logger });
  });

  after(async () => {
    await hub.close();
    await redis.stop();
  });

  const post = async (path: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(hub.address + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(30_000) });
    return { status: res.status, json: JSON.parse(await res.text()) as Record<string, unknown> };
  };

  test('POST /v1/deadletter/replay with a body that is not JSON is a 400 saying so, with nothing logged as an error', async () => {
    for (const body of ['{"all": tru', 'not json at all', '{"ids": [1,]}']) {
      const res = await post('/v1/deadletter/replay', body);
      assert.equal(res.status, 400, body);
      assert.equal(res.json.error, 'Bad Request');
      assert.match(String(res.json.message), /^body is not valid JSON \(.+\); send \{"all": true\}/);
    }
    assert.equal((await post('/v1/deadletter/replay', '')).status, 400, 'an empty body says what to replay');
    assert.equal((await post('/v1/deadletter/replay', JSON.stringify({ all: true }))).status, 202);
    assert.deepEqual(errorLines, []);
  });
});

describe('hardening: a sender-chosen uuid is not the hub\'s identity of an alert', () => {
  let redis: TestRedis;
  let dead: HttpReceiver;
  let throttled: HttpReceiver;
  let t: TestHub;

  before(async () => {
    redis = await startTestRedis();
    [dead, throttled] = await Promise.all([startHttpReceiver(), startHttpReceiver()]);
    dead.respond = () => ({ status: 422, body: 'no' });
    t = await startTestHub(redis.url, {
      delivery: { attempts: 2, backoffInitialMs: 50, backoffMaxMs: 100, timeoutMs: 5000 },
      destinations: {
        dead: { type: 'webhook', settings: { address: `${dead.url}/in` }, match: { rules: ['reuse dead *'] } },
        throttled: {
          type: 'webhook',
          settings: { address: `${throttled.url}/in` },
          match: { rules: ['reuse throttled *'] },
          throttle: { key: '{{ rule }}', windowMs: 600_000 },
          // One job at a time, in order: when the last alert arrives, every earlier job was decided.
          delivery: { concurrency: 1 },
        },
      },
    });
  });

  after(async () => {
    await t.hub.close();
    await Promise.all([dead.close(), throttled.close()]);
    await redis.stop();
  });

  test('two different alerts with one uuid are two dead-letter entries; a replay by that uuid brings back both', async () => {
    for (const rule of ['reuse dead A', 'reuse dead B']) assert.equal((await t.post('/', falcoAlert({ rule, uuid: 'reused-1' }))).status, 202);
    let listing: DeadLetterListing = { total: 0, entries: [] };
    await eventually(async () => {
      listing = JSON.parse((await t.get('/v1/deadletter?destination=dead')).text) as DeadLetterListing;
      return listing.total === 2;
    }, 20_000, 'both alerts dead-lettered (the second one must not overwrite the first)');
    assert.deepEqual(listing.entries.map((e) => e.alert.rule).sort(), ['reuse dead A', 'reuse dead B']);
    const ids = listing.entries.map((e) => e.id);
    assert.equal(new Set(ids).size, 2, `distinct entry ids: ${JSON.stringify(ids)}`);

    dead.respond = () => ({ status: 200 });
    const replay = await t.post('/v1/deadletter/replay', { ids: ['reused-1'] });
    assert.deepEqual([replay.status, replay.json.replayed], [202, 2]);
    await dead.waitFor((rs) => rs.length === 2);
    assert.deepEqual(dead.requests.map((r) => (JSON.parse(r.body) as { rule: string }).rule).sort(), ['reuse dead A', 'reuse dead B']);
    assert.equal(JSON.parse((await t.get('/v1/deadletter?destination=dead')).text).total, 0);
  });

  test('throttle: reusing an admitted alert\'s uuid does not bypass the throttle, and a reused suppressed uuid is still counted', async () => {
    const sent = [
      { uuid: 'tx:1', rule: 'reuse throttled r1' }, // admitted, opens the window
      { uuid: 'ty:2', rule: 'reuse throttled r1' }, // suppressed (first of the window: a summary is scheduled)
      { uuid: 'tx:1', rule: 'reuse throttled r1' }, // another alert with the admitted one's uuid: suppressed too
      { uuid: 'ty:2', rule: 'reuse throttled r1' }, // another alert with a suppressed one's uuid: counted
      { uuid: 'sentinel', rule: 'reuse throttled r9' }, // another key: admitted, and last
    ];
    for (const a of sent) assert.equal((await t.post('/', falcoAlert(a))).status, 202);
    await throttled.waitFor((rs) => rs.some((r) => r.body.includes('"sentinel"')), 20_000);
    assert.deepEqual(throttled.requests.map((r) => (JSON.parse(r.body) as { uuid: string }).uuid), ['tx:1', 'sentinel']);
    assert.match((await t.get('/metrics')).text, /peregrine_hub_alerts_suppressed_total\{destination="throttled"\} 3/);
  });
});

describe('hardening: output field names from the sender cannot replace a prototype', () => {
  let redis: TestRedis;
  let receiver: HttpReceiver;
  let t: TestHub;

  before(async () => {
    redis = await startTestRedis();
    receiver = await startHttpReceiver();
    t = await startTestHub(redis.url, {
      enrich: { bracketReplacer: '_' },
      destinations: { hook: { type: 'webhook', settings: { address: `${receiver.url}/in` } } },
    });
  });

  after(async () => {
    await t.hub.close();
    await receiver.close();
    await redis.stop();
  });

  test('bracketReplacer: a field named __proto__, or renamed to it from __proto_[, arrives as an ordinary field', async () => {
    const renamed = falcoAlert({ uuid: 'proto-renamed', output_fields: { 'proc.aname[2]': 'bash', '__proto_[': ['evil'] } });
    // JSON.stringify would drop a __proto__ key of an object literal: write the body by hand.
    const ownBody = JSON.stringify(falcoAlert({ uuid: 'proto-own', output_fields: { 'proc.aname[2]': 'sshd', own_proto: ['own'] } })).replace('"own_proto"', '"__proto__"');
    assert.equal((await t.post('/', renamed)).status, 202);
    assert.equal((await t.post('/', ownBody)).status, 202);
    await receiver.waitFor((rs) => rs.length === 2);
    const byUuid = new Map(receiver.requests.map((r) => {
      const body = JSON.parse(r.body) as { uuid: string; output_fields: Record<string, unknown> };
      return [body.uuid, body.output_fields] as const;
    }));
    const a = byUuid.get('proto-renamed') as Record<string, unknown>;
    assert.ok(Object.hasOwn(a, '__proto__'), `__proto__ is an own field: ${JSON.stringify(a)}`);
    assert.deepEqual(a.__proto__, ['evil']);
    assert.equal(a['proc.aname_2'], 'bash');
    const b = byUuid.get('proto-own') as Record<string, unknown>;
    assert.ok(Object.hasOwn(b, '__proto__'), `__proto__ is an own field: ${JSON.stringify(b)}`);
    assert.deepEqual(b.__proto__, ['own']);
    assert.equal(b['proc.aname_2'], 'sshd');
  });
});

describe('hardening: a gzip bomb is not inflated past the body limit', () => {
  test('the decoder stops and is destroyed once the decoded body passes the limit, while the request is still open', async () => {
    const payload = new PassThrough();
    const { body, decoder } = decodeContentEncoding(payload, 'gzip', 64 * 1024);
    // 64 MB of zeros: about 64 KB on the wire. The request stays open afterwards.
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    payload.write(bomb.subarray(0, bomb.length / 2));
    let decoded = 0;
    const error = await new Promise<Error & { statusCode?: number }>((resolve) => {
      body.on('data', (chunk: Buffer) => (decoded += chunk.length));
      body.once('error', resolve);
    });
    assert.equal(error.statusCode, 413);
    assert.ok(decoded <= 64 * 1024, `${decoded} decoded bytes handed on`);
    assert.equal(decoder.destroyed, true, 'the decoder is destroyed');
    const consumed = decoder.bytesWritten;
    payload.write(bomb.subarray(bomb.length / 2));
    await new Promise((r) => setImmediate(r));
    assert.equal(decoder.bytesWritten, consumed, 'bytes sent after the 413 are not inflated');
    payload.end();
  });

  test('against the hub: a gzip bomb is a 413 naming the limit, and the hub answers the next request', async () => {
    const redis = await startTestRedis();
    const receiver = await startHttpReceiver();
    const t = await startTestHub(redis.url, { bodyLimitBytes: 64 * 1024, destinations: { hook: { type: 'webhook', settings: { address: `${receiver.url}/in` } } } });
    try {
      const bomb = gzipSync(Buffer.from(`[${JSON.stringify(falcoAlert())}${' '.repeat(32 * 1024 * 1024)}]`));
      const res = await t.post('/v1/alerts', bomb, { 'content-encoding': 'gzip' });
      assert.equal(res.status, 413);
      assert.match(String(res.json.message), /larger than the limit of 65536 bytes/);
      const ok = await t.post('/v1/alerts', gzipSync(JSON.stringify([falcoAlert({ uuid: 'after-bomb' })])), { 'content-encoding': 'gzip' });
      assert.equal(ok.status, 202);
      await receiver.waitFor((rs) => rs.some((r) => r.body.includes('after-bomb')));
    } finally {
      await t.hub.close();
      await receiver.close();
      await redis.stop();
    }
  });
});
