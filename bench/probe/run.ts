/**
 * Probe benchmark: an openat flood from the sysc helper (pinned to CPU 1)
 * with the probe off (baseline), then on with JS only counting records
 * (delivery into JS), then on with JS decoding every record. Node is pinned
 * to CPU 0, so "per core" figures divide by the CPU time this process used.
 * Kernel cost per event comes from bpf_stats (run_time_ns / run_cnt of the
 * sys_exit program), enabled for the run and restored after.
 *
 *   npm run bench -- probe            (root; builds nothing: run npm test or native/scripts/build.sh first)
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { forEachRecord } from '../../native/ts/decode.ts';
import { Probe } from '../../native/ts/probe.ts';
import { SYSC, requireBuilt } from '../../native/test/support.ts';
import { median, progStats, withPinnedBpfStats } from './kernel-stats.ts';

const SECONDS = Number(process.env.PG_BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.PG_BENCH_ROUNDS ?? 3);
const FLOOD_PATH = '/nonexistent-pg-bench/x'; // openat fails fast: the flood is all openat

interface Phase {
  readonly name: string;
  readonly calls: number;
  readonly callsPerSec: number;
  readonly delivered?: number;
  readonly cpuSec?: number;
  readonly kernelNsPerRun?: number;
  readonly kernelRuns?: number;
  readonly drops?: number;
}

function flood(seconds: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', '1', SYSC, 'flood-secs', String(seconds), FLOOD_PATH], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', () => {
      const line = out.split('\n').find((l) => l.includes('"flood"'));
      if (!line) return reject(new Error(`flood helper printed no result: ${out}`));
      resolve((JSON.parse(line) as { ret: number }).ret);
    });
  });
}

async function withProbe(name: string, decode: boolean): Promise<Phase> {
  const probe = Probe.open({ syscalls: ['openat'], sched: { fork: false, exec: false, exit: false }, ringBytes: 64 << 20 });
  let delivered = 0;
  probe.start(
    decode
      ? (batch) => {
          delivered += forEachRecord(batch, () => {});
        }
      : (_batch, count) => {
          delivered += count;
        },
  );
  const sysExit = probe.bpfIds().programs[0];
  const k0 = progStats(sysExit);
  const cpu0 = process.cpuUsage();
  const calls = await flood(SECONDS);
  // Drain what is already in the ring before reading the clocks.
  for (let i = 0; i < 100; i++) {
    const s = probe.stats();
    if (s.user.records >= s.kernel.events && delivered >= s.user.records) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const cpu = process.cpuUsage(cpu0);
  const k1 = progStats(sysExit);
  const stats = probe.stats();
  probe.close();
  const runs = k1.runCnt - k0.runCnt;
  return {
    name,
    calls,
    callsPerSec: calls / SECONDS,
    delivered,
    cpuSec: (cpu.user + cpu.system) / 1e6,
    kernelNsPerRun: runs > 0 ? (k1.runTimeNs - k0.runTimeNs) / runs : 0,
    kernelRuns: runs,
    drops: stats.kernel.dropsBuffer + stats.user.drops,
  };
}

/**
 * Pure delivery capacity, not limited by one flooding process: fill a large
 * ring while nothing reads it, then start the reader and time how fast JS
 * receives (or decodes) the backlog on node's one core.
 */
async function drainPhase(decode: boolean): Promise<{ events: number; perSec: number }> {
  const probe = Probe.open({ syscalls: ['openat'], sched: { fork: false, exec: false, exit: false }, ringBytes: 256 << 20 });
  try {
    await flood(SECONDS);
    probe.setSyscalls([]); // nothing new: the backlog is what is measured
    const backlog = probe.stats().kernel.events;
    let delivered = 0;
    let done: () => void = () => {};
    const finished = new Promise<void>((r) => (done = r));
    const t0 = process.hrtime.bigint();
    probe.start(
      decode
        ? (batch) => {
            delivered += forEachRecord(batch, () => {});
            if (delivered >= backlog) done();
          }
        : (_batch, count) => {
            delivered += count;
            if (delivered >= backlog) done();
          },
    );
    await finished;
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    return { events: delivered, perSec: delivered / secs };
  } finally {
    probe.close();
  }
}

