// bench/hub: alerts/s accepted and delivered by the hub (Redis + BullMQ +
// a webhook destination on loopback), for single-alert `POST /` and for
// 100-alert `POST /v1/alerts` batches, against plain Fastify with no queue
// in the same run; and ingest→delivery latency at a steady 1k alerts/s.
// `npm run bench -- hub` (or node --import tsx bench/hub/run.ts).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { KeepAliveClient, freeLoopbackPort, startTestRedis } from '@peregrine/testkit';
import { BASELINE_MAIN, BULLMQ_PER_ALERT_MAIN, FLOOR_MAIN, HUB_MAIN, cpuMs, runToCompletion, startServer, stop, treeCpuMs } from './processes.ts';
import { falcoAlert, falcoAlertWithUuid } from './alerts.ts';
import { CountingReceiver } from './receiver.ts';
import { postScript, requireWrk, runWrk } from './wrk.ts';

const SECONDS = Number(process.env.BENCH_HUB_SECONDS ?? 8);
const WARMUP_SECONDS = 2;
const BATCH = 100;
const LATENCY_SECONDS = Number(process.env.BENCH_HUB_LATENCY_S ?? 10);
const ROUNDS = Number(process.env.BENCH_HUB_ROUNDS ?? 3);
const SINGLE_CONNECTIONS = 64;
const BATCH_CONNECTIONS = 16;

let seq = 0;
/** The next bench alert (no uuid: the hub assigns one). */
const nextAlert = () => falcoAlert(++seq);

const scripts = mkdtempSync(join(tmpdir(), 'bench-hub-wrk-'));
const SINGLE_SCRIPT = postScript(scripts, 'single', Array.from({ length: 64 }, () => JSON.stringify(nextAlert())));
const BATCH_SCRIPT = postScript(scripts, 'batch', Array.from({ length: 16 }, () => JSON.stringify(Array.from({ length: BATCH }, nextAlert))));

interface Phase {
  acceptedPerSec: number;
  deliveredPerSec?: number;
  refused: number;
  /** CPU ms per 1000 alerts: the server process (tree), and Redis (hub only). Less sensitive to a shared machine than wall-clock rates. */
  serverCpuMsPer1k: number;
  redisCpuMsPer1k?: number;
}

/** The processes whose CPU a phase is charged: the server under test (with its children) and (for the hub) Redis. */
interface Measured {
  readonly server: number | undefined;
  readonly redis?: number;
}

/**
 * wrk for WARMUP_SECONDS (not counted), then for SECONDS; accepted = answered
 * 2xx per second; delivered = all of them at the receiver, timed from the start.
 */
