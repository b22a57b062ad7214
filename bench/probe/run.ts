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
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { forEachRecord } from '../../native/ts/decode.ts';
import { Probe } from '../../native/ts/probe.ts';
import { SYSC, requireBuilt } from '../../native/test/support.ts';

const SECONDS = Number(process.env.PG_BENCH_SECONDS ?? 4);
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

function progStats(id: number): { runTimeNs: number; runCnt: number } {
  const info = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'id', String(id)]).toString()) as {
    run_time_ns?: number;
    run_cnt?: number;
  };
  return { runTimeNs: info.run_time_ns ?? 0, runCnt: info.run_cnt ?? 0 };
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
  const t0 = process.hrtime.bigint();
  const calls = await flood(SECONDS);
  // Drain what is already in the ring before reading the clocks.
  for (let i = 0; i < 100; i++) {
    const s = probe.stats();
    if (s.user.records >= s.kernel.events && delivered >= s.user.records) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
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
  void elapsed;
}

async function main(): Promise<void> {
  requireBuilt();
  if (cpus().length < 2) throw new Error('the probe bench pins the flood and node to different CPUs: needs 2 cores');
  execFileSync('taskset', ['-a', '-cp', '0', String(process.pid)], { stdio: 'ignore' });
  const statsPath = '/proc/sys/kernel/bpf_stats_enabled';
  const statsBefore = readFileSync(statsPath, 'utf8').trim();
  writeFileSync(statsPath, '1');
  try {
    const off = { name: 'probe off (baseline)', ...(await (async () => {
      const calls = await flood(SECONDS);
      return { calls, callsPerSec: calls / SECONDS };
    })()) } satisfies Phase;
    const count = await withProbe('probe on, JS counts records', false);
    const decode = await withProbe('probe on, JS decodes every record', true);

    const fmt = (n: number): string => Math.round(n).toLocaleString('en-US').replace(/,/g, ' ');
    console.log(`openat flood, ${SECONDS} s per phase; helper on CPU 1, node on CPU 0`);
    console.log(`| phase | openat/s (helper) | events into JS/s | JS-side CPU | events per JS core-second | kernel ns/run (runs) | drops |`);
    console.log(`|---|---|---|---|---|---|---|`);
    console.log(`| ${off.name} | ${fmt(off.callsPerSec)} | – | – | – | – | – |`);
    for (const p of [count, decode]) {
      const perSec = (p.delivered ?? 0) / SECONDS;
      const perCore = (p.delivered ?? 0) / (p.cpuSec || 1);
      console.log(
        `| ${p.name} | ${fmt(p.callsPerSec)} | ${fmt(perSec)} | ${((p.cpuSec ?? 0) / SECONDS * 100).toFixed(0)} % | ${fmt(perCore)} | ${p.kernelNsPerRun?.toFixed(0)} (${fmt(p.kernelRuns ?? 0)}) | ${fmt(p.drops ?? 0)} |`,
      );
    }
    const slow = off.callsPerSec / count.callsPerSec;
    const addedNs = (1 / count.callsPerSec - 1 / off.callsPerSec) * 1e9;
    console.log(`\nhelper throughput ratio off/on: ${slow.toFixed(2)}× (≈${addedNs.toFixed(0)} ns added per openat, all-in)`);
    console.log(`targets: ≥ 1 000 000 events/s into JS per core -> ${fmt(count.delivered! / (count.cpuSec || 1))}; ≤ 200 ns per event in the kernel -> ${count.kernelNsPerRun?.toFixed(0)} ns`);
  } finally {
    writeFileSync(statsPath, statsBefore);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
