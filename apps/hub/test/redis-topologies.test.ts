import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { freeLoopbackPort, startHttpReceiver, startTestRedis } from '@peregrine/testkit';
import { parseHubConfig, startHub } from '../src/index.ts';
import { falcoAlert } from './support.ts';

/** Starts redis-server with a config file (Sentinel and Cluster nodes need one) and waits for `readyText`. */
async function startRedisProcess(dir: string, conf: string, extraArgs: string[], readyText: RegExp): Promise<ChildProcess> {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(path, conf);
  const child = spawn('redis-server', [path, ...extraArgs], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const deadline = Date.now() + 15_000;
  while (!readyText.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server ${extraArgs.join(' ')} did not get ready:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return child;
}

function killAll(children: ChildProcess[]): Promise<void> {
  return Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGKILL');
        }),
    ),
  ).then(() => undefined);
}

async function roundTrip(redisConfig: Record<string, unknown>, rule: string): Promise<void> {
  const receiver = await startHttpReceiver();
  const hub = await startHub(
    parseHubConfig({ listen: { host: '127.0.0.1', port: 0 }, redis: redisConfig, destinations: { a: { type: 'webhook', settings: { address: `${receiver.url}/a` } }, b: { type: 'webhook', settings: { address: `${receiver.url}/b` } } } }),
    { logger: pino({ level: 'silent' }) },
  );
  try {
    const batch = Array.from({ length: 20 }, (_, i) => falcoAlert({ rule: `${rule} ${i}` }));
    const res = await fetch(`${hub.address}/v1/alerts`, { method: 'POST', body: JSON.stringify(batch) });
    assert.equal(res.status, 202);
    await receiver.waitFor((rs) => rs.filter((r) => r.body.includes(rule)).length === 40, 30_000);
    assert.equal((await fetch(`${hub.address}/readyz`)).status, 200);
  } finally {
    await hub.close();
    await receiver.close();
  }
}

test('Redis Sentinel: the hub finds the master through the sentinel', async () => {
  const master = await startTestRedis({ appendOnly: false });
  const dir = mkdtempSync(join(tmpdir(), 'hub-sentinel-'));
  const port = await freeLoopbackPort();
  const sentinel = await startRedisProcess(
    dir,
    `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor peregrine-master 127.0.0.1 ${master.port} 1\n`,
    ['--sentinel'],
    /\+monitor master peregrine-master/,
  );
  try {
    await roundTrip({ sentinels: [{ host: '127.0.0.1', port }], sentinelName: 'peregrine-master' }, 'via sentinel');
  } finally {
    await killAll([sentinel]);
    await master.stop();
  }
});

test('Redis Cluster: queue keys share one slot through the {prefix} hash tag', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-cluster-'));
  const ports = await Promise.all([0, 1, 2].map(() => freeLoopbackPort()));
  const nodes = await Promise.all(
    ports.map((port) =>
      startRedisProcess(dir, `port ${port}\nbind 127.0.0.1\ndir ${dir}\ncluster-enabled yes\ncluster-config-file nodes-${port}.conf\nappendonly no\nsave ""\n`, [], /Ready to accept connections/),
    ),
  );
  try {
    execFileSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'pipe' });
    const deadline = Date.now() + 20_000;
    while (!/cluster_state:ok/.test(execFileSync('redis-cli', ['-p', String(ports[0]), 'cluster', 'info'], { encoding: 'utf8' }))) {
      if (Date.now() > deadline) throw new Error('cluster did not reach cluster_state:ok');
      await new Promise((r) => setTimeout(r, 100));
    }
    await roundTrip({ cluster: ports.map((port) => ({ host: '127.0.0.1', port })) }, 'via cluster');
  } finally {
    await killAll(nodes);
  }
});
