import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { parseJsonExact } from '@peregrine/alert';
import { freeLoopbackPort, startHttpReceiver, startTestRedis } from '@peregrine/testkit';
import type { HttpReceiver, TestRedis } from '@peregrine/testkit';
import { spawnHub } from './hub-process.ts';
import type { HubProcess } from './hub-process.ts';
import { eventually } from './support.ts';

// Falco prints int64/uint64 fields as exact JSON integers; these are beyond
// 2^53, where a JS number would round (…609046 → …609200).
const EXACT_FIELDS_TEXT =
  '{"evt.time":1764347516746609046,"fd.ino":18446744073709551615,"evt.res":-9223372036854775807,' +
  '"evt.args":[1764347516746609046,-1764347516746609047,"a",7],"x.float":1.25,"x.int":42,"x.neg":-7,"x.maxsafe":9007199254740991,"proc.name":"cat"}';

const EXACT_FIELDS: Record<string, unknown> = {
  'evt.time': 1764347516746609046n,
  'fd.ino': 18446744073709551615n,
  'evt.res': -9223372036854775807n,
  'evt.args': [1764347516746609046n, -1764347516746609047n, 'a', 7],
  'x.float': 1.25,
  'x.int': 42,
  'x.neg': -7,
  'x.maxsafe': 9007199254740991,
  'proc.name': 'cat',
};

/** The alert as Falco's http_output posts it, as text (a JS object could not even hold these numbers). */
function alertText(uuid: string): string {
  return `{"uuid":"${uuid}","hostname":"node-1","output":"16:31:56.746609046: Critical big ints","output_fields":${EXACT_FIELDS_TEXT},"priority":"Critical","rule":"Big integers","source":"syscall","tags":["exact"],"time":"2025-11-28T16:31:56.746609046Z"}`;
}

/** Every token of EXACT_FIELDS_TEXT's big integers appears byte-exact in `text`. */
function assertExactTokens(text: string, where: string): void {
  for (const token of ['1764347516746609046', '18446744073709551615', '-9223372036854775807', '-1764347516746609047']) {
    assert.ok(text.includes(token), `${where} carries ${token}: ${text}`);
  }
  assert.ok(!text.includes('1764347516746609200'), `${where} has no rounded value`);
}

