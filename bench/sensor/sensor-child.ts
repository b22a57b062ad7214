/**
 * The process under measurement, started by bench/sensor/run.ts with an IPC
 * channel and pinned (all threads) to one CPU:
 *
 * - `probe` (the baseline): the probe with the stable rules' syscall set,
 *   JS counting records without decoding or evaluating them; with
 *   `--watch-comm` it also decodes the records of that command (only) to time
 *   the probe's own syscall → JS delay.
 * - `sensor`: the sensor pipeline from @peregrine/sensor's public API, end to
 *   end — live state seeded from /proc, the container registry (Docker/CRI
 *   sockets, if any), the stable rules, alerts to stdout (Falco JSON lines) and
 *   optionally to the hub (batches, spool).
 *
 * Messages: {type:'mark'} starts a measurement window; {type:'report'} waits
 * until every record the kernel wrote has been handled, then answers with the
 * counts since the mark; {type:'pause'}/{type:'resume'} empty and restore
 * the probe's syscall set between phases; {type:'stop'} closes everything
 * and exits (writing the --profile-out CPU profile, if asked for).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { destination, pino } from 'pino';
import { bootEpochNs, decodeRecord, Probe, type ProbeStats } from '@peregrine/native';
import {
  ContainerRegistry,
  HubOutput,
  ProbeSource,
  StdoutOutput,
  compileSyscallRules,
  createEvaluator,
  liveContext,
  syscallsForRules,
  type AlertOutput,
} from '@peregrine/sensor';
import { H } from '../../native/ts/layout.ts';
import { schedSeconds } from './common.ts';

const { values: opt } = parseArgs({
  options: {
    mode: { type: 'string' },
    rules: { type: 'string' },
    cpu: { type: 'string', default: '0' },
    'ring-mb': { type: 'string', default: '8' },
    'watch-comm': { type: 'string' },
    stdout: { type: 'string', default: 'json' },
    hub: { type: 'string' },
    'hub-token': { type: 'string' },
    spool: { type: 'string' },
    'profile-out': { type: 'string' },
  },
});

export interface ChildReport {
  readonly type: 'report';
  /** Records the probe handed to JS since the mark (all kinds). */
  readonly records: number;
  /** Syscall events evaluated by the rules (sensor mode) since the mark. */
  readonly events: number;
  readonly alerts: number;
  readonly alertsByRule: Record<string, number>;
  readonly kernelEvents: number;
  readonly dropsKernel: number;
  readonly dropsUser: number;
  readonly malformed: number;
  readonly cpuUserMs: number;
  readonly cpuSystemMs: number;
  readonly wallMs: number;
  /** Seconds the process's threads were runnable but waited for a CPU (other work on the machine). */
  readonly runQueueWaitS: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly processes: number;
  readonly fds: number;
  /** Probe mode with --watch-comm: syscall → JS delays (ms) of that command's /etc/shadow opens. */
  readonly probeLatenciesMs: number[];
  readonly bySyscall: Record<string, number>;
}

