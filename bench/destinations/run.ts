// bench/destinations: alerts/s through the hub into a real Kafka broker and a real OpenSearch
// node, against the batched webhook destination (a fast loopback receiver) in the same run, and
// the webhook phase on a 3-node Redis Cluster against a single Redis (issue 10's `bench/sinks`
// item). Every phase: a fresh hub with exactly one destination, wrk posting 100-alert batches to
// `POST /v1/alerts`; accepted = 2xx answers, delivered = counted at the server (receiver count,
// topic end offsets, documents indexed), timed from the start of the measured window.
// `npm run bench -- destinations [--quick]` (or node --import tsx bench/destinations/run.ts).
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeLoopbackPort, startTestKafka, startTestOpenSearch, startTestRedis, startTestRedisCluster } from '@peregrine/testkit';
import type { JvmTuning, TestKafka, TestOpenSearch } from '@peregrine/testkit';
import { falcoAlert } from '../hub/alerts.ts';
import { HUB_MAIN, cpuMs, startServer, stop, treeCpuMs } from '../hub/processes.ts';
import { postScript, requireWrk, runWrk } from '../hub/wrk.ts';
import { kafkaTopicCounter, openSearchCounter, receiverCounter } from './counters.ts';
import type { DeliveryCounter } from './counters.ts';

const QUICK = process.argv.includes('--quick');
const numberFromEnv = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${raw}: expected a non-negative number`);
  return value;
};
const SECONDS = QUICK ? 3 : numberFromEnv('BENCH_DEST_SECONDS', 10);
const WARMUP_SECONDS = QUICK ? 1 : 2;
const ROUNDS = QUICK ? 1 : numberFromEnv('BENCH_DEST_ROUNDS', 3);
const BATCH = 100;
const CONNECTIONS = 16;
/** The hub's delivery settings, the same for every destination (bench/hub's webhook settings). */
const CONCURRENCY = numberFromEnv('BENCH_DEST_CONCURRENCY', 8);
const MAX_BATCH = numberFromEnv('BENCH_DEST_MAXBATCH', 500);
const PROCESSES = numberFromEnv('BENCH_DEST_PROCESSES', 1);
const KAFKA_PARTITIONS = numberFromEnv('BENCH_DEST_KAFKA_PARTITIONS', 3);
/** The smoke run starts the JVMs tuned for a fast start; recorded runs as in production (C2, G1). */
const JVM_TUNING: JvmTuning = QUICK ? 'fast-start' : 'throughput';
const DELIVERY_TIMEOUT_MS = 180_000;
const RECEIVER_MAIN = fileURLToPath(new URL('./receiver-server.ts', import.meta.url));

type PhaseName = 'webhook' | 'kafka' | 'opensearch' | 'webhook-cluster';
const ALL_PHASES: readonly PhaseName[] = ['webhook', 'kafka', 'opensearch', 'webhook-cluster'];
/** BENCH_DEST_PHASES=kafka,opensearch runs those and the webhook baseline only. */
const PHASES: readonly PhaseName[] = (() => {
  const raw = process.env.BENCH_DEST_PHASES;
  if (raw === undefined || raw.trim() === '') return ALL_PHASES;
  const wanted = raw.split(',').map((p) => p.trim());
  const unknown = wanted.filter((p) => !(ALL_PHASES as readonly string[]).includes(p));
  if (unknown.length > 0) throw new Error(`BENCH_DEST_PHASES: unknown phase(s) ${unknown.join(', ')}; choose from ${ALL_PHASES.join(', ')}`);
  return ALL_PHASES.filter((p) => p === 'webhook' || wanted.includes(p));
})();
/**
 * A destination's own `delivery:` overrides (YAML flow map), e.g.
 * BENCH_DEST_KAFKA_DELIVERY='{ maxBatch: 2000 }': tuning one destination while the webhook keeps the common settings.
 */
const DELIVERY_OVERRIDES: Partial<Record<PhaseName, string>> = {
  kafka: process.env.BENCH_DEST_KAFKA_DELIVERY,
  opensearch: process.env.BENCH_DEST_OPENSEARCH_DELIVERY,
};
const PHASE_TITLES: Record<PhaseName, string> = {
  webhook: 'webhook (batchAsArray) → loopback receiver, single Redis: the baseline',
  kafka: `kafka (acks=all, idempotent, ${KAFKA_PARTITIONS} partitions), single Redis`,
  opensearch: 'opensearch _bulk (1 shard, 0 replicas), single Redis',
  'webhook-cluster': 'webhook (batchAsArray), 3-node Redis Cluster',
};

interface PhaseResult {
  readonly acceptedPerSec: number;
  readonly deliveredPerSec: number;
  readonly accepted: number;
  readonly refused: number;
  /** Failed delivery attempts (alerts) the hub counted (retried: timeouts, 429s…), from its /metrics. */
  readonly failedAttempts: number;
  /** Server count at the end minus every alert accepted in the phase (warm-up included): 0, or batches wrk stopped before it saw answered (at most one per connection and wrk run). */
  readonly surplus: number;
  /** CPU ms per 1000 alerts over the measured window. */
  readonly hubCpuMsPer1k: number;
  readonly redisCpuMsPer1k: number;
  readonly serverCpuMsPer1k: number;
  readonly loadAverage: number;
}

let seq = 0;
const scripts = mkdtempSync(join(tmpdir(), 'bench-destinations-wrk-'));
const BATCH_SCRIPT = postScript(scripts, 'batch', Array.from({ length: 16 }, () => JSON.stringify(Array.from({ length: BATCH }, () => falcoAlert(++seq)))));

/** Polls the server's count while a phase runs, keeping (time, count) samples to find when a target was crossed. */
class Poller {
  private readonly samples: Array<{ at: number; delivered: number; lastAt?: number }> = [];
  private running = true;
  private readonly done: Promise<void>;

  constructor(
    private readonly counter: DeliveryCounter,
    private readonly base: number,
    intervalMs: number,
  ) {
    this.done = (async () => {
      while (this.running) {
        const c = await counter.count();
        this.samples.push({ at: Date.now(), delivered: c.delivered - base, lastAt: c.lastAt });
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    })();
  }

  /** Waits until `target` alerts are counted; returns the epoch ms it happened (the server's own time, else interpolated between polls). */
  async reached(target: number, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.samples.findIndex((s) => s.delivered >= target);
      if (i >= 0) {
        const hit = this.samples[i];
        if (hit.lastAt !== undefined && hit.lastAt > 0) return hit.lastAt;
        if (i === 0) return hit.at;
        const before = this.samples[i - 1];
        return before.at + ((target - before.delivered) / (hit.delivered - before.delivered)) * (hit.at - before.at);
      }
      if (Date.now() > deadline) throw new Error(`only ${this.samples.at(-1)?.delivered ?? 0} of ${target} alerts arrived within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  get latest(): number {
    return this.samples.at(-1)?.delivered ?? 0;
  }
}

