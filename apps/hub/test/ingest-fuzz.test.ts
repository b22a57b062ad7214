// Ingest property test: random and mutated bodies (plain, NDJSON, gzip, deflate)
// against a real hub. Every answer is 2xx or 4xx, the hub stays up, and every
// alert answered 202 reaches the receiver. Seeded: PEREGRINE_FUZZ_SEED=<n>
// replays a run; the seed is in every failure message.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deflateSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import { prng, startHttpReceiver, startTestRedis } from '@peregrine/testkit';
import type { HttpReceiver, TestRedis } from '@peregrine/testkit';
import { eventually, falcoAlert, startTestHub } from './support.ts';
import type { TestHub } from './support.ts';

const SEED = Number(process.env.PEREGRINE_FUZZ_SEED ?? Date.now() % 2 ** 31);
const REQUESTS = 400;
const BODY_LIMIT = 64 * 1024;

interface FuzzRequest {
  readonly what: string;
  readonly path: '/' | '/v1/alerts';
  readonly body: Buffer;
  readonly headers: Record<string, string>;
}

const NASTY = ['"', '\\', '{', '}', '[', ']', ',', ':', '\u0000', '\r\n', '\n', '\u2028', '\ud800', 'é', '💥', '__proto__', 'constructor', '1e999', '-0', '99999999999999999999999', 'null', 'true', ' '];

function makeRequests(random: () => number): FuzzRequest[] {
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const validAlert = (i: number): Record<string, unknown> => {
    const variants: Array<Record<string, unknown>> = [
      {},
      { uuid: `fuzz-${SEED}-${i}` },
      { uuid: '' },
      { output_fields: {} },
      { output_fields: { 'proc.aname[2]': 'bash', big: 18446744073709551615, n: -1.5, list: ['a', 2], nil: null } },
      { priority: pick(['info', 'WARNING', 'Emergency', 'debug']) },
      { time: '2024-06-10T06:13:20Z' },
      { tags: [] },
    ];
    return falcoAlert({ rule: `fuzz rule ${i % 7}`, ...pick(variants) });
  };
  const mutate = (text: string): string => {
    let s = text;
    const edits = 1 + int(4);
    for (let e = 0; e < edits; e++) {
      const at = int(s.length + 1);
      switch (int(5)) {
        case 0: s = s.slice(0, at) + pick(NASTY) + s.slice(at); break;
        case 1: s = s.slice(0, at) + s.slice(at + 1 + int(8)); break;
        case 2: s = s.slice(0, at); break;
        case 3: s = s.slice(0, at) + String.fromCharCode(int(0x110)) + s.slice(at + 1); break;
        default: s = s.slice(0, at) + s.slice(int(s.length), int(s.length)) + s.slice(at); break;
      }
    }
    return s;
  };
  const out: FuzzRequest[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const path = random() < 0.5 ? '/' : '/v1/alerts';
    const json = { 'content-type': 'application/json' };
    const batch = () => Array.from({ length: 1 + int(5) }, (_, k) => validAlert(i * 10 + k));
    const valueText = () => JSON.stringify(path === '/' && random() < 0.7 ? validAlert(i) : batch());
    switch (int(11)) {
      case 0:
      case 1:
        out.push({ what: 'valid', path, body: Buffer.from(valueText()), headers: json });
        break;
      case 2:
      case 3:
        out.push({ what: 'mutated JSON', path, body: Buffer.from(mutate(valueText())), headers: json });
        break;
      case 4:
        out.push({ what: 'random bytes', path, body: Buffer.from(Array.from({ length: int(300) }, () => int(256))), headers: pick([json, {}, { 'content-type': 'text/plain' }]) });
        break;
      case 5: {
        const lines = batch().map((a) => (random() < 0.2 ? mutate(JSON.stringify(a)) : JSON.stringify(a)));
        out.push({ what: 'NDJSON', path: '/v1/alerts', body: Buffer.from(lines.join(pick(['\n', '\r\n', '\n\n']))), headers: { 'content-type': 'application/x-ndjson' } });
        break;
      }
      case 6: {
        const odd: unknown[] = [
          [],
          {},
          'a string',
          42,
          null,
          JSON.parse(`${'['.repeat(20)}${JSON.stringify(validAlert(i))}${']'.repeat(20)}`) as unknown,
          JSON.parse('['.repeat(3000) + ']'.repeat(3000)) as unknown,
          { ...validAlert(i), output_fields: { nested: { deep: { x: 1 } } } },
          { ...validAlert(i), output_fields: JSON.parse('{"__proto__": ["p"], "constructor": "c"}') as unknown },
          { ...validAlert(i), uuid: pick(['a'.repeat(129), 'tab\tuuid', 'crlf\r\nX: 1', 'ünï', 7]) },
          { ...validAlert(i), rule: pick(['', ' ', 7, null]) },
          { ...validAlert(i), tags: pick(['x', [1], [null]]) },
        ];
        out.push({ what: 'odd value', path, body: Buffer.from(JSON.stringify(pick(odd))), headers: json });
        break;
      }
      case 7:
        out.push({ what: 'gzip of a valid body', path, body: gzipSync(valueText()), headers: { ...json, 'content-encoding': pick(['gzip', 'x-gzip', 'GZIP']) } });
        break;
      case 8: {
        const garbage = Buffer.from(Array.from({ length: 1 + int(500) }, () => int(256)));
        out.push({ what: 'gzip of garbage', path, body: gzipSync(random() < 0.5 ? garbage : Buffer.from(mutate(valueText()))), headers: { ...json, 'content-encoding': 'gzip' } });
        break;
      }
      case 9: {
        const whole = random() < 0.5 ? gzipSync(valueText()) : deflateSync(valueText());
        const encoding = whole[0] === 0x1f ? 'gzip' : 'deflate';
        const cut = random() < 0.5 ? whole.subarray(0, int(whole.length)) : Buffer.concat([whole.subarray(0, 10), Buffer.from(Array.from({ length: 40 }, () => int(256)))]);
        out.push({ what: `truncated/corrupt ${encoding}`, path, body: cut, headers: { ...json, 'content-encoding': encoding } });
        break;
      }
      default: {
        // A gzip bomb: a few KB on the wire, far over the body limit decoded.
        const decodedSize = BODY_LIMIT * (2 + int(200));
        const bomb = gzipSync(random() < 0.5 ? Buffer.alloc(decodedSize, 0x20) : Buffer.from(`[${JSON.stringify(validAlert(i))}${' '.repeat(decodedSize)}]`));
        out.push({ what: `gzip bomb (${decodedSize} bytes decoded)`, path, body: bomb, headers: { ...json, 'content-encoding': 'gzip' } });
      }
    }
  }
  return out;
}

