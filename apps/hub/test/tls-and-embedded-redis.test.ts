import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import pino from 'pino';
import { makeTestCertificates, startHttpReceiver, startTestRedis } from '@peregrine/testkit';
import { parseHubConfig, startHub } from '../src/index.ts';
import { falcoAlert } from './support.ts';

function postTls(url: string, body: string, options: { ca: Buffer; cert?: Buffer; key?: Buffer }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', ...options, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('mutual TLS: a client with a certificate from the CA is served, one without is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-tls-'));
  makeTestCertificates(dir);
  const redis = await startTestRedis();
  const receiver = await startHttpReceiver();
  const config = parseHubConfig({
    listen: { host: '127.0.0.1', port: 0 },
    redis: { url: redis.url },
    tls: { certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key'), caFile: join(dir, 'ca.crt'), requireClientCert: true },
    destinations: { hook: { type: 'webhook', settings: { address: `${receiver.url}/in` } } },
  });
  const hub = await startHub(config, { logger: pino({ level: 'silent' }) });
  try {
    assert.match(hub.address, /^https:/);
    const ca = readFileSync(join(dir, 'ca.crt'));
    const status = await postTls(`${hub.address}/`, JSON.stringify(falcoAlert({ rule: 'over mtls' })), { ca, cert: readFileSync(join(dir, 'client.crt')), key: readFileSync(join(dir, 'client.key')) });
    assert.equal(status, 202);
    await receiver.waitFor((rs) => rs.some((r) => r.body.includes('over mtls')));
    await assert.rejects(postTls(`${hub.address}/`, JSON.stringify(falcoAlert()), { ca }), /certificate|handshake|socket hang up|ECONNRESET/i);
  } finally {
    await hub.close();
    await receiver.close();
    await redis.stop();
  }
});

test('no Redis URL: the hub starts its own redis-server with AOF in the data dir', async () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'hub-embedded-')), 'redis');
  const receiver = await startHttpReceiver();
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  const hub = await startHub(parseHubConfig({ listen: { host: '127.0.0.1', port: 0 }, redis: { dataDir }, destinations: { hook: { type: 'webhook', settings: { address: `${receiver.url}/in` } } } }), { logger });
  try {
    assert.match(hub.redisUrl, /^redis:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(lines.some((l) => l.includes('started embedded redis-server')), 'says so');
    const res = await fetch(`${hub.address}/`, { method: 'POST', body: JSON.stringify(falcoAlert({ rule: 'embedded' })) });
    assert.equal(res.status, 202);
    await receiver.waitFor((rs) => rs.some((r) => r.body.includes('embedded')));
  } finally {
    await hub.close();
    await receiver.close();
  }
  assert.ok(existsSync(join(dataDir, 'appendonlydir')), 'AOF files in the data dir');
});

test('no Redis URL and no redis-server installed: a clear message and exit code 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-noredis-'));
  const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
  writeFileSync(join(dir, 'hub.yaml'), `listen: { host: 127.0.0.1, port: 0 }\nredis: { dataDir: "${join(dir, 'data')}" }\n`);
  const child = spawn(process.execPath, ['--import', 'tsx', main, '--config', join(dir, 'hub.yaml')], { env: { ...process.env, PATH: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 1, stderr);
  assert.match(stderr, /redis-server is not installed/);
  assert.match(stderr, /apt-get install redis-server/);
});
