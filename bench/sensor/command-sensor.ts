// `peregrine sensor` as a user runs it (apps/cli/bin/peregrine.js with node),
// for parts (c) and (d): started as a child (optionally pinned to one CPU),
// ready when /healthz answers 200; its counters read from /metrics, its CPU
// time and RSS from /proc; stopped with SIGTERM (it flushes its outputs).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT, refusingPort, rssBytes, schedSeconds, sleep } from './common.ts';

const PEREGRINE_BIN = join(REPO_ROOT, 'apps', 'cli', 'bin', 'peregrine.js');
/** USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux. */
const CLOCK_TICKS = 100;

export interface SensorMetrics {
  /** peregrine_sensor_events_evaluated_total */
  readonly evaluated: number;
  /** peregrine_sensor_events_total, all types (records the probe delivered). */
  readonly records: number;
  readonly dropsKernel: number;
  readonly dropsUser: number;
  readonly malformed: number;
  readonly alertsByRule: Record<string, number>;
  readonly tables: Record<string, number>;
}

export class CommandSensor {
  private constructor(
    readonly proc: ChildProcess,
    readonly metricsUrl: string,
    private readonly stderrTail: () => string,
  ) {}

  /** Starts `peregrine sensor ARGS --metrics-port P` (on `cpu` if given) and waits until /healthz is 200. */
  static async start(args: readonly string[], opts: { cpu?: number; onLine?: (line: string, atMs: number) => void } = {}): Promise<CommandSensor> {
    const port = await refusingPort();
    const argv = [process.execPath, PEREGRINE_BIN, 'sensor', ...args, '--metrics-port', String(port), '--log-level', 'warn'];
    // taskset execs node in place: the child's pid is the sensor's, every thread on that CPU.
    const proc = opts.cpu === undefined ? spawn(argv[0], argv.slice(1), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] }) : spawn('taskset', ['-c', String(opts.cpu), ...argv], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    proc.stderr?.on('data', (d: Buffer) => (tail = (tail + d.toString()).slice(-4000)));
    createInterface({ input: proc.stdout! }).on('line', (line) => opts.onLine?.(line, performance.timeOrigin + performance.now()));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`peregrine sensor exited ${proc.exitCode} during start-up:\n${tail}`);
      try {
        if ((await fetch(`${url}/healthz`)).status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`peregrine sensor not healthy after 120 s:\n${tail}`);
      }
      await sleep(100);
    }
    return new CommandSensor(proc, url, () => tail);
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  /** User + system CPU seconds of the sensor process so far. */
  cpuSeconds(): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
  }

  /** Seconds its threads waited on a run queue so far (a busy machine's share of its latency). */
  runQueueWaitSeconds(): number {
    return schedSeconds(this.pid).wait;
  }

  rss(): number {
    return rssBytes(this.pid);
  }

  async metrics(): Promise<SensorMetrics> {
    const text = await (await fetch(`${this.metricsUrl}/metrics`)).text();
    let evaluated = 0;
    let records = 0;
    let dropsKernel = 0;
    let dropsUser = 0;
    let malformed = 0;
    const alertsByRule: Record<string, number> = {};
    const tables: Record<string, number> = {};
    for (const line of text.split('\n')) {
      const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) continue;
      const [, name, labels = '', value] = m;
      const v = Number(value);
      const label = (k: string) => new RegExp(`${k}="((?:[^"\\\\]|\\\\.)*)"`).exec(labels)?.[1] ?? '';
      if (name === 'peregrine_sensor_events_evaluated_total') evaluated += v;
      else if (name === 'peregrine_sensor_events_total') records += v;
      else if (name === 'peregrine_sensor_drops_total') {
        if (label('where') === 'kernel') dropsKernel += v;
        else dropsUser += v;
      } else if (name === 'peregrine_sensor_malformed_records_total') malformed += v;
      else if (name === 'peregrine_sensor_alerts_total') alertsByRule[label('rule')] = (alertsByRule[label('rule')] ?? 0) + v;
      else if (name === 'peregrine_sensor_state_entries') tables[label('table')] = v;
    }
    return { evaluated, records, dropsKernel, dropsUser, malformed, alertsByRule, tables };
  }

  /** SIGTERM (the sensor flushes its outputs and exits 0); SIGKILL after 20 s. */
  async stop(): Promise<number | null> {
    if (this.proc.exitCode !== null) return this.proc.exitCode;
    const exited = new Promise<number | null>((r) => this.proc.once('exit', (code) => r(code)));
    this.proc.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(20_000).then(() => 'timeout' as const)]);
    if (code === 'timeout') {
      this.proc.kill('SIGKILL');
      throw new Error(`peregrine sensor did not stop within 20 s of SIGTERM:\n${this.stderrTail()}`);
    }
    return code;
  }
}