async function drive(url: string, perRequest: number, pids: Measured, receiver?: CountingReceiver): Promise<Phase> {
  const single = perRequest === 1;
  const script = single ? SINGLE_SCRIPT : BATCH_SCRIPT;
  const connections = single ? SINGLE_CONNECTIONS : BATCH_CONNECTIONS;
  await runWrk(url, script, connections, WARMUP_SECONDS);
  await receiver?.settle(500, 30_000); // let the warm-up's deliveries finish
  receiver?.reset();
  const cpu0 = [treeCpuMs(pids.server), cpuMs(pids.redis)];
  const start = performance.now();
  const r = await runWrk(url, script, connections, SECONDS);
  const accepted = (r.requests - r.failed) * perRequest;
  const phase: Phase = { acceptedPerSec: Math.round(accepted / r.seconds), refused: r.failed, serverCpuMsPer1k: 0 };
  if (receiver !== undefined) {
    const done = await receiver.waitFor(accepted, 120_000);
    if (!done) throw new Error(`only ${receiver.delivered} of ${accepted} alerts delivered`);
    phase.deliveredPerSec = Math.round(accepted / ((receiver.lastAt - start) / 1000));
  }
  phase.serverCpuMsPer1k = Math.round(((treeCpuMs(pids.server) - cpu0[0]) / accepted) * 1000 * 10) / 10;
  if (pids.redis !== undefined) phase.redisCpuMsPer1k = Math.round(((cpuMs(pids.redis) - cpu0[1]) / accepted) * 1000 * 10) / 10;
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
      const a = falcoAlertWithUuid(++seq);
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

/** The floor: Fastify + one Redis list + one consumer (floor-server.ts), with its own Redis. */
async function withFloor<T>(receiver: CountingReceiver, run: (url: string, pids: Measured) => Promise<T>): Promise<T> {
  const redis = await startTestRedis();
  const port = await freeLoopbackPort();
  const child = await startServer(FLOOR_MAIN, [String(port), redis.url, `${receiver.url}/in`]);
  try {
    return await run(`http://127.0.0.1:${port}`, { server: child.pid, redis: redis.pid });
  } finally {
    await stop(child);
    await redis.stop();
  }
}

async function withHub<T>(receiver: CountingReceiver, processes: number, run: (url: string, pids: Measured) => Promise<T>): Promise<T> {
  const redis = await startTestRedis();
  const dir = mkdtempSync(join(tmpdir(), 'bench-hub-'));
  const config = join(dir, 'hub.yaml');
  writeFileSync(
    config,
    [
      'listen: { host: 127.0.0.1 }',
      `redis: { url: "${redis.url}" }`,
      `processes: ${processes}`,
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

requireWrk();
const receiver = new CountingReceiver();
await receiver.start();

/** One BullMQ job per alert, no HTTP (bullmq-per-alert.ts), with its own Redis: the calibration point. */
interface Calibration {
  readonly alertsPerSec: number;
  readonly cpuMsPer1k: number;
  readonly redisCpuMsPer1k: number;
}

async function calibrate(): Promise<Calibration> {
  const redis = await startTestRedis();
  try {
    const alerts = 20_000;
    const redis0 = cpuMs(redis.pid);
    const out = await runToCompletion(BULLMQ_PER_ALERT_MAIN, [redis.url, String(alerts)]);
    const result = JSON.parse(out.trim().split('\n').pop() ?? '') as { alertsPerSec: number; cpuMsPer1k: number };
    return { alertsPerSec: result.alertsPerSec, cpuMsPer1k: result.cpuMsPer1k, redisCpuMsPer1k: Math.round(((cpuMs(redis.pid) - redis0) / alerts) * 1000 * 10) / 10 };
  } finally {
    await redis.stop();
  }
}

interface Round {
  readonly calibration: Calibration;
  readonly baseline: { single: Phase; batched: Phase };
  readonly floor: { single: Phase; batched: Phase };
  readonly hub: { single: Phase; batched: Phase };
  readonly hub2: { single: Phase; batched: Phase };
}

// Rounds interleave baseline, floor, hub and hub with 2 processes, so a noisy
// neighbour on the shared machine hits all of them alike; medians are reported.
const rounds: Round[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const calibration = await calibrate();
  const baseline = await withBaseline(async (url, pids) => ({ single: await drive(`${url}/`, 1, pids), batched: await drive(`${url}/v1/alerts`, BATCH, pids) }));
  const floor = await withFloor(receiver, async (url, pids) => ({ single: await drive(`${url}/`, 1, pids, receiver), batched: await drive(`${url}/v1/alerts`, BATCH, pids, receiver) }));
  const hub = await withHub(receiver, 1, async (url, pids) => ({ single: await drive(`${url}/`, 1, pids, receiver), batched: await drive(`${url}/v1/alerts`, BATCH, pids, receiver) }));
  const hub2 = await withHub(receiver, 2, async (url, pids) => ({ single: await drive(`${url}/`, 1, pids, receiver), batched: await drive(`${url}/v1/alerts`, BATCH, pids, receiver) }));
  rounds.push({ calibration, baseline, floor, hub, hub2 });
  console.error(`round ${r + 1}/${ROUNDS}: BullMQ job per alert ${calibration.alertsPerSec}/s; single ${baseline.single.acceptedPerSec} / ${floor.single.acceptedPerSec} / ${hub.single.acceptedPerSec} / ${hub2.single.acceptedPerSec}, batched ${baseline.batched.acceptedPerSec} / ${floor.batched.acceptedPerSec} / ${hub.batched.acceptedPerSec} / ${hub2.batched.acceptedPerSec} alerts/s (baseline / floor / hub / hub ×2)`);
}
const latency = await withHub(receiver, 1, (url) => latencyAtRate(`${url}/`, receiver, 1000, LATENCY_SECONDS));
await receiver.close();

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** "median (min–max)" of one figure over the rounds. */
const spread = (pick: (r: Round) => number | undefined, digits = 0) => {
  const xs = rounds.map(pick).filter((x): x is number => x !== undefined);
  const f = (x: number) => x.toFixed(digits);
  return `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
};
type Which = 'floor' | 'hub' | 'hub2';
type Mode = 'single' | 'batched';
const row = (name: string, which: Which, mode: Mode) =>
  `  ${name}: accepted ${spread((r) => r[which][mode].acceptedPerSec)} alerts/s, delivered ${spread((r) => r[which][mode].deliveredPerSec)}/s; ratio to baseline ${spread((r) => r[which][mode].acceptedPerSec / r.baseline[mode].acceptedPerSec, 2)}; refused ${rounds.reduce((n, r) => n + r[which][mode].refused, 0)}; CPU ms per 1000 alerts: hub ${spread((r) => r[which][mode].serverCpuMsPer1k, 1)} + redis ${spread((r) => r[which][mode].redisCpuMsPer1k, 1)}`;
const cpu = cpus();
console.log(`machine: ${cpu.length} × ${cpu[0]?.model ?? '?'}, node ${process.version}, ${new Date().toISOString()}; load generator wrk (1 thread); ${ROUNDS} interleaved rounds of ${SECONDS} s per phase after ${WARMUP_SECONDS} s warm-up; median (min–max)`);
for (const [mode, title] of [['single', `single POST / (${SINGLE_CONNECTIONS} keep-alive connections)`], ['batched', `batched POST /v1/alerts (${BATCH} alerts per request, ${BATCH_CONNECTIONS} connections)`]] as const) {
  console.log(`${title}:`);
  console.log(`  baseline Fastify (no queue): ${spread((r) => r.baseline[mode].acceptedPerSec)} alerts/s; CPU ms per 1000: ${spread((r) => r.baseline[mode].serverCpuMsPer1k, 1)}`);
  console.log(row('floor (Fastify + one Redis list + one consumer; no BullMQ, validation, routing)', 'floor', mode));
  console.log(row('hub, processes 1', 'hub', mode));
  console.log(row('hub, processes 2', 'hub2', mode));
}
console.log(`calibration, one BullMQ job per alert (64 producers, no HTTP; the issue expects "near 15k alerts/s on this hardware"): ${spread((r) => r.calibration.alertsPerSec)} alerts/s; CPU ms per 1000: client ${spread((r) => r.calibration.cpuMsPer1k, 1)} + redis ${spread((r) => r.calibration.redisCpuMsPer1k, 1)}`);
console.log(`load average at end: ${loadavg().map((x) => x.toFixed(1)).join(' ')} (the machine is shared; wall-clock rates move with it, CPU per alert much less)`);
console.log(`latency ingest→delivery at 1000 alerts/s for ${LATENCY_SECONDS} s, processes 1 (n=${latency.n}): p50 ${latency.p50} ms, p99 ${latency.p99} ms, max ${latency.max} ms`);
console.log(JSON.stringify({ rounds, latency }));
