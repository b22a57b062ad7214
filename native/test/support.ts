/**
 * Test support: run the sysc helper (native/test/helpers/sysc.c, built by
 * native/scripts/build.sh) and collect the probe's events for its pid.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeRecord, type RawEvent } from '../ts/decode.ts';
import { H } from '../ts/layout.ts';
import type { Probe, ProbeStats } from '../ts/probe.ts';

export const SYSC = join(dirname(fileURLToPath(import.meta.url)), '..', 'build', 'sysc');

export function requireBuilt(): void {
  if (!existsSync(SYSC)) throw new Error(`${SYSC} is missing: run bash native/scripts/build.sh`);
}

export interface HelperRun {
  readonly pid: number;
  readonly tid: number;
  readonly ppid: number;
  /** One entry per reported call: op name and return value (-errno on failure). */
  readonly results: ReadonlyArray<{ op: string; ret: number }>;
  readonly exitCode: number | null;
}

/**
 * Runs sysc with `args`; `wrapper` (e.g. a setpriv command line) execs it in place, same pid;
 * `exe` runs it through another path (a symlink gives the task another comm); `env` replaces
 * the environment (records carry it, and a large one, e.g. under `npm test`, is cut short).
 */
export function runHelper(
  args: readonly string[],
  cwd?: string,
  sink?: EventSink,
  wrapper: readonly string[] = [],
  exe: string = SYSC,
  env?: NodeJS.ProcessEnv,
): Promise<HelperRun> {
  return new Promise((resolve, reject) => {
    const argv = [...wrapper, exe, ...args];
    const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    // Registered before any batch can be delivered (batches arrive on later ticks).
    if (sink && child.pid !== undefined) sink.watch(child.pid);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = out.split('\n').filter((l) => l.trim() !== '');
      if (lines.length === 0) return reject(new Error(`sysc printed nothing (stderr: ${err})`));
      const head = JSON.parse(lines[0]) as { pid: number; tid: number; ppid: number };
      const results = lines.slice(1).map((l) => JSON.parse(l) as { op: string; ret: number });
      resolve({ ...head, results, exitCode: code });
    });
  });
}

/**
 * Accumulates decoded events of watched pids from a started probe. The probe
 * sees the whole machine (other test files may be flooding it), so records of
 * other pids are skipped by peeking at the header before decoding.
 */
export class EventSink {
  readonly byPid = new Map<number, RawEvent[]>();
  readonly #watched = new Set<number>();
  /** Records of our own pid that reached us (must stay 0: we are excluded in the kernel). */
  selfRecords = 0;
  #waiters: Array<() => void> = [];

  watch(pid: number): void {
    this.#watched.add(pid);
  }

  readonly onBatch = (batch: Buffer): void => {
    const dv = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
    for (let off = 0; off < batch.length; off += dv.getUint32(off, true)) {
      const pid = dv.getUint32(off + H.pid, true);
      if (pid === process.pid) this.selfRecords++;
      if (!this.#watched.has(pid)) continue;
      const ev = decodeRecord(batch, dv, off);
      let list = this.byPid.get(ev.pid);
      if (!list) this.byPid.set(ev.pid, (list = []));
      list.push(ev);
    }
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  };

  attach(probe: Probe): this {
    probe.start(this.onBatch);
    return this;
  }

  /** Waits until `pred` holds for the events of `pid`, or fails after `ms`. */
  async waitFor(pid: number, pred: (evs: RawEvent[]) => boolean, ms = 5000): Promise<RawEvent[]> {
    const deadline = Date.now() + ms;
    for (;;) {
      const evs = this.byPid.get(pid) ?? [];
      if (pred(evs)) return evs;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out waiting for events of pid ${pid}; have: ${evs.map((e) => `${e.type}=${e.res}`).join(' ')}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits for the helper's process exit record and returns everything it did. */
  async untilExit(pid: number): Promise<RawEvent[]> {
    return this.waitFor(pid, (evs) => evs.some((e) => e.kind === 'exit' && e.tid === pid));
  }
}

/**
 * Pairs each reported helper call with its syscall record, in order, skipping
 * the loader's and libc's own calls (everything before the helper's marker,
 * close(-4242)). `diropen` results are openat calls.
 */
export function matchCalls(run: HelperRun, events: readonly RawEvent[]): Map<number, RawEvent> {
  const byIndex = new Map<number, RawEvent>();
  const syscalls = events.filter((e) => e.kind === 'syscall');
  // Start after the helper's marker call, close(-4242): earlier records are the loader's and libc's.
  let pos = syscalls.findIndex((e) => e.type === 'close' && (e.args[0] | 0) === -4242) + 1;
  if (pos === 0) throw new Error('the helper marker close(-4242) was not captured');
  run.results.forEach((r, i) => {
    if (r.op === 'port' || r.op === 'flood' || r.op === 'fd') return;
    const type = r.op === 'diropen' ? 'openat' : r.op;
    for (let j = pos; j < syscalls.length; j++) {
      const e = syscalls[j];
      if (e.type === type && e.res === r.ret) {
        byIndex.set(i, e);
        pos = j + 1;
        return;
      }
    }
  });
  return byIndex;
}

/**
 * Every record the probe saw was written, dropped or filtered. The counters are
 * read while other CPUs keep running the probe, and a program increments `seen`
 * before its outcome, so allow the records in flight: at most a couple per CPU.
 */
export function assertBalanced(k: ProbeStats['kernel']): void {
  const outcomes = k.events + k.dropsBuffer + k.filteredPid + k.filteredComm + k.filteredPath;
  const inFlight = 2 * k.perCpu.length;
  if (Math.abs(k.seen - outcomes) > inFlight) {
    throw new Error(`kernel counters do not balance: seen ${k.seen}, written+dropped+filtered ${outcomes}`);
  }
}