function send(msg: object): void {
  process.send?.(msg);
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('sensor-child.ts runs under bench/sensor/run.ts (it needs an IPC channel)');
  // Every thread of this process (the addon's reader thread included) on one CPU: its CPU time is "the sensor's core".
  execFileSync('taskset', ['-a', '-cp', String(opt.cpu), String(process.pid)], { stdio: 'ignore' });
  const rulesFile = opt.rules ?? '';
  const rules = compileSyscallRules([rulesFile]);
  const { syscalls } = syscallsForRules(rules);
  const ringBytes = Number(opt['ring-mb']) << 20;

  let records = 0;
  let stats: () => ProbeStats;
  let close: () => Promise<void>;
  let setSyscalls: (list: readonly string[]) => void;
  let handled: () => number;
  let evaluated = (): { events: number; alerts: number } => ({ events: 0, alerts: 0 });
  let malformed = (): number => 0;
  let tables = (): { processes: number; fds: number } => ({ processes: 0, fds: 0 });
  const alertsByRule: Record<string, number> = {};
  const latencies: number[] = [];

  if (opt.mode === 'probe') {
    const probe = Probe.open({ syscalls, ringBytes });
    const watch = opt['watch-comm'];
    const epochMs = Number(bootEpochNs()) / 1e6;
    probe.start(
      watch === undefined
        ? (_batch, count) => {
            records += count;
          }
        : (batch, count) => {
            records += count;
            const now = performance.timeOrigin + performance.now();
            const dv = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
            for (let off = 0; off < batch.length; off += dv.getUint32(off + H.len, true)) {
              // Only the watched command's records are decoded: the rest is counted as above.
              if (batch.toString('latin1', off + H.comm, off + H.comm + watch.length) !== watch) continue;
              const ev = decodeRecord(batch, dv, off);
              if (ev.type === 'openat' && ev.path0 === '/etc/shadow') latencies.push(now - (epochMs + ev.tsNs / 1e6));
            }
          },
    );
    stats = () => probe.stats();
    setSyscalls = (list) => probe.setSyscalls(list);
    handled = () => records;
    close = async () => probe.close();
  } else if (opt.mode === 'sensor') {
    // Logs to stderr: stdout carries the alert lines.
    const registry = new ContainerRegistry({ logger: pino({ name: 'containers', level: 'warn' }, destination(2)) });
    await registry.start();
    const source = ProbeSource.open({ syscalls, ringBytes, context: liveContext({ containers: registry }) });
    const outputs: AlertOutput[] = [];
    if (opt.stdout !== 'none') outputs.push(new StdoutOutput({ format: opt.stdout === 'text' ? 'text' : 'json' }));
    if (opt.hub) {
      outputs.push(await HubOutput.open({ url: opt.hub, token: opt['hub-token'], spoolDir: opt.spool ?? '' }));
    }
    const counting = {
      emit(alert: { rule: string }): void {
        alertsByRule[alert.rule] = (alertsByRule[alert.rule] ?? 0) + 1;
      },
    };
    const evaluator = createEvaluator(rules, [...outputs, counting]);
    source.start(evaluator.onEvent);
    stats = () => source.stats().probe;
    setSyscalls = (list) => source.setSyscalls(list);
    handled = () => source.stats().walk.records;
    evaluated = () => evaluator.stats;
    malformed = () => source.walker.stats.malformed;
    tables = () => {
      const t = source.context.processes.stats();
      return { processes: t.processes, fds: t.fds };
    };
    close = async () => {
      source.close();
      for (const o of outputs) await o.close();
      await registry.close();
    };
  } else {
    throw new Error(`--mode must be probe or sensor, got ${String(opt.mode)}`);
  }

  let mark = { sched: schedSeconds(process.pid), cpu: process.cpuUsage(), wall: performance.now(), handled: 0, events: 0, alerts: 0, stats: stats(), malformed: 0 };
  const takeMark = () => {
    const e = evaluated();
    mark = { sched: schedSeconds(process.pid), cpu: process.cpuUsage(), wall: performance.now(), handled: handled(), events: e.events, alerts: e.alerts, stats: stats(), malformed: malformed() };
    latencies.length = 0;
    for (const k of Object.keys(alertsByRule)) delete alertsByRule[k];
  };

  process.on('message', (msg: { type: string }) => {
    void (async () => {
      if (msg.type === 'mark') {
        takeMark();
        send({ type: 'marked' });
      } else if (msg.type === 'pause' || msg.type === 'resume') {
        // Between phases the probe captures no syscalls (scheduler records still flow, so state stays whole enough).
        setSyscalls(msg.type === 'pause' ? [] : syscalls);
        send({ type: msg.type === 'pause' ? 'paused' : 'resumed' });
      } else if (msg.type === 'report') {
        // Wait until JS has every record the kernel wrote (and dropped nothing more), at most 20 s.
        const deadline = Date.now() + 20_000;
        for (;;) {
          const s = stats();
          if ((s.user.records + s.user.drops >= s.kernel.events && handled() >= s.user.records) || Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 10));
        }
        const cpu = process.cpuUsage(mark.cpu);
        const s = stats();
        const e = evaluated();
        const bySyscall: Record<string, number> = {};
        for (const [k, v] of Object.entries(s.kernel.bySyscall)) bySyscall[k] = v - (mark.stats.kernel.bySyscall[k] ?? 0);
        const report: ChildReport = {
          type: 'report',
          records: handled() - mark.handled,
          events: e.events - mark.events,
          alerts: e.alerts - mark.alerts,
          alertsByRule: { ...alertsByRule },
          kernelEvents: s.kernel.events - mark.stats.kernel.events,
          dropsKernel: s.kernel.dropsBuffer - mark.stats.kernel.dropsBuffer,
          dropsUser: s.user.drops - mark.stats.user.drops,
          malformed: malformed() - mark.malformed,
          cpuUserMs: cpu.user / 1000,
          cpuSystemMs: cpu.system / 1000,
          wallMs: performance.now() - mark.wall,
          runQueueWaitS: schedSeconds(process.pid).wait - mark.sched.wait,
          rssBytes: process.memoryUsage.rss(),
          heapUsedBytes: process.memoryUsage().heapUsed,
          ...tables(),
          probeLatenciesMs: [...latencies],
          bySyscall,
        };
        send(report);
      } else if (msg.type === 'stop') {
        await close();
        send({ type: 'stopped' });
        process.disconnect?.();
        // Let stdout drain; --cpu-prof writes its profile on a normal exit.
        setTimeout(() => process.exit(0), 100);
      }
    })().catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
  });
  // Profiling starts only now: with `node --cpu-prof` the profiler's SIGPROF ticks interrupt the BPF
  // verifier, which gives up with EAGAIN, so the probe cannot even load.
  const profileOut = opt['profile-out'];
  if (profileOut !== undefined) {
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    const stopProfile = close;
    close = async () => {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(profileOut, JSON.stringify(profile));
      session.disconnect();
      await stopProfile();
    };
  }
  send({ type: 'ready', pid: process.pid, syscalls });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
