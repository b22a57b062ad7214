import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type { Alert } from '@peregrine/alert';
import { HubOutput, alertsEndpoint, refusedAlertIndex } from '@peregrine/sensor';
import type { HubOutputOptions, OutputLogger } from '@peregrine/sensor';
import { freeLoopbackPort, makeTestCertificates, startHttpReceiver } from '@peregrine/testkit';
import type { HttpReceiver, ReceivedRequest } from '@peregrine/testkit';

const uuidOf = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

function alert(i: number): Alert {
  return {
    uuid: uuidOf(i),
    hostname: 'node-1',
    output: `06:13:20.123456789: Warning test alert n=${i}`,
    output_fields: { 'evt.time': 1_718_000_000_123_456_789, n: i },
    priority: 'Warning',
    rule: `rule ${i % 3}`,
    source: 'syscall',
    tags: [],
    time: '2024-06-10T06:13:20.123456789Z',
  };
}

/** The alert JSON lines of one request (gunzipped when it says so). */
function linesOf(req: { headers: Record<string, string | string[] | undefined>; raw: Buffer }): string[] {
  const text = req.headers['content-encoding'] === 'gzip' ? gunzipSync(req.raw).toString('utf8') : req.raw.toString('utf8');
  return text.split('\n').filter((l) => l !== '');
}

const numbersOf = (req: ReceivedRequest) => linesOf(req).map((l) => (JSON.parse(l) as { output_fields: { n: number } }).output_fields.n);
const delivered = (receiver: HttpReceiver) => receiver.requests.flatMap(numbersOf);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

function recordingLogger(): OutputLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) };
}

