import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import pino from 'pino';
import { parseHubConfig, startHub } from '../src/index.ts';
import { startEmbeddedRedis } from '../src/redis/embedded-redis.ts';
import { falcoAlert } from './support.ts';

const logger = pino({ level: 'silent' });

/** Every file and folder under `dir` with its permission bits. */
function modesUnder(dir: string): Array<{ path: string; mode: number }> {
  const out: Array<{ path: string; mode: number }> = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    out.push({ path, mode: stat.mode & 0o777 });
    if (stat.isDirectory()) out.push(...modesUnder(path));
  }
  return out;
}

async function replyOf(url: string, password?: string): Promise<string> {
  const client = new Redis(url, { password, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: true, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    return await client.ping();
  } catch (e) {
    return (e as Error).message;
  } finally {
    client.disconnect();
  }
}

test('embedded redis-server: a password is required, the data folder is 0700 and AOF/RDB files are private', async () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'hub-embedded-sec-')), 'redis');
  // A reused folder written under a loose umask: the folder 0755, an old RDB and AOF folder readable by all.
  mkdirSync(join(dataDir, 'appendonlydir'), { recursive: true, mode: 0o755 });
  chmodSync(dataDir, 0o755);
  chmodSync(join(dataDir, 'appendonlydir'), 0o755);
  writeFileSync(join(dataDir, 'dump.rdb'), '');
  chmodSync(join(dataDir, 'dump.rdb'), 0o644);

  const redis = await startEmbeddedRedis({ dataDir, port: 0, logger });
  try {
    assert.doesNotMatch(redis.url, new RegExp(redis.password), 'the logged URL has no password');
    assert.ok(redis.password.length >= 32, 'a long random password');
    assert.match(await replyOf(redis.url), /NOAUTH/, 'no password: refused');
    assert.match(await replyOf(redis.url, 'guess'), /WRONGPASS|invalid password/i, 'a wrong password: refused');
    assert.equal(await replyOf(redis.url, redis.password), 'PONG');
    assert.equal(await replyOf(redis.authUrl), 'PONG', 'authUrl carries the password');

    // Make Redis write: AOF appends, and a BGSAVE writes an RDB.
    const client = new Redis(redis.authUrl);
    await client.set('queue-entry', 'x');
    await client.bgsave();
    for (;;) {
      const info = await client.info('persistence');
      if (info.includes('rdb_bgsave_in_progress:0') && info.includes('rdb_last_bgsave_status:ok')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await client.quit();

    // Its command line (readable by every local user in /proc) does not carry the password.
    const ps = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
    assert.ok(!ps.stdout.includes(redis.password), 'password not in any command line');

    assert.equal(statSync(dataDir).mode & 0o777, 0o700, 'data folder 0700');
    const entries = modesUnder(dataDir);
    assert.ok(entries.some((e) => e.path.endsWith('.aof')), `AOF files written: ${JSON.stringify(entries)}`);
    for (const e of entries) assert.equal(e.mode & 0o077, 0, `${e.path} has mode ${e.mode.toString(8)}: readable by others`);

    if (process.getuid?.() === 0) {
      // As another local user: the files cannot be read.
      const aof = entries.find((e) => e.path.endsWith('.aof'))?.path ?? '';
      const asNobody = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'cat', aof], { encoding: 'utf8' });
      assert.notEqual(asNobody.status, 0, 'nobody cannot read the AOF');
      assert.match(asNobody.stderr, /Permission denied/);
    }
  } finally {
    await redis.stop();
  }
});

test('a hub on its embedded Redis still queues alerts (it knows the password); redis.password, when set, is the one required', async () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'hub-embedded-pw-')), 'redis');
  const hub = await startHub(parseHubConfig({ listen: { host: '127.0.0.1', port: 0 }, redis: { dataDir, password: 'configured secret "with" quotes' }, destinations: {} }), { logger });
  try {
    const res = await fetch(`${hub.address}/`, { method: 'POST', body: JSON.stringify(falcoAlert()) });
    assert.equal(res.status, 202);
    assert.match(await replyOf(hub.redisUrl), /NOAUTH/);
    assert.equal(await replyOf(hub.redisUrl, 'configured secret "with" quotes'), 'PONG');
  } finally {
    await hub.close();
  }
});
