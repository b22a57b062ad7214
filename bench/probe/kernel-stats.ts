// Shared by bench/probe/run.ts and bench/probe/paired.ts: BPF run statistics
// and the pinned, stats-enabled set-up both measurements need.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Cumulative run time and run count of one BPF program (`bpf_stats_enabled` must be 1). */
export function progStats(id: number): { runTimeNs: number; runCnt: number } {
  const info = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'id', String(id)]).toString()) as {
    run_time_ns?: number;
    run_cnt?: number;
  };
  return { runTimeNs: info.run_time_ns ?? 0, runCnt: info.run_cnt ?? 0 };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Pins this process (all threads) to CPU 0, so the flood helper owns CPU 1,
 * turns on kernel BPF run statistics for `work` and restores the previous
 * setting afterwards, whatever happens.
 */
export async function withPinnedBpfStats<T>(work: () => Promise<T>): Promise<T> {
  if (cpus().length < 2) throw new Error('the probe bench pins the flood and node to different CPUs: needs 2 cores');
  execFileSync('taskset', ['-a', '-cp', '0', String(process.pid)], { stdio: 'ignore' });
  const statsPath = '/proc/sys/kernel/bpf_stats_enabled';
  const statsBefore = readFileSync(statsPath, 'utf8').trim();
  writeFileSync(statsPath, '1');
  try {
    return await work();
  } finally {
    writeFileSync(statsPath, statsBefore);
  }
}
