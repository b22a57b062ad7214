import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { KeepAliveClient, freeLoopbackPort, postMany, startHttpReceiver } from '@peregrine/testkit';
import { countDeliveriesByUuid, eventually, falcoAlert } from './support.ts';
import { spawnHub, writeDrillConfig } from './hub-process.ts';

const HUB_MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

/** Live child processes of `pid`, with their command lines (from /proc). */
function childrenOf(pid: number): Array<{ pid: number; cmd: string }> {
  const out: Array<{ pid: number; cmd: string }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== pid || fields[0] === 'Z') continue;
      out.push({ pid: Number(name), cmd: readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ') });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function postAlerts(url: string, count: number, tag: string): Promise<void> {
  const client = new KeepAliveClient(16);
  const statuses: number[] = [];
  await postMany(client, `${url}/`, count, 16, (i) => JSON.stringify(falcoAlert({ uuid: `${tag}-${i}` })), (_i, r) => statuses.push(r.status));
  client.close();
  assert.deepEqual([...new Set(statuses)], [202], 'every alert accepted');
}

test('processes: 2 shares the port, the work and one embedded Redis; /metrics sums both; a dead process is replaced; SIGTERM drains all', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-processes-'));
  const receiver = await startHttpReceiver();
  const seen = countDeliveriesByUuid(receiver);
  const config = writeDrillConfig({ dir, redis: `{ dataDir: "${join(dir, 'redis')}", lockDurationMs: 2000 }`, processes: 2, delivery: '{ maxBatch: 50 }', receiverUrl: receiver.url });
  let hub: Awaited<ReturnType<typeof spawnHub>> | undefined;
  try {
    hub = await spawnHub(config, await freeLoopbackPort());
    const primary = hub.child.pid as number;
    await eventually(() => childrenOf(primary).filter((c) => c.cmd.includes('main.ts')).length === 2, 20_000, 'two hub processes');
    const redisChild = childrenOf(primary).find((c) => c.cmd.startsWith('redis-server'));
    assert.ok(redisChild, `the primary owns the embedded redis-server: ${JSON.stringify(childrenOf(primary))}`);

    await postAlerts(hub.url, 400, 'a');
    await eventually(() => seen.size === 400, 30_000, '400 alerts delivered');
    // 16 connections are spread over both processes, so each one alone counted only part of them.
    const text = await (await fetch(`${hub.url}/metrics`)).text();
    assert.equal(metric(text, 'peregrine_hub_alerts_received_total{endpoint="/"}'), 400, 'received summed over the processes');
    assert.equal(metric(text, 'peregrine_hub_alerts_delivered_total{destination="hook"}'), 400, 'delivered summed over the processes');

    const victim = childrenOf(primary).find((c) => c.cmd.includes('main.ts')) as { pid: number };
    process.kill(victim.pid, 'SIGKILL');
    await eventually(() => {
      const hubs = childrenOf(primary).filter((c) => c.cmd.includes('main.ts'));
      return hubs.length === 2 && !hubs.some((c) => c.pid === victim.pid);
    }, 20_000, 'a replacement hub process');
    const hubUrl = hub.url;
    await eventually(async () => (await fetch(`${hubUrl}/readyz`)).status === 200, 20_000, 'ready again');
    await postAlerts(hub.url, 200, 'b');
    await eventually(() => seen.size === 600, 30_000, '600 alerts delivered');
    assert.deepEqual([...new Set(seen.values())], [1], 'each alert delivered once');

    const workers = childrenOf(primary).map((c) => c.pid);
    assert.equal(await hub.stop('SIGTERM'), 0, hub.output());
    for (const pid of workers) assert.equal(alive(pid), false, `child ${pid} stopped`);
    assert.ok(existsSync(join(dir, 'redis', 'appendonlydir')), 'AOF in the data dir');
  } finally {
    // The receiver is closed even when the hub never came up, or its server keeps this file running.
    await hub?.stop('SIGKILL');
    await receiver.close();
  }
});

test('processes: hub processes exit when their primary is SIGKILLed (nothing left holding the queue unmanaged)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-processes-kill-'));
  const config = join(dir, 'hub.yaml');
  writeFileSync(config, ['listen: { host: 127.0.0.1 }', `redis: { dataDir: "${join(dir, 'redis')}" }`, ''].join('\n'));
  const hub = await spawnHub(config, await freeLoopbackPort(), ['--processes', '2']);
  const primary = hub.child.pid as number;
  await eventually(() => childrenOf(primary).filter((c) => c.cmd.includes('main.ts')).length === 2, 20_000, 'two hub processes');
  const children = childrenOf(primary).map((c) => c.pid);
  await hub.stop('SIGKILL');
  await eventually(() => children.filter((pid) => pid !== undefined && alive(pid) && !readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('redis-server')).length === 0, 20_000, 'hub processes gone');
  // The orphaned embedded redis-server has no owner left; stop it here so the test leaves nothing behind.
  for (const pid of children) if (alive(pid)) process.kill(pid, 'SIGTERM');
});

test('processes: a hub process that cannot start (Redis unreachable) stops the primary with exit code 1 and the reason', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-processes-noredis-'));
  const config = join(dir, 'hub.yaml');
  const deadPort = await freeLoopbackPort();
  writeFileSync(config, ['listen: { host: 127.0.0.1 }', `redis: { url: "redis://127.0.0.1:${deadPort}" }`, 'processes: 2', ''].join('\n'));
  const child = spawn(process.execPath, ['--import', 'tsx', HUB_MAIN, '--config', config, '--port', String(await freeLoopbackPort())], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 1, output);
  assert.match(output, /cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+/);
  assert.match(output, /"code":1,.*hub process exited during start-up; stopping/);
});
