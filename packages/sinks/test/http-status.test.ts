import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRetryAfter, resultFromStatus } from '../src/index.ts';

describe('HTTP status → delivery result', () => {
  it('2xx is delivered', () => {
    for (const status of [200, 201, 202, 204]) assert.deepEqual(resultFromStatus('x', { status }), { kind: 'delivered' });
  });

  it('408, 429 and 5xx are retryable; Retry-After becomes retryAfterMs', () => {
    for (const status of [408, 429, 500, 502, 503, 504]) {
      const r = resultFromStatus('x', { status, body: 'busy' });
      assert.equal(r.kind, 'retryable', String(status));
      assert.equal('retryAfterMs' in r, false);
    }
    assert.deepEqual(resultFromStatus('slack', { status: 429, retryAfter: '7', body: 'rate_limited' }), {
      kind: 'retryable',
      reason: 'slack answered HTTP 429: rate_limited',
      retryAfterMs: 7000,
    });
  });

  it('other 4xx (and 3xx) are permanent, with the status and a body snippet in the reason', () => {
    for (const status of [400, 401, 403, 404, 410, 413, 422, 301]) assert.equal(resultFromStatus('x', { status }).kind, 'permanent', String(status));
    const r = resultFromStatus('pagerduty', { status: 400, body: '{"status":"invalid event",\n "errors":["routing_key is invalid"]}' });
    assert.deepEqual(r, { kind: 'permanent', reason: 'pagerduty answered HTTP 400: {"status":"invalid event", "errors":["routing_key is invalid"]}' });
    const long = resultFromStatus('x', { status: 400, body: 'y'.repeat(5000) });
    assert.ok(long.kind === 'permanent' && long.reason.length < 400 && long.reason.endsWith('…'));
  });
});

describe('Retry-After parsing', () => {
  const now = Date.parse('2026-11-29T06:00:00Z');
  it('reads delta-seconds', () => {
    assert.equal(parseRetryAfter('0', now), 0);
    assert.equal(parseRetryAfter(' 120 ', now), 120_000);
    assert.equal(parseRetryAfter('1.5', now), 1500);
  });
  it('reads an HTTP date relative to now, never negative', () => {
    assert.equal(parseRetryAfter('Sun, 29 Nov 2026 06:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Sun, 29 Nov 2026 05:59:00 GMT', now), 0);
  });
  it('ignores missing or unreadable values', () => {
    for (const v of [undefined, null, '', 'soon', '-5', '5s']) assert.equal(parseRetryAfter(v, now), undefined, String(v));
  });
});
