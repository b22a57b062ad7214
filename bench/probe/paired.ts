/**
 * Paired A/B of two builds of the probe addon: both are loaded and attached to
 * sys_exit at the same time, so every openat of the flood runs both programs
 * under the same load. bpf_stats gives each program's ns per run over 250 ms
 * windows. The program attached second finds the caches warm (and reads
 * ~100 ns cheaper on a 2-vCPU VM), so every round runs both attach orders and
 * the order-corrected difference is half of (B−A with A first) − (A−B with B
 * first). Single runs of `npm run bench -- probe` cannot resolve tens of ns on
 * a shared machine; this can.
 *
 *   cp native/build/Release/peregrine_probe.node /tmp/a.node   (build, change, rebuild)
 *   node --import tsx bench/probe/paired.ts /tmp/a.node native/build/Release/peregrine_probe.node [rounds]
 *
 * Root; PG_PAIRED_SECONDS (default 6) per order. Options: PG_PAIRED_PREFIX=/proc/ sets an
 * openat path-prefix exclusion, PG_PAIRED_COMM=name a comm exclusion (neither matching the
 * flood), to measure the filtered paths.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { SYSCALL_BY_NAME, buildSyscallTable } from '../../native/ts/layout.ts';
import { SYSC, requireBuilt } from '../../native/test/support.ts';
import { median, progStats, withPinnedBpfStats } from './kernel-stats.ts';

const SECONDS = Number(process.env.PG_PAIRED_SECONDS ?? 6);
const FLOOD_PATH = '/nonexistent-pg-bench/x';

interface NativeProbe {
  start(onBatch: (batch: Buffer, count: number) => void): void;
  programIds(): { programs: number[] };
  stats(): { user: { drops: number }; kernel?: { dropsBuffer: number } };
  close(): void;
}
type NativeCtor = new (opts: Record<string, unknown>) => NativeProbe;

/** One flood with both addons attached in `paths` order; per-window ns per run of each. */
async function once(paths: readonly string[]): Promise<number[][]> {
  const req = createRequire(import.meta.url);
  const openat = SYSCALL_BY_NAME.get('openat');
  const prefixes = process.env.PG_PAIRED_PREFIX && openat ? [{ syscall: openat.id, prefix: process.env.PG_PAIRED_PREFIX }] : [];
  const comms = process.env.PG_PAIRED_COMM ? [process.env.PG_PAIRED_COMM] : [];
  const probes: NativeProbe[] = [];
  const windows: number[][] = paths.map(() => []);
  try {
    for (const path of paths) {
      const { Probe } = req(path) as { Probe: NativeCtor };
      const p = new Probe({
        ringBytes: 64 << 20,
        batchBytes: 1 << 20,
        flushMs: 5,
        dropWhenBehind: false,
        syscallTable: buildSyscallTable(['openat']),
        schedMask: 0,
        wakeupBytes: 64 * 1024,
        filters: { self: process.pid, pids: [], comms, prefixes },
      });
      probes.push(p);
      p.start(() => {});
    }
    const ids = probes.map((p) => p.programIds().programs[0]);
    const flood = spawn('taskset', ['-c', '1', SYSC, 'flood-secs', String(SECONDS), FLOOD_PATH], { stdio: 'ignore' });
    let done = false;
    flood.on('close', () => (done = true));
    await new Promise((r) => setTimeout(r, 200));
    let prev = ids.map(progStats);
    while (!done) {
      await new Promise((r) => setTimeout(r, 250));
      const cur = ids.map(progStats);
      // Only windows where both ran enough to mean something.
      if (cur.every((c, i) => c.runCnt - prev[i].runCnt > 20_000)) cur.forEach((c, i) => windows[i].push((c.runTimeNs - prev[i].runTimeNs) / (c.runCnt - prev[i].runCnt)));
      prev = cur;
    }
    await new Promise((r) => setTimeout(r, 100));
    probes.forEach((p, i) => {
      const s = p.stats();
      if ((s.kernel?.dropsBuffer ?? 0) + s.user.drops > 0) console.log(`warning: drops in ${paths[i]}`);
    });
  } finally {
    for (const p of probes) p.close();
  }
  return windows;
}

async function main(): Promise<void> {
  const [a, b, roundsArg] = process.argv.slice(2);
  if (!a || !b) throw new Error('usage: paired.ts A.node B.node [rounds]');
  const A = resolve(a);
  const B = resolve(b);
  const rounds = Number(roundsArg ?? 3);
  requireBuilt();
  const effects: number[] = [];
  await withPinnedBpfStats(async () => {
    for (let r = 0; r < rounds; r++) {
      const ab = await once([A, B]); // B second
      const ba = await once([B, A]); // A second
      const bMinusAFirst = median(ab[1].map((x, k) => x - ab[0][k]));
      const aMinusBFirst = median(ba[1].map((x, k) => x - ba[0][k]));
      const effect = (bMinusAFirst - aMinusBFirst) / 2;
      effects.push(effect);
      console.log(
        `round ${r + 1}: A first: A ${median(ab[0]).toFixed(0)} B ${median(ab[1]).toFixed(0)} ns | ` +
          `B first: B ${median(ba[0]).toFixed(0)} A ${median(ba[1]).toFixed(0)} ns | B − A ${effect.toFixed(0)} ns`,
      );
    }
  });
  console.log(
    `B − A, order-corrected, ns per run of sys_exit: median ${median(effects).toFixed(0)} ` +
      `(${Math.min(...effects).toFixed(0)} to ${Math.max(...effects).toFixed(0)}) over ${rounds} rounds`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