/** Waits until at least `count` alerts have arrived and then nothing more for `quietMs`. */
async function settle(counter: DeliveryCounter, base: number, count: number, quietMs: number): Promise<void> {
  const deadline = Date.now() + DELIVERY_TIMEOUT_MS;
  let last = -1;
  for (;;) {
    const now = (await counter.count()).delivered - base;
    if (now >= count && now === last) return;
    if (Date.now() > deadline) throw new Error(`warm-up: ${now} of ${count} alerts arrived within ${DELIVERY_TIMEOUT_MS / 1000} s`);
    last = now;
    await new Promise((r) => setTimeout(r, quietMs));
  }
}

/** Sum of peregrine_hub_delivery_failures_total (every kind) in the hub's Prometheus text. */
async function failedDeliveryAttempts(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  let sum = 0;
  for (const m of text.matchAll(/^peregrine_hub_delivery_failures_total\{[^}]*\} (\S+)$/gm)) sum += Number(m[1]);
  return sum;
}

interface Servers {
  readonly receiverUrl: string;
  readonly receiverPid: number;
  readonly kafka: TestKafka;
  readonly openSearch: TestOpenSearch;
}

async function runPhase(name: PhaseName, round: number, servers: Servers): Promise<PhaseResult> {
  const loadAverage = loadavg()[0];
  const onCluster = name === 'webhook-cluster';
  const single = onCluster ? undefined : await startTestRedis();
  const cluster = onCluster ? await startTestRedisCluster() : undefined;
  const redisPids = cluster?.nodes.map((n) => n.pid) ?? [single?.pid ?? 0];
  const redisLine = cluster
    ? `redis: { cluster: [${cluster.startupNodes.map((n) => `{ host: "${n.host}", port: ${n.port} }`).join(', ')}] }`
    : `redis: { url: "${single?.url}" }`;
  let counter: DeliveryCounter;
  let settings: string;
  let serverPid: number;
  let pollMs = 100;
  const tag = `bench-r${round + 1}-${name}`;
  if (name === 'kafka') {
    counter = await kafkaTopicCounter(servers.kafka.brokers, tag, KAFKA_PARTITIONS);
    settings = `{ brokers: ["${servers.kafka.broker}"], topic: "${tag}" }`;
    serverPid = servers.kafka.pid;
  } else if (name === 'opensearch') {
    counter = openSearchCounter(servers.openSearch.url, tag);
    settings = `{ url: "${servers.openSearch.url}", index: "${tag}", numberOfShards: 1, numberOfReplicas: 0 }`;
    serverPid = servers.openSearch.pid;
    pollMs = 200;
  } else {
    counter = receiverCounter(servers.receiverUrl);
    settings = `{ address: "${servers.receiverUrl}/in", batchAsArray: true }`;
    serverPid = servers.receiverPid;
  }
  const config = join(mkdtempSync(join(tmpdir(), 'bench-destinations-')), 'hub.yaml');
  writeFileSync(
    config,
    [
      'listen: { host: 127.0.0.1 }',
      redisLine,
      `processes: ${PROCESSES}`,
      'bodyLimitBytes: 10485760',
      `delivery: { concurrency: ${CONCURRENCY}, maxBatch: ${MAX_BATCH} }`,
      'destinations:',
      '  out:',
      `    type: ${name === 'webhook-cluster' ? 'webhook' : name}`,
      `    settings: ${settings}`,
      ...(DELIVERY_OVERRIDES[name] ? [`    delivery: ${DELIVERY_OVERRIDES[name]}`] : []),
      '',
    ].join('\n'),
  );
  const port = await freeLoopbackPort();
  const url = `http://127.0.0.1:${port}/v1/alerts`;
  let hub: ChildProcess | undefined;
  try {
    hub = await startServer(HUB_MAIN, ['--config', config, '--port', String(port), '--log-level', 'warn'], `http://127.0.0.1:${port}/readyz`);
    const phaseBase = (await counter.count()).delivered;
    const warm = await runWrk(url, BATCH_SCRIPT, CONNECTIONS, WARMUP_SECONDS);
    await settle(counter, phaseBase, (warm.requests - warm.failed) * BATCH, 300);
    const base = (await counter.count()).delivered;
    const redisCpu = () => redisPids.reduce((n, pid) => n + cpuMs(pid), 0);
    const cpu0 = { hub: treeCpuMs(hub.pid), redis: redisCpu(), server: cpuMs(serverPid) };
    const poller = new Poller(counter, base, pollMs);
    const start = Date.now();
    const r = await runWrk(url, BATCH_SCRIPT, CONNECTIONS, SECONDS);
    const accepted = (r.requests - r.failed) * BATCH;
    let doneAt: number;
    try {
      doneAt = await poller.reached(accepted, DELIVERY_TIMEOUT_MS);
    } finally {
      await poller.stop();
    }
    const per1k = (ms: number) => Math.round((ms / accepted) * 1000 * 10) / 10;
    const result = {
      acceptedPerSec: Math.round(accepted / r.seconds),
      deliveredPerSec: Math.round(accepted / ((doneAt - start) / 1000)),
      accepted,
      refused: r.failed,
      hubCpuMsPer1k: per1k(treeCpuMs(hub.pid) - cpu0.hub),
      redisCpuMsPer1k: per1k(redisCpu() - cpu0.redis),
      serverCpuMsPer1k: per1k(cpuMs(serverPid) - cpu0.server),
      loadAverage,
    };
    // Every accepted alert (warm-up included) is at the server once: no loss, no duplicate.
    await settle(counter, base, accepted, 300);
    const final = (await counter.finalCount()) - phaseBase;
    const everyAccepted = (warm.requests - warm.failed + r.requests - r.failed) * BATCH;
    const surplus = final - everyAccepted;
    // wrk stops with requests in flight: each of its two runs may leave one batch per connection that the hub accepted unseen.
    if (surplus < 0 || surplus > 2 * CONNECTIONS * BATCH) throw new Error(`${name}: the server holds ${final} alerts, ${everyAccepted} were accepted`);
    return { ...result, surplus, failedAttempts: await failedDeliveryAttempts(`http://127.0.0.1:${port}/metrics`) };
  } finally {
    if (hub) await stop(hub);
    await counter.close();
    await single?.stop();
    await cluster?.stop();
  }
}