async function until(what: string, predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const spoolDir = () => mkdtempSync(join(tmpdir(), 'sensor-hub-out-'));
const outputs: HubOutput[] = [];

async function openOutput(options: Partial<HubOutputOptions> & { url: string }): Promise<HubOutput> {
  const out = await HubOutput.open({ spoolDir: spoolDir(), logger: recordingLogger(), backoffInitialMs: 20, backoffMaxMs: 100, ...options });
  outputs.push(out);
  return out;
}

describe('hub output', () => {
  const receivers: HttpReceiver[] = [];
  async function receiver(): Promise<HttpReceiver> {
    const r = await startHttpReceiver();
    receivers.push(r);
    return r;
  }
  after(async () => {
    for (const o of outputs) await o.close();
    for (const r of receivers) await r.close();
  });

  test('batches of maxBatchAlerts, NDJSON, gzip, bearer token, POST /v1/alerts, in order, exact evt.time', async () => {
    const hub = await receiver();
    const out = await openOutput({ url: `${hub.url}/`, token: 's3cret', maxBatchAlerts: 10, lingerMs: 600_000 });
    for (let i = 0; i < 25; i++) out.emit(alert(i));
    await out.flush();
    assert.deepEqual(hub.requests.map((r) => numbersOf(r).length), [10, 10, 5]);
    assert.deepEqual(delivered(hub), range(0, 25));
    for (const r of hub.requests) {
      assert.equal(r.method, 'POST');
      assert.equal(r.url, '/v1/alerts');
      assert.equal(r.headers.authorization, 'Bearer s3cret');
      assert.equal(r.headers['content-encoding'], 'gzip');
      assert.equal(r.headers['content-type'], 'application/x-ndjson');
    }
    assert.ok(linesOf(hub.requests[0])[0].includes('"evt.time":1718000000123456789'));
    assert.equal(out.stats().sent, 25);
    assert.equal(out.stats().spooled, 0, 'a hub that answers needs no spool');
  });

  test('lingerMs: a lone alert is sent without a flush; gzip can be turned off', async () => {
    const hub = await receiver();
    const out = await openOutput({ url: hub.url, lingerMs: 5, gzip: false });
    out.emit(alert(7));
    await hub.waitFor((rs) => rs.length === 1);
    assert.equal(hub.requests[0].headers['content-encoding'], undefined);
    assert.deepEqual(delivered(hub), [7]);
  });

  test('Retry-After is honoured instead of the backoff', async () => {
    const hub = await receiver();
    let refusals = 1;
    hub.respond = () => (refusals-- > 0 ? { status: 503, headers: { 'retry-after': '1' }, body: '{"error":"unavailable","message":"Redis is unreachable"}' } : { status: 202 });
    // Without Retry-After the next attempt would come after ten minutes.
    const out = await openOutput({ url: hub.url, backoffInitialMs: 600_000, backoffMaxMs: 600_000 });
    for (let i = 0; i < 5; i++) out.emit(alert(i));
    await hub.waitFor((rs) => rs.length === 1, 20_000);
    assert.deepEqual(delivered(hub), range(0, 5));
    assert.equal(hub.attempts.length, 2);
    assert.equal(out.stats().failedRequests, 1);
    assert.equal(out.stats().spooled, 5, 'the unsent alerts waited in the spool');
  });

  test('a Retry-After above retryAfterMaxMs is cut to it; one that is not a finite number is ignored', async () => {
    const hub = await receiver();
    const answers = [
      { status: 429, headers: { 'retry-after': '3600' } },
      { status: 503, headers: { 'retry-after': '9'.repeat(400) } },
      { status: 202 },
    ];
    hub.respond = () => answers.shift() ?? { status: 202 };
    // The backoff is short; an hour-long or infinite wait would time the test out.
    const out = await openOutput({ url: hub.url, retryAfterMaxMs: 50, backoffInitialMs: 20, backoffMaxMs: 20 });
    out.emit(alert(1));
    await hub.waitFor((rs) => rs.length === 1, 20_000);
    assert.equal(hub.attempts.length, 3);
    assert.deepEqual(delivered(hub), [1]);
  });

  test('a 400 naming one alert drops only that one (logged with the reason); the rest are delivered once, in order', async () => {
    const hub = await receiver();
    hub.respond = (req) => {
      const k = numbersOf(req).indexOf(3);
      return k === -1 ? { status: 202 } : { status: 400, body: JSON.stringify({ error: 'invalid_alert', message: `alert [${k}]: output_fields["n"]: too odd` }) };
    };
    const logger = recordingLogger();
    const out = await openOutput({ url: hub.url, logger, maxBatchAlerts: 100, lingerMs: 600_000 });
    for (let i = 0; i < 8; i++) out.emit(alert(i));
    await out.flush();
    assert.deepEqual(delivered(hub), [0, 1, 2, 4, 5, 6, 7]);
    assert.equal(out.stats().refused, 1);
    assert.equal(out.stats().sent, 7);
    assert.ok(logger.lines.some((l) => l.startsWith('error hub refused an alert') && l.includes(uuidOf(3)) && l.includes('too odd')), logger.lines.join('\n'));
  });

  test('a 4xx that names no alert refuses the batch: counted, logged, not retried; later batches go on', async () => {
    const hub = await receiver();
    let first = true;
    hub.respond = () => {
      if (!first) return { status: 202 };
      first = false;
      return { status: 422, body: 'no thanks' };
    };
    const logger = recordingLogger();
    const out = await openOutput({ url: hub.url, logger, maxBatchAlerts: 4, lingerMs: 600_000 });
    for (let i = 0; i < 8; i++) out.emit(alert(i));
    await out.flush();
    assert.deepEqual(delivered(hub), [4, 5, 6, 7]);
    assert.equal(hub.attempts.length, 2);
    assert.equal(out.stats().refused, 4);
    assert.ok(logger.lines.some((l) => l.includes('hub refused a batch of 4 alerts, dropped: HTTP 422: no thanks')), logger.lines.join('\n'));
  });

  test('413 (above the hub\'s body limit): the batch is split until it fits, order kept', async () => {
    const hub = await receiver();
    hub.respond = (req) => (numbersOf(req).length > 3 ? { status: 413, body: '{"error":"too_large","message":"body above 10485760 bytes"}' } : { status: 202 });
    const out = await openOutput({ url: hub.url, maxBatchAlerts: 10, lingerMs: 600_000 });
    for (let i = 0; i < 10; i++) out.emit(alert(i));
    await out.flush();
    assert.deepEqual(delivered(hub), range(0, 10));
    assert.ok(hub.requests.every((r) => numbersOf(r).length <= 3));
    assert.equal(out.stats().refused, 0);
  });

  test('401 is not a refusal of the alerts: they are spooled and sent once the hub takes the token', async () => {
    const hub = await receiver();
    let refusals = 3;
    hub.respond = () => (refusals-- > 0 ? { status: 401, body: '{"error":"unauthorized","message":"a valid bearer token is required"}' } : { status: 202 });
    const out = await openOutput({ url: hub.url, token: 'new-token' });
    for (let i = 0; i < 3; i++) out.emit(alert(i));
    await hub.waitFor((rs) => rs.length === 1);
    assert.deepEqual(delivered(hub), [0, 1, 2]);
    assert.equal(out.stats().refused, 0);
  });

  test('hub away (connection refused): alerts are spooled, then sent oldest first when it is back; new ones queue behind; none twice', async () => {
    const port = await freeLoopbackPort();
    const logger = recordingLogger();
    const out = await openOutput({ url: `http://127.0.0.1:${port}`, logger, maxBatchAlerts: 7, lingerMs: 1 });
    // The spool gauge, sampled on every turn of the event loop while the alerts go to disk
    // (the spool's writes and fdatasyncs each take at least one turn): never above what was emitted.
    const sampled: number[] = [];
    let sampling = true;
    const sample = () => {
      sampled.push(out.stats().spoolAlerts);
      if (sampling) setImmediate(sample);
    };
    sample();
    for (let i = 0; i < 50; i++) out.emit(alert(i));
    await out.flush();
    await until('all 50 spooled', () => out.stats().spoolAlerts === 50);
    sampling = false;
    assert.ok(sampled.length > 10, `sampled ${sampled.length} times`);
    assert.ok(Math.max(...sampled) <= 50, `spoolAlerts counted more alerts than were emitted: ${[...new Set(sampled)].join(', ')}`);
    const down = out.stats();
    assert.ok(down.spoolBytes > 0);
    assert.ok(down.failedRequests >= 1);
    assert.ok(logger.lines.some((l) => l.includes('does not take alerts (ECONNREFUSED')), logger.lines.join('\n'));

    // The hub comes back on its port; more alerts arrive while the spool drains.
    const bodies: number[][] = [];
    const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(linesOf({ headers: req.headers, raw: Buffer.concat(chunks) }).map((l) => (JSON.parse(l) as { output_fields: { n: number } }).output_fields.n));
        res.writeHead(202).end('{"accepted":1}');
      });
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    try {
      for (let i = 50; i < 100; i++) out.emit(alert(i));
      await until('100 delivered', () => bodies.flat().length >= 100);
      await out.flush();
      assert.deepEqual(bodies.flat(), range(0, 100), 'all, in order, none twice');
      await until('spool empty', () => out.stats().spoolAlerts === 0);
      const s = out.stats();
      assert.equal(s.sent, 100);
      assert.equal(s.spoolBytes, 0);
      assert.equal(s.spoolOldestAgeSeconds, 0);
      assert.equal(s.dropped, 0);
      assert.ok(logger.lines.some((l) => l.includes('answers again')), logger.lines.join('\n'));
    } finally {
      await out.close();
      await new Promise((r) => server.close(r));
    }
  });

  test('a slow hub: past maxMemoryAlerts newer alerts go to the spool behind the request in flight; order kept', async () => {
    const bodies: number[][] = [];
    let release: (() => void) | undefined;
    const firstHeld = new Promise<void>((r) => (release = r));
    let held = false;
    const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(linesOf({ headers: req.headers, raw: Buffer.concat(chunks) }).map((l) => (JSON.parse(l) as { output_fields: { n: number } }).output_fields.n));
        const answer = () => res.writeHead(202).end();
        if (held) answer();
        else {
          held = true;
          void firstHeld.then(answer);
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const out = await openOutput({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, maxMemoryAlerts: 5, maxBatchAlerts: 4, lingerMs: 1 });
      out.emit(alert(0));
      await until('the first request is held', () => bodies.length === 1);
      for (let i = 1; i < 30; i++) out.emit(alert(i));
      release!();
      await until('30 delivered', () => bodies.flat().length >= 30);
      await out.flush();
      assert.deepEqual(bodies.flat(), range(0, 30));
      assert.ok(out.stats().spooled > 0, 'the overflow went through the spool');
      assert.equal(out.stats().dropped, 0);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  test('closed during an outage and reopened over the same spool: nothing lost, order kept', async () => {
    const hub = await receiver();
    let up = false;
    hub.respond = () => (up ? { status: 202 } : { status: 503 });
    const dir = spoolDir();
    const first = await HubOutput.open({ url: hub.url, spoolDir: dir, logger: recordingLogger(), backoffInitialMs: 20, backoffMaxMs: 50, lingerMs: 1 });
    for (let i = 0; i < 30; i++) first.emit(alert(i));
    await first.flush();
    for (let i = 30; i < 40; i++) first.emit(alert(i)); // still in memory or pending: close() must keep them
    await first.close();
    first.emit(alert(999));
    assert.equal(first.stats().lostAfterClose, 1);
    assert.equal(first.stats().spoolAlerts, 40);
    assert.ok(first.stats().spoolOldestAgeSeconds >= 0);

    up = true;
    const second = await openOutput({ url: hub.url, spoolDir: dir, lingerMs: 1 });
    for (let i = 40; i < 45; i++) second.emit(alert(i));
    await until('45 delivered', () => delivered(hub).length >= 45);
    await second.flush();
    assert.deepEqual(delivered(hub), range(0, 45));
  });

  test('past spoolMaxBytes the oldest are dropped, counted and logged; the rest arrive in order', async () => {
    const hub = await receiver();
    let up = false;
    hub.respond = () => (up ? { status: 202 } : { status: 503 });
    const logger = recordingLogger();
    const out = await openOutput({ url: hub.url, logger, spoolMaxBytes: 16 * 1024, spoolSegmentBytes: 2048, lingerMs: 1, backoffInitialMs: 10, backoffMaxMs: 10 });
    const total = 300;
    for (let i = 0; i < total; i++) {
      out.emit(alert(i));
      if (i % 25 === 24) await out.flush();
    }
    await out.flush();
    const { dropped } = out.stats();
    assert.ok(dropped > 0, 'some dropped');
    assert.ok(logger.lines.some((l) => l.startsWith('warn spool full')), logger.lines.join('\n'));
    up = true;
    await until('the rest delivered', () => delivered(hub).length >= total - dropped);
    await until('spool empty', () => out.stats().spoolAlerts === 0);
    assert.equal(out.stats().dropped, dropped, 'nothing more dropped');
    assert.deepEqual(delivered(hub), range(dropped, total), 'the newest, in order');
  });

  test('a torn spool tail left by a crash is skipped with a count; the complete records are sent', async () => {
    const hub = await receiver();
    hub.respond = () => ({ status: 503 });
    const dir = spoolDir();
    const first = await HubOutput.open({ url: hub.url, spoolDir: dir, logger: recordingLogger(), backoffInitialMs: 20, backoffMaxMs: 50 });
    for (let i = 0; i < 10; i++) first.emit(alert(i));
    await first.close();
    const segment = readdirSync(dir).filter((n) => n.endsWith('.seg')).sort().pop()!;
    appendFileSync(join(dir, segment), '1a2b3c4d 1718000000000 {"uuid":"torn');
    hub.respond = () => ({ status: 202 });
    const second = await openOutput({ url: hub.url, spoolDir: dir });
    await until('10 delivered', () => delivered(hub).length >= 10);
    assert.deepEqual(delivered(hub), range(0, 10));
    assert.equal(second.stats().corrupt, 1);
  });

  test('mutual TLS with a private CA; checkCert false for a self-signed hub; tls options need https', async () => {
    const certs = mkdtempSync(join(tmpdir(), 'sensor-hub-tls-'));
    makeTestCertificates(certs);
    const got: number[] = [];
    const server = createHttpsServer(
      { cert: readFile(certs, 'server.crt'), key: readFile(certs, 'server.key'), ca: readFile(certs, 'ca.crt'), requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          got.push(...linesOf({ headers: req.headers, raw: Buffer.concat(chunks) }).map((l) => (JSON.parse(l) as { output_fields: { n: number } }).output_fields.n));
          res.writeHead(202).end();
        });
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const mtls = await openOutput({ url, tls: { caFile: join(certs, 'ca.crt'), certFile: join(certs, 'client.crt'), keyFile: join(certs, 'client.key') } });
      mtls.emit(alert(1));
      await mtls.flush();
      assert.deepEqual(got, [1]);

      // Without a client certificate the server refuses the handshake: the alert waits in the spool.
      const noClientCert = await openOutput({ url, tls: { caFile: join(certs, 'ca.crt') } });
      noClientCert.emit(alert(2));
      await until('a failed attempt', () => noClientCert.stats().failedRequests >= 1);
      // Once it is written to the spool (not while it waits in memory for the next attempt).
      await noClientCert.flush();
      assert.equal(noClientCert.stats().spoolAlerts, 1);
      assert.deepEqual(got, [1]);

      // Without the CA the certificate is not trusted, unless checkCert is false.
      const untrusted = await openOutput({ url, tls: { certFile: join(certs, 'client.crt'), keyFile: join(certs, 'client.key') } });
      untrusted.emit(alert(3));
      await until('a failed attempt', () => untrusted.stats().failedRequests >= 1);
      const unchecked = await openOutput({ url, tls: { checkCert: false, certFile: join(certs, 'client.crt'), keyFile: join(certs, 'client.key') } });
      unchecked.emit(alert(4));
      await unchecked.flush();
      assert.deepEqual(got, [1, 4]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    await assert.rejects(HubOutput.open({ url: 'http://127.0.0.1:1', spoolDir: spoolDir(), tls: { checkCert: false } }), /tls options are set but the url http:\/\/127.0.0.1:1 is not https/);
    await assert.rejects(HubOutput.open({ url: 'https://127.0.0.1:1', spoolDir: spoolDir(), tls: { caFile: '/nonexistent/ca.crt' } }), /cannot read tls.caFile \/nonexistent\/ca.crt: ENOENT/);
    await assert.rejects(HubOutput.open({ url: 'https://127.0.0.1:1', spoolDir: spoolDir(), tls: { certFile: join(certs, 'client.crt') } }), /tls.certFile and tls.keyFile go together/);
  });

  test('bad options are refused with the key and what to give', async () => {
    await assert.rejects(HubOutput.open({ url: 'hub:2801', spoolDir: spoolDir() }), /url "hub:2801" is not an absolute URL|url must start with http/);
    await assert.rejects(HubOutput.open({ url: 'ftp://hub', spoolDir: spoolDir() }), /url must start with http:\/\/ or https:\/\//);
    await assert.rejects(HubOutput.open({ url: 'http://hub', spoolDir: spoolDir(), maxBatchAlerts: 0 }), /maxBatchAlerts must be a whole number >= 1, got 0/);
    const dir = spoolDir();
    await assert.rejects(HubOutput.open({ url: 'http://hub', spoolDir: dir, lingerMs: -1 }), /lingerMs must be a whole number >= 0/);
    // The failed open released the spool folder.
    const ok = await openOutput({ url: 'http://hub', spoolDir: dir });
    assert.equal(ok.endpoint, 'http://hub/v1/alerts');
  });
});

describe('hub answers', () => {
  test('the endpoint is the hub URL plus /v1/alerts', () => {
    assert.equal(alertsEndpoint('http://hub:2801').href, 'http://hub:2801/v1/alerts');
    assert.equal(alertsEndpoint('https://x/prefix/').href, 'https://x/prefix/v1/alerts');
    assert.equal(alertsEndpoint('http://hub/v1/alerts').href, 'http://hub/v1/alerts');
  });

  test('which alert a 400 names', () => {
    assert.equal(refusedAlertIndex('{"error":"invalid_alert","message":"alert [3]: rule: is required"}', 10), 3);
    assert.equal(refusedAlertIndex('{"error":"invalid_json","message":"line 2 is not valid JSON: Unexpected token"}', 10), 1);
    assert.equal(refusedAlertIndex('{"error":"invalid_alert","message":"alert [12]: rule: is required"}', 10), undefined);
    assert.equal(refusedAlertIndex('{"error":"invalid_json","message":"bad gzip"}', 10), undefined);
    assert.equal(refusedAlertIndex('not json', 10), undefined);
  });
});

function readFile(dir: string, name: string): Buffer {
  return readFileSync(join(dir, name));
}