async function main(): Promise<void> {
  requireBuilt();
  const rounds: Array<{ off: Phase; count: Phase; decode: Phase; drain: { events: number; perSec: number }; drainDecode: { events: number; perSec: number } }> = [];
  await withPinnedBpfStats(async () => {
    // Interleaved rounds: a shared machine's load drifts, so each round has its own baseline.
    for (let i = 0; i < ROUNDS; i++) {
      const calls = await flood(SECONDS);
      const off: Phase = { name: 'probe off (baseline)', calls, callsPerSec: calls / SECONDS };
      const count = await withProbe('probe on, JS counts records', false);
      const decode = await withProbe('probe on, JS decodes every record', true);
      const drain = await drainPhase(false);
      const drainDecode = await drainPhase(true);
      rounds.push({ off, count, decode, drain, drainDecode });
    }
  });
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US').replace(/,/g, ' ');
  const stat = (f: (r: (typeof rounds)[number]) => number): string => {
    const xs = rounds.map(f);
    return `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`;
  };
  console.log(`openat flood (failing path), ${SECONDS} s per phase, ${ROUNDS} interleaved rounds, median (min–max); helper on CPU 1, node on CPU 0; load average ${loadavg()[0].toFixed(1)}`);
  console.log('| phase | helper openat/s | events into JS/s | events per JS core-second | kernel ns per event | drops |');
  console.log('|---|---|---|---|---|---|');
  console.log(`| probe off (baseline) | ${stat((r) => r.off.callsPerSec)} | – | – | – | – |`);
  for (const key of ['count', 'decode'] as const) {
    console.log(
      `| ${rounds[0][key].name} | ${stat((r) => r[key].callsPerSec)} | ${stat((r) => (r[key].delivered ?? 0) / SECONDS)} | ` +
        `${stat((r) => (r[key].delivered ?? 0) / (r[key].cpuSec || 1))} | ${stat((r) => r[key].kernelNsPerRun ?? 0)} | ${stat((r) => r[key].drops ?? 0)} |`,
    );
  }
  console.log(`| backlog drain (ring filled first), JS counts records | – | ${stat((r) => r.drain.perSec)} | (one core, wall clock) | – | backlog ${stat((r) => r.drain.events)} |`);
  console.log(`| backlog drain (ring filled first), JS decodes every record | – | ${stat((r) => r.drainDecode.perSec)} | (one core, wall clock) | – | backlog ${stat((r) => r.drainDecode.events)} |`);
  const ratio = median(rounds.map((r) => r.off.callsPerSec / r.count.callsPerSec));
  const added = median(rounds.map((r) => (1 / r.count.callsPerSec - 1 / r.off.callsPerSec) * 1e9));
  console.log(`\nhelper throughput off/on (same round): ${ratio.toFixed(2)}× -> ≈${fmt(added)} ns added per openat, all-in`);
  console.log(
    `targets: ≥ 1 000 000 events/s into JS on one core -> backlog drain ${fmt(median(rounds.map((r) => r.drain.perSec)))}/s ` +
      `(decoded ${fmt(median(rounds.map((r) => r.drainDecode.perSec)))}/s); per core-second under the live flood ${fmt(median(rounds.map((r) => (r.count.delivered ?? 0) / (r.count.cpuSec || 1))))} ` +
      `(decoded: ${fmt(median(rounds.map((r) => (r.decode.delivered ?? 0) / (r.decode.cpuSec || 1))))}); ` +
      `≤ 200 ns per event in the kernel -> ${fmt(median(rounds.map((r) => r.count.kernelNsPerRun ?? 0)))} ns`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