describe('integers beyond 2^53 pass through the hub exactly (ingest → queue → every sink)', () => {
  let redis: TestRedis;
  let receiver: HttpReceiver;
  let hub: HubProcess;
  let dir: string;
  const uuids = { single: 'b1000000-0000-4000-8000-000000000001', batch: 'b1000000-0000-4000-8000-000000000002', gzip: 'b1000000-0000-4000-8000-000000000003', ndjson: 'b1000000-0000-4000-8000-000000000004' };

  before(async () => {
    redis = await startTestRedis();
    receiver = await startHttpReceiver();
    receiver.respond = (req) => {
      if (req.url.startsWith('/pd')) return { status: 202, body: '{"status":"success","dedup_key":"k"}' };
      if (req.url.startsWith('/dead')) return { status: 400, body: 'no' };
      return { status: 200, body: 'ok' };
    };
    dir = mkdtempSync(join(tmpdir(), 'hub-bigint-'));
    const config = {
      listen: { host: '127.0.0.1' },
      delivery: { attempts: 1 },
      destinations: {
        hook: { type: 'webhook', settings: { address: `${receiver.url}/hook` } },
        tpl: {
          type: 'webhook',
          settings: { address: `${receiver.url}/tpl`, bodyTemplate: '{"t": {{ output_fields["evt.time"] }}, "text": "{{ output_fields["evt.time"] }} {{ output_fields["evt.args"] }}", "fields": {{ output_fields | json }}, "args": {{ output_fields["evt.args"] | json }}}' },
        },
        slack: { type: 'slack', settings: { webhookUrl: `${receiver.url}/slack`, outputFormat: 'all', messageFormat: 'at {{ output_fields["evt.time"] }} ino {{ output_fields["fd.ino"] }}' } },
        pd: { type: 'pagerduty', settings: { routingKey: 'R0UT1NGKEY', baseUrl: `${receiver.url}/pd` } },
        out: { type: 'stdout', settings: { format: 'json' } },
        file: { type: 'file', settings: { path: join(dir, 'alerts.jsonl'), format: 'json' } },
        dead: { type: 'webhook', settings: { address: `${receiver.url}/dead` } },
      },
    };
    writeFileSync(join(dir, 'hub.yaml'), JSON.stringify(config));
    hub = await spawnHub(join(dir, 'hub.yaml'), await freeLoopbackPort(), ['--redis', redis.url]);
  });

  after(async () => {
    await hub?.stop('SIGTERM');
    await receiver?.close();
    await redis?.stop();
  });

  const post = async (path: string, body: string | Uint8Array, headers: Record<string, string> = {}) => {
    const res = await fetch(hub.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    return { status: res.status, text: await res.text() };
  };

  test('POST / , POST /v1/alerts (plain, gzip) and NDJSON are accepted', async () => {
    assert.equal((await post('/', alertText(uuids.single))).status, 202);
    assert.equal((await post('/v1/alerts', `[${alertText(uuids.batch)}]`)).status, 202);
    assert.equal((await post('/v1/alerts', gzipSync(`[${alertText(uuids.gzip)}]`), { 'content-encoding': 'gzip' })).status, 202);
    assert.equal((await post('/v1/alerts', `${alertText(uuids.ndjson)}\n`, { 'content-type': 'application/x-ndjson' })).status, 202);
    const all = Object.values(uuids);
    await receiver.waitFor((rs) => ['/hook', '/tpl', '/slack', '/pd'].every((p) => rs.filter((r) => r.url.startsWith(p)).length >= all.length)).catch((e: Error) => { throw new Error(`${e.message}\n${hub.output()}`); });
    await eventually(() => all.every((u) => hub.output().includes(u)), 30_000, 'stdout lines');
  });

  test('webhook: the default body carries every value byte-exact', async () => {
    for (const uuid of Object.values(uuids)) {
      const req = receiver.requests.find((r) => r.url === '/hook' && r.headers['x-peregrine-alert-id'] === uuid);
      assert.ok(req, `webhook got ${uuid}`);
      assertExactTokens(req.body, `webhook body of ${uuid}`);
      assert.ok(req.body.includes(`"output_fields":${EXACT_FIELDS_TEXT}`), `output_fields byte for byte: ${req.body}`);
      assert.deepEqual((parseJsonExact(req.body) as { output_fields: unknown }).output_fields, EXACT_FIELDS);
    }
  });

  test('templates render big integers with all their digits, as text and with | json', async () => {
    await eventually(() => receiver.requests.filter((r) => r.url === '/tpl').length >= 4, 30_000, 'templated bodies');
    for (const req of receiver.requests.filter((r) => r.url === '/tpl')) {
      const body = parseJsonExact(req.body) as Record<string, unknown>;
      assert.equal(body.t, 1764347516746609046n);
      assert.equal(body.text, '1764347516746609046 1764347516746609046, -1764347516746609047, a, 7');
      assert.deepEqual(body.fields, EXACT_FIELDS);
      assert.deepEqual(body.args, EXACT_FIELDS['evt.args']);
    }
  });

  test('Slack: the rendered text and the fields show the exact digits', async () => {
    const bodies = receiver.requests.filter((r) => r.url === '/slack').map((r) => JSON.parse(r.body) as { text: string; attachments: Array<{ fields: Array<{ title: string; value: string }> }> });
    assert.equal(bodies.length, 4);
    for (const body of bodies) {
      assert.equal(body.text, 'at 1764347516746609046 ino 18446744073709551615');
      const fields = Object.fromEntries(body.attachments[0].fields.map((f) => [f.title, f.value]));
      assert.equal(fields['evt.time'], '1764347516746609046');
      assert.equal(fields['fd.ino'], '18446744073709551615');
      assert.equal(fields['evt.res'], '-9223372036854775807');
      assert.equal(fields['evt.args'], '1764347516746609046, -1764347516746609047, a, 7');
      assert.equal(fields['x.float'], '1.25');
      assert.equal(fields['x.maxsafe'], '9007199254740991');
    }
  });

  test('PagerDuty: custom_details carry the exact values', async () => {
    const bodies = receiver.requests.filter((r) => r.url.startsWith('/pd'));
    assert.equal(bodies.length, 4);
    for (const req of bodies) {
      assertExactTokens(req.body, 'PagerDuty body');
      const details = (parseJsonExact(req.body) as { payload: { custom_details: Record<string, unknown> } }).payload.custom_details;
      for (const [key, value] of Object.entries(EXACT_FIELDS)) assert.deepEqual(details[key], value, key);
    }
  });

  test('stdout and file sinks write Falco JSON lines with the exact values', async () => {
    const fromStdout = hub.output().split('\n').filter((l) => l.includes('"rule":"Big integers"'));
    await eventually(() => readFileSync(join(dir, 'alerts.jsonl'), 'utf8').trim().split('\n').length === 4, 30_000, 'file lines');
    const fromFile = readFileSync(join(dir, 'alerts.jsonl'), 'utf8').trim().split('\n');
    assert.equal(fromStdout.length, 4, hub.output());
    for (const line of [...fromStdout, ...fromFile]) {
      assertExactTokens(line, 'JSON line');
      assert.deepEqual((parseJsonExact(line) as { output_fields: unknown }).output_fields, EXACT_FIELDS);
    }
  });

  test('the dead-letter set keeps the exact values (listing and replay)', async () => {
    let text = '';
    await eventually(async () => {
      text = await (await fetch(`${hub.url}/v1/deadletter?destination=dead`)).text();
      return Object.values(uuids).every((u) => text.includes(u));
    }, 30_000, 'dead-lettered alerts');
    assertExactTokens(text, 'dead-letter listing');
    receiver.respond = (req) => (req.url.startsWith('/pd') ? { status: 202, body: '{}' } : { status: 200, body: 'ok' });
    assert.equal((await post('/v1/deadletter/replay', JSON.stringify({ destination: 'dead', ids: [uuids.single] }))).status, 202);
    await receiver.waitFor((rs) => rs.some((r) => r.url === '/dead' && r.headers['x-peregrine-alert-id'] === uuids.single));
    const replayed = receiver.requests.find((r) => r.url === '/dead' && r.headers['x-peregrine-alert-id'] === uuids.single);
    assert.ok(replayed);
    assert.deepEqual((parseJsonExact(replayed.body) as { output_fields: unknown }).output_fields, EXACT_FIELDS);
  });
});