requireWrk();
const cpu = cpus();
console.error(`starting the receiver, Kafka and OpenSearch (JVMs: ${JVM_TUNING})…`);
const receiverPort = await freeLoopbackPort();
const receiver = await startServer(RECEIVER_MAIN, [String(receiverPort)]);
const [kafka, openSearch] = await Promise.all([startTestKafka({ jvmTuning: JVM_TUNING }), startTestOpenSearch({ jvmTuning: JVM_TUNING })]);
const servers: Servers = { receiverUrl: `http://127.0.0.1:${receiverPort}`, receiverPid: receiver.pid ?? 0, kafka, openSearch };
const rounds: Array<Record<PhaseName, PhaseResult>> = [];
try {
  // Rounds interleave the phases, and each round starts one phase later, so a noisy neighbour
  // on the shared machine and the JVMs' warming up hit every phase alike; medians are reported.
  // Kafka and OpenSearch stay up through every phase (idle outside their own).
  for (let round = 0; round < ROUNDS; round++) {
    const results: Partial<Record<PhaseName, PhaseResult>> = {};
    for (let i = 0; i < PHASES.length; i++) {
      const name = PHASES[(i + round) % PHASES.length];
      results[name] = await runPhase(name, round, servers);
      const p = results[name];
      console.error(`round ${round + 1}/${ROUNDS} ${name}: accepted ${p?.acceptedPerSec}/s, delivered ${p?.deliveredPerSec}/s (load ${p?.loadAverage.toFixed(1)})`);
    }
    rounds.push(results as Record<PhaseName, PhaseResult>);
  }
} finally {
  await Promise.all([kafka.stop(), openSearch.stop(), stop(receiver)]);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** "median (min–max)" of one figure over the rounds. */
const spread = (pick: (r: Record<PhaseName, PhaseResult>) => number, digits = 0) => {
  const xs = rounds.map(pick);
  const f = (x: number) => x.toFixed(digits);
  return xs.length === 1 ? f(xs[0]) : `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
};
const loads = rounds.flatMap((r) => PHASES.map((p) => r[p].loadAverage));
console.log(
  `machine: ${cpu.length} × ${cpu[0]?.model ?? '?'}, Linux ${release()}, node ${process.version}, ${new Date().toISOString()}${QUICK ? ' (--quick: a smoke run, not for the record)' : ''}`,
);
console.log(
  `${ROUNDS} interleaved round(s) of ${SECONDS} s per phase after ${WARMUP_SECONDS} s warm-up; wrk (1 thread, ${CONNECTIONS} connections) posting ${BATCH}-alert batches to POST /v1/alerts; hub processes ${PROCESSES}, delivery { concurrency: ${CONCURRENCY}, maxBatch: ${MAX_BATCH} } for every destination${Object.entries(DELIVERY_OVERRIDES)
    .filter(([, v]) => v)
    .map(([k, v]) => `, ${k} ${v}`)
    .join('')}; JVMs ${JVM_TUNING}; load average (1 min) at phase starts ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}; median (min–max)`,
);
for (const p of PHASES) {
  const ratio = p === 'webhook' ? '' : `; ratio to webhook: delivered ${spread((r) => r[p].deliveredPerSec / r.webhook.deliveredPerSec, 2)}, accepted ${spread((r) => r[p].acceptedPerSec / r.webhook.acceptedPerSec, 2)}`;
  console.log(`${PHASE_TITLES[p]}:`);
  console.log(`  accepted ${spread((r) => r[p].acceptedPerSec)} alerts/s, delivered ${spread((r) => r[p].deliveredPerSec)} alerts/s${ratio}`);
  console.log(
    `  CPU ms per 1000 alerts: hub ${spread((r) => r[p].hubCpuMsPer1k, 1)}, Redis ${spread((r) => r[p].redisCpuMsPer1k, 1)}, server ${spread((r) => r[p].serverCpuMsPer1k, 1)}; refused ${rounds.reduce((n, r) => n + r[p].refused, 0)}; failed delivery attempts (retried) ${rounds.map((r) => r[p].failedAttempts).join(', ')}; at the server beyond the accepted: ${rounds.map((r) => r[p].surplus).join(', ')}`,
  );
}
const target = (p: PhaseName) => median(rounds.map((r) => r[p].deliveredPerSec / r.webhook.deliveredPerSec));
const verdicts = (['kafka', 'opensearch'] as const).filter((p) => PHASES.includes(p)).map((p) => `${p} ${target(p) >= 0.8 ? 'met' : 'missed'} (${target(p).toFixed(2)})`);
if (verdicts.length > 0) console.log(`target (delivered ≥ 0.8× webhook, median of the rounds' ratios): ${verdicts.join(', ')}`);
console.log(JSON.stringify({ settings: { seconds: SECONDS, rounds: ROUNDS, concurrency: CONCURRENCY, maxBatch: MAX_BATCH, processes: PROCESSES, kafkaPartitions: KAFKA_PARTITIONS, jvm: JVM_TUNING, overrides: DELIVERY_OVERRIDES }, rounds }));
