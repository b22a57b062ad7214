// bench/hub: alerts/s accepted and delivered by the hub (Redis + BullMQ +
// a webhook destination on loopback), for single-alert `POST /` and for
// 100-alert `POST /v1/alerts` batches, against plain Fastify with no queue
// in the same run; and ingest→delivery latency at a steady 1k alerts/s.
// `npm run bench -- hub` (or node --import tsx bench/hub/run.ts).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { KeepAliveClient, freeLoopbackPort, postMany, startTestRedis } from '@peregrine/testkit';
import { BASELINE_MAIN, HUB_MAIN, cpuMs, startServer, stop } from './processes.ts';
import { CountingReceiver } from './receiver.ts';

const SINGLE = Number(process.env.BENCH_HUB_SINGLE ?? 20_000);
const BATCHES = Number(process.env.BENCH_HUB_BATCHES ?? 600);
const BATCH = 100;
const LATENCY_SECONDS = Number(process.env.BENCH_HUB_LATENCY_S ?? 10);
const CONNECTIONS = 64;

let seq = 0;
function alert(): Record<string, unknown> {
  seq++;
  return {
    uuid: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    hostname: 'node-1',
    output: `06:13:20.123456789: Warning Shell spawned in a container (user=root container=web-${seq % 97} shell=bash)`,
    output_fields: { 'container.name': `web-${seq % 97}`, 'k8s.ns.name': 'shop', 'k8s.pod.name': `web-${seq % 97}`, 'proc.name': 'bash', 'proc.pid': seq, 'user.name': 'root' },
    priority: 'Warning',
    rule: 'Terminal shell in container',
    source: 'syscall',
    tags: ['container', 'shell'],
    time: '2024-06-10T06:13:20.123456789Z',
  };
}

interface Phase {
  acceptedPerSec: number;
  deliveredPerSec?: number;
  refused: number;
  /** CPU ms per 1000 alerts: the server process, and Redis (hub only). Less sensitive to a shared machine than wall-clock rates. */
  serverCpuMsPer1k: number;
  redisCpuMsPer1k?: number;
}

/** The processes whose CPU a phase is charged: the server under test and (for the hub) Redis. */
interface Measured {
  readonly server: number | undefined;
  readonly redis?: number;
}

async function drive(url: string, requests: number, perRequest: number, connections: number, pids: Measured, receiver?: CountingReceiver): Promise<Phase> {
  const client = new KeepAliveClient(connections);
  const bodies = Array.from({ length: requests }, () => JSON.stringify(perRequest === 1 ? alert() : Array.from({ length: perRequest }, alert)));
  receiver?.reset();
  let refused = 0;
  const cpu0 = [cpuMs(pids.server), cpuMs(pids.redis)];
  const start = performance.now();
  await postMany(client, url, requests, connections, (i) => bodies[i], (_i, r) => {
    if (r.status !== 202) refused++;
  });
  const accepted = performance.now();
  client.close();
  const total = requests * perRequest;
  const phase: Phase = { acceptedPerSec: Math.round(total / ((accepted - start) / 1000)), refused, serverCpuMsPer1k: 0 };
  if (receiver !== undefined) {
    const done = await receiver.waitFor(total - refused * perRequest, 120_000);
    if (!done) throw new Error(`only ${receiver.delivered} of ${total} alerts delivered`);
    phase.deliveredPerSec = Math.round(total / ((receiver.lastAt - start) / 1000));
  }
  phase.serverCpuMsPer1k = Math.round(((cpuMs(pids.server) - cpu0[0]) / total) * 1000 * 10) / 10;
  if (pids.redis !== undefined) phase.redisCpuMsPer1k = Math.round(((cpuMs(pids.redis) - cpu0[1]) / total) * 1000 * 10) / 10;
  return phase;
}

async function latencyAtRate(url: string, receiver: CountingReceiver, ratePerSec: number, seconds: number): Promise<{ p50: number; p99: number; max: number; n: number }> {
  const client = new KeepAliveClient(32);
  receiver.reset();
  receiver.recordTimes = true;
  const sentAt = new Map<string, number>();
  const total = ratePerSec * seconds;
  const tickMs = 10;
  const perTick = (ratePerSec * tickMs) / 1000;
  const pending: Array<Promise<unknown>> = [];
  const start = performance.now();
  for (let sent = 0; sent < total; ) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / tickMs + 1) * perTick));
    for (; sent < due; sent++) {
      const a = alert();
      sentAt.set(a.uuid as string, performance.now());
      pending.push(client.post(url, JSON.stringify(a)));
    }
    await new Promise((r) => setTimeout(r, tickMs));
  }
  await Promise.all(pending);
  await receiver.waitFor(total, 60_000);
  receiver.recordTimes = false;
  client.close();
  const latencies = [...sentAt].map(([uuid, t]) => (receiver.arrivals.get(uuid) ?? Number.NaN) - t).filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  const pick = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] * 10) / 10;
  return { p50: pick(0.5), p99: pick(0.99), max: pick(1), n: latencies.length };
}

