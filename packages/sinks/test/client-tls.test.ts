import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTestCertificates } from '@peregrine/testkit';
import { createSink } from '../src/index.ts';
import type { Sink } from '../src/index.ts';
import { ctx, deps, falcoAlert } from './support/fixtures.ts';

interface TlsReceiver {
  readonly url: string;
  /** CN of the client certificate of each request ('' without one). */
  readonly clients: string[];
  close(): Promise<void>;
}

async function startTlsReceiver(dir: string, requireClientCert: boolean): Promise<TlsReceiver> {
  const clients: string[] = [];
  const server: Server = createServer(
    { cert: readFileSync(join(dir, 'server.crt')), key: readFileSync(join(dir, 'server.key')), ca: readFileSync(join(dir, 'ca.crt')), requestCert: requireClientCert, rejectUnauthorized: requireClientCert },
    (req, res) => {
      req.resume();
      req.on('end', () => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        clients.push(typeof peer?.subject?.CN === 'string' ? peer.subject.CN : '');
        res.end('ok');
      });
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    clients,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('client TLS for HTTP sinks (webhook, pagerduty, slack)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sink-tls-'));
  let plain: TlsReceiver;
  let mutual: TlsReceiver;
  const sinks: Sink[] = [];
  const make = (type: string, settings: Record<string, unknown>): Sink => {
    const sink = createSink(type, settings, deps);
    sinks.push(sink);
    return sink;
  };

  before(async () => {
    makeTestCertificates(dir);
    plain = await startTlsReceiver(dir, false);
    mutual = await startTlsReceiver(dir, true);
  });
  after(async () => {
    await Promise.all(sinks.map((s) => s.close()));
    await plain.close();
    await mutual.close();
  });

  it('a receiver signed by a private CA is refused without caFile (retryable, says why) and served with it', async () => {
    const refused = await make('webhook', { address: `${plain.url}/in` }).deliver([falcoAlert], ctx());
    assert.equal(refused.kind, 'retryable');
    assert.match(refused.kind === 'retryable' ? refused.reason : '', /webhook: .*(certificate|self.signed)/i);
    assert.deepEqual(await make('webhook', { address: `${plain.url}/in`, tls: { caFile: join(dir, 'ca.crt') } }).deliver([falcoAlert], ctx()), { kind: 'delivered' });
    assert.deepEqual(await make('pagerduty', { routingKey: 'k', baseUrl: plain.url, tls: { caFile: join(dir, 'ca.crt') } }).deliver([falcoAlert], ctx()), { kind: 'delivered' });
    const slackRefused = await make('slack', { webhookUrl: `${plain.url}/slack` }).deliver([falcoAlert], ctx());
    assert.equal(slackRefused.kind, 'retryable', JSON.stringify(slackRefused));
    assert.deepEqual(await make('slack', { webhookUrl: `${plain.url}/slack`, tls: { caFile: join(dir, 'ca.crt') } }).deliver([falcoAlert], ctx()), { kind: 'delivered' });
  });

  it('checkCert: false skips verification (tests only)', async () => {
    assert.deepEqual(await make('webhook', { address: `${plain.url}/in`, tls: { checkCert: false } }).deliver([falcoAlert], ctx()), { kind: 'delivered' });
  });

  it('mutual TLS: the client certificate is presented; without it the receiver refuses', async () => {
    const without = await make('webhook', { address: `${mutual.url}/in`, tls: { caFile: join(dir, 'ca.crt') } }).deliver([falcoAlert], ctx());
    assert.equal(without.kind, 'retryable', JSON.stringify(without));
    const tls = { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'client.crt'), keyFile: join(dir, 'client.key') };
    assert.deepEqual(await make('webhook', { address: `${mutual.url}/in`, tls }).deliver([falcoAlert], ctx()), { kind: 'delivered' });
    assert.deepEqual(await make('pagerduty', { routingKey: 'k', baseUrl: mutual.url, tls }).deliver([falcoAlert], ctx()), { kind: 'delivered' });
    assert.deepEqual(await make('slack', { webhookUrl: `${mutual.url}/slack`, tls }).deliver([falcoAlert], ctx()), { kind: 'delivered' });
    assert.deepEqual(mutual.clients, ['client', 'client', 'client']);
  });

  it('bad TLS settings fail at start-up with the key path and reason', () => {
    assert.throws(() => createSink('webhook', { address: 'https://x', tls: { certFile: join(dir, 'client.crt') } }, deps, 'hook'), /hook\.tls: certFile and keyFile go together/);
    assert.throws(() => createSink('webhook', { address: 'https://x', tls: { caFile: join(dir, 'missing.crt') } }, deps, 'hook'), /hook\.tls\.caFile: cannot read .*missing\.crt: ENOENT/);
    assert.throws(() => createSink('pagerduty', { routingKey: 'k', tls: { verify: false } }, deps, 'pd'), /pd\.tls: Unrecognized key\(s\) in object: 'verify'/);
  });
});