/** How many alerts a body the hub accepted holds: one JSON value (an array counts its items), else one per non-blank line. */
function alertsIn(r: FuzzRequest): number {
  const encoding = r.headers['content-encoding']?.toLowerCase();
  const raw = encoding === undefined ? r.body : encoding === 'deflate' ? inflateSync(r.body) : gunzipSync(r.body);
  const text = raw.toString('utf8');
  try {
    const value = JSON.parse(text) as unknown;
    return Array.isArray(value) ? value.length : 1;
  } catch {
    return text.split('\n').filter((line) => line.trim() !== '').length;
  }
}

describe(`ingest fuzz (seed ${SEED}; replay with PEREGRINE_FUZZ_SEED=${SEED})`, () => {
  let redis: TestRedis;
  let receiver: HttpReceiver;
  let t: TestHub;
  let delivered = 0;

  before(async () => {
    redis = await startTestRedis();
    receiver = await startHttpReceiver();
    receiver.respond = (req) => {
      delivered += (JSON.parse(req.body) as unknown[]).length;
      return { status: 200 };
    };
    t = await startTestHub(redis.url, {
      bodyLimitBytes: BODY_LIMIT,
      destinations: { all: { type: 'webhook', settings: { address: `${receiver.url}/in`, batchAsArray: true } } },
    });
  });

  after(async () => {
    await t.hub.close();
    await receiver.close();
    await redis.stop();
  });

  test(`${REQUESTS} random, mutated and compressed bodies: never 5xx, the hub stays up, every accepted alert is delivered once`, async () => {
    const requests = makeRequests(prng(SEED));
    let accepted = 0;
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const index = next++;
        const r = requests[index];
        const res = await fetch(t.hub.address + r.path, { method: 'POST', headers: r.headers, body: r.body, signal: AbortSignal.timeout(30_000) }).catch((e: Error) => {
          assert.fail(`seed ${SEED}, request ${index} (${r.what} to ${r.path}): the hub did not answer: ${e.message}`);
        });
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const context = `seed ${SEED}, request ${index} (${r.what} to ${r.path}, body ${JSON.stringify(r.body.subarray(0, 120).toString('latin1'))}): ${res.status} ${text.slice(0, 300)}`;
        assert.ok(res.status < 500, context);
        assert.ok(res.status === 202 || (res.status >= 400 && res.status < 500), context);
        if (res.status === 202) {
          const json = JSON.parse(text) as { accepted?: number; uuid?: string };
          // POST / answers with the first uuid only (it takes an array or NDJSON too): count the body.
          accepted += r.path === '/' ? alertsIn(r) : (json.accepted ?? Number.NaN);
        } else {
          assert.match(text, /"message":"[^"]+/, `${context}: a refusal says why`);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    assert.ok(accepted > 0, `seed ${SEED}: some bodies were valid`);
    assert.equal((await t.get('/healthz')).status, 200, `seed ${SEED}: the hub is up`);
    await eventually(() => delivered >= accepted, 30_000, `seed ${SEED}: ${accepted} accepted alerts delivered (got ${delivered}; statuses ${JSON.stringify([...statuses])})`);
    // The hub's own count, read after the receiver's: nothing failed or waits.
    assert.equal(delivered, accepted, `seed ${SEED}: every accepted alert delivered exactly once`);
    const metrics = (await t.get('/metrics')).text;
    assert.doesNotMatch(metrics, /peregrine_hub_alerts_dead_lettered_total\{destination="all"\} [1-9]/, `seed ${SEED}: nothing dead-lettered`);
  });
});