async function withBaseline<T>(run: (url: string, pids: Measured) => Promise<T>): Promise<T> {
  const port = await freeLoopbackPort();
  const child = await startServer(BASELINE_MAIN, [String(port)]);
  try {
    return await run(`http://127.0.0.1:${port}`, { server: child.pid });
  } finally {
    await stop(child);
  }
}

async function withHub<T>(receiver: CountingReceiver, run: (url: string, pids: Measured) => Promise<T>): Promise<T> {
  const redis = await startTestRedis();
  const dir = mkdtempSync(join(tmpdir(), 'bench-hub-'));
  const config = join(dir, 'hub.yaml');
  writeFileSync(
    config,
    [
      'listen: { host: 127.0.0.1 }',
      `redis: { url: "${redis.url}" }`,
      'bodyLimitBytes: 10485760',
      'delivery: { concurrency: 8, maxBatch: 500 }',
      'destinations:',
      '  hook:',
      '    type: webhook',
      `    settings: { address: "${receiver.url}/in", batchAsArray: true }`,
      '    match: { minimumPriority: notice, fields: ["k8s.ns.name != kube-system"] }',
      '',
    ].join('\n'),
  );
  const port = await freeLoopbackPort();
  let child: ChildProcess | undefined;
  try {
    child = await startServer(HUB_MAIN, ['--config', config, '--port', String(port), '--log-level', 'warn'], `http://127.0.0.1:${port}/readyz`);
    return await run(`http://127.0.0.1:${port}`, { server: child.pid, redis: redis.pid });
  } finally {
    if (child) await stop(child);
    await redis.stop();
  }
}

const receiver = new CountingReceiver();
await receiver.start();

const baseline = await withBaseline(async (url, pids) => {
  await drive(`${url}/`, 3000, 1, CONNECTIONS, pids);
  const single = await drive(`${url}/`, SINGLE, 1, CONNECTIONS, pids);
  const batched = await drive(`${url}/v1/alerts`, BATCHES, BATCH, 16, pids);
  return { single, batched };
});

const hub = await withHub(receiver, async (url, pids) => {
  await drive(`${url}/`, 3000, 1, CONNECTIONS, pids, receiver);
  const single = await drive(`${url}/`, SINGLE, 1, CONNECTIONS, pids, receiver);
  const batched = await drive(`${url}/v1/alerts`, BATCHES, BATCH, 16, pids, receiver);
  const latency = await latencyAtRate(`${url}/`, receiver, 1000, LATENCY_SECONDS);
  return { single, batched, latency };
});
await receiver.close();

const cpu = cpus();
const ratio = (a: number, b: number) => (a / b).toFixed(2);
console.log(`machine: ${cpu.length} × ${cpu[0]?.model ?? '?'}, node ${process.version}, ${new Date().toISOString()}`);
console.log(`single POST / (${SINGLE} alerts, ${CONNECTIONS} keep-alive connections):`);
console.log(`  baseline Fastify (no queue): ${baseline.single.acceptedPerSec} alerts/s accepted`);
console.log(`  hub: ${hub.single.acceptedPerSec} alerts/s accepted (202 after Redis), ${hub.single.deliveredPerSec} alerts/s delivered; ratio accepted/baseline ${ratio(hub.single.acceptedPerSec, baseline.single.acceptedPerSec)}; refused ${hub.single.refused}`);
console.log(`batched POST /v1/alerts (${BATCHES} × ${BATCH} alerts, 16 connections):`);
console.log(`  baseline Fastify (no queue): ${baseline.batched.acceptedPerSec} alerts/s accepted`);
console.log(`  hub: ${hub.batched.acceptedPerSec} alerts/s accepted, ${hub.batched.deliveredPerSec} alerts/s delivered; ratio accepted/baseline ${ratio(hub.batched.acceptedPerSec, baseline.batched.acceptedPerSec)}; refused ${hub.batched.refused}`);
console.log(`CPU per 1000 alerts (ms): single baseline ${baseline.single.serverCpuMsPer1k}, hub ${hub.single.serverCpuMsPer1k} + redis ${hub.single.redisCpuMsPer1k}; batched baseline ${baseline.batched.serverCpuMsPer1k}, hub ${hub.batched.serverCpuMsPer1k} + redis ${hub.batched.redisCpuMsPer1k}`);
console.log(`load average at end: ${loadavg().map((x) => x.toFixed(1)).join(' ')} (the machine is shared; wall-clock rates move with it, CPU per alert much less)`);
console.log(`latency ingest→delivery at 1000 alerts/s for ${LATENCY_SECONDS} s (n=${hub.latency.n}): p50 ${hub.latency.p50} ms, p99 ${hub.latency.p99} ms, max ${hub.latency.max} ms`);
console.log(JSON.stringify({ baseline, hub }));
