// Shared by the sensor bench's parts: the mix flooder (built from mix.c into
// .cache/), the stable rules inside the repository, a refusing loopback port,
// statistics and number formatting.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(HERE, '..', '..');
export const CACHE_DIR = join(REPO_ROOT, '.cache', 'bench-sensor');
/** The upstream stable rules as vendored in the repository (a user's clone has them; ../shared may not exist). */
export const STABLE_RULES = join(REPO_ROOT, 'packages', 'rules', 'test', 'fixtures', 'falco-rules', 'falco_rules.yaml');
/** The flooder's binary: its comm ("pg-bench-mix") names its events and alerts. */
export const MIX = join(CACHE_DIR, 'pg-bench-mix');
export const MIX_COMM = 'pg-bench-mix';

/** Compiles mix.c when the binary is missing or older than its source. */
export function buildMix(): void {
  const src = join(HERE, 'mix.c');
  if (existsSync(MIX) && statSync(MIX).mtimeMs >= statSync(src).mtimeMs) return;
  mkdirSync(CACHE_DIR, { recursive: true });
  execFileSync('cc', ['-O2', '-Wall', '-o', MIX, src], { stdio: 'inherit' });
}

export interface MixCounts {
  readonly seconds: number;
  readonly cycles: number;
  readonly openat: number;
  readonly close: number;
  readonly socket: number;
  readonly connect: number;
  readonly refused: number;
  readonly execve: number;
  readonly spawned: number;
  readonly shadow: number;
}

/** Syscalls of the mix the probe sees (the /bin/true children's own start-up is extra). */
export function mixSyscalls(c: MixCounts): number {
  return c.openat + c.close + c.socket + c.connect + c.execve + c.shadow * 2;
}

export interface MixRun {
  readonly pid: number;
  readonly done: Promise<MixCounts>;
}

/** Starts the flooder pinned to `cpu` for `seconds`; `done` gives its counts. */
export function startMix(seconds: number, port: number, extra: readonly string[] = [], cpu = 1): MixRun {
  const child = spawn('taskset', ['-c', String(cpu), MIX, String(seconds), String(port), ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<MixCounts>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.includes('"mix"'));
      if (!line) return reject(new Error(`mix flooder exited ${code} without a result: ${out}`));
      resolve(JSON.parse(line) as MixCounts);
    });
  });
  // taskset execs the flooder in place: the child's pid is the flooder's.
  return { pid: child.pid ?? -1, done };
}

/** A loopback port nothing listens on (bound, then released): connects to it are refused at once. */
export async function refusingPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  await new Promise<void>((r) => server.close(() => r()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
}

/** The q-quantile (0..1) by nearest rank. */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return String(n);
  const [int, frac] = n.toFixed(digits).split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
  return frac === undefined ? grouped : `${grouped}.${frac}`;
}

/** "median (min–max)" of a list. */
export function spread(xs: readonly number[], digits = 0): string {
  return `${fmt(median(xs), digits)} (${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)})`;
}

/** VmRSS of a process in bytes (0 once it is gone). */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * CPU time and run-queue wait of every thread of a process so far, in
 * seconds (/proc/PID/task/TID/schedstat: ns on CPU, ns runnable but waiting
 * for a CPU). The wait is what a busy machine takes from a measured process.
 */
export function schedSeconds(pid: number): { cpu: number; wait: number } {
  let cpu = 0;
  let wait = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const [run, waited] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number);
        cpu += run / 1e9;
        wait += waited / 1e9;
      } catch {
        // the thread ended
      }
    }
  } catch {
    // the process ended
  }
  return { cpu, wait };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
