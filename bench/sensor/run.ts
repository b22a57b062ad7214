/**
 * Sensor benchmark (issue 9), each part against a baseline measured in the
 * same run: the probe alone (the stable rules' syscall set, JS counting
 * records without decoding or evaluating them), as in bench/probe.
 *
 * (a) live: the mix flooder (mix.c: openat, execve, socket/connect to a
 *     refusing loopback port, close, a real fork+exec every 100 cycles) on
 *     CPU 1; the sensor (sensor-child.ts: live state, container registry,
 *     stable rules, stdout alerts) on CPU 0. Events evaluated, drops, the
 *     sensor's CPU time → events per sensor CPU-second. Interleaved rounds:
 *     flood alone, probe alone, sensor (order alternating).
 * (b) a capture of the mix (recordCapture) replayed through the pipeline on
 *     one core (replay-child.ts), from plain file reading up to replayCapture.
 * (c) RSS of `peregrine sensor` with the stable rules (and of the probe
 *     alone) while build-loop.sh runs under them for PG_BENCH_BUILD_MINUTES
 *     (default 10; quick mode 9 s), and where a fresh sensor's RSS goes (rss-floor.ts).
 * (d) syscall → alert latency: /etc/shadow opened every 20 ms by the flooder
 *     (with the flood, and idle; quick mode: with the flood only); the alert
 *     line read from `peregrine sensor`'s stdout (pinned to CPU 0), and
 *     delivered by a real hub child (`peregrine hub`, webhook to a local
 *     receiver). Baseline: syscall → record in JS for the probe alone.
 *
 *   npm run bench -- sensor [--quick] [--cpu-prof] [--parts=a,b,c,d]     (root, built native/)
 *   env: PG_BENCH_QUICK=1, PG_BENCH_SECONDS, PG_BENCH_ROUNDS, PG_BENCH_BUILD_MINUTES,
 *        PG_BENCH_LATENCY_SECONDS, PG_BENCH_RING_MB, PG_BENCH_PARTS, PG_BENCH_CPU_PROF=1
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { recordCapture } from '@peregrine/sensor';
import {
  CACHE_DIR,
  HERE,
  MIX_COMM,
  REPO_ROOT,
  STABLE_RULES,
  buildMix,
  fmt,
  median,
  mixSyscalls,
  quantile,
  refusingPort,
  rssBytes,
  sleep,
  spread,
  startMix,
  type MixCounts,
} from './common.ts';
import { CommandSensor } from './command-sensor.ts';
import { hotFunctions } from './profile.ts';
import type { ReplayResult } from './replay-child.ts';
import type { ChildReport } from './sensor-child.ts';

const argv = process.argv.slice(2);
const env = process.env;
const QUICK = argv.includes('--quick') || env.PG_BENCH_QUICK === '1';
const PROFILE = argv.includes('--cpu-prof') || env.PG_BENCH_CPU_PROF === '1';
const PARTS = new Set((argv.find((a) => a.startsWith('--parts='))?.slice('--parts='.length) ?? env.PG_BENCH_PARTS ?? 'a,b,c,d').split(','));
const SECONDS = Number(env.PG_BENCH_SECONDS ?? (QUICK ? 1.5 : 5));
const ROUNDS = Number(env.PG_BENCH_ROUNDS ?? (QUICK ? 1 : 3));
const BUILD_SECONDS = Number(env.PG_BENCH_BUILD_MINUTES ?? (QUICK ? 0.15 : 10)) * 60;
const LATENCY_SECONDS = Number(env.PG_BENCH_LATENCY_SECONDS ?? (QUICK ? 2 : 30));
const CAPTURE_SECONDS = QUICK ? 0.5 : 3;
const RING_MB = Number(env.PG_BENCH_RING_MB ?? 8);
const SHADOW_EVERY_MS = 20;
const HUB_TOKEN = 'bench-sensor-token';
const LATENCY_RULE = 'Read sensitive file untrusted';

const wallNowMs = (): number => performance.timeOrigin + performance.now();
const log = (line = ''): void => console.log(line);

/** A sensor-child.ts process and its IPC replies. */
class SensorChild {
  private readonly waiting = new Map<string, (msg: object) => void>();
  private exited = false;

  private constructor(readonly proc: ChildProcess) {
    proc.on('message', (msg: { type: string }) => {
      const w = this.waiting.get(msg.type);
      if (w) {
        this.waiting.delete(msg.type);
        w(msg);
      }
    });
    proc.on('exit', () => {
      this.exited = true;
    });
  }

  /** Starts the child; a start-up failure (e.g. a transient EAGAIN loading BPF while others load theirs) is tried twice more. */
  static async start(mode: 'probe' | 'sensor', args: readonly string[], opts: { profileDir?: string; onLine?: (line: string, atMs: number) => void } = {}): Promise<SensorChild> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await SensorChild.startOnce(mode, args, opts);
      } catch (err) {
        if (attempt >= 3) throw err;
        console.error(`${(err as Error).message}; trying again`);
        await sleep(2000);
      }
    }
  }

  private static async startOnce(mode: 'probe' | 'sensor', args: readonly string[], opts: { profileDir?: string; onLine?: (line: string, atMs: number) => void }): Promise<SensorChild> {
    const execArgv = ['--import', 'tsx'];
    const profile = opts.profileDir ? ['--profile-out', join(opts.profileDir, `${mode}-${Date.now()}.cpuprofile`)] : [];
    const proc = fork(join(HERE, 'sensor-child.ts'), ['--mode', mode, '--rules', STABLE_RULES, '--ring-mb', String(RING_MB), ...profile, ...args], {
      cwd: REPO_ROOT,
      execArgv,
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    const lines = createInterface({ input: proc.stdout! });
    lines.on('line', (line) => opts.onLine?.(line, wallNowMs()));
    const child = new SensorChild(proc);
    const ready = child.reply('ready', 120_000);
    const died = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`sensor child (${mode}) exited ${code} during start-up`))));
    await Promise.race([ready, died]);
    return child;
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  private reply<T extends object>(type: string, timeoutMs = 60_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sensor child: no "${type}" within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.set(type, (m) => {
        clearTimeout(timer);
        resolve(m as T);
      });
    });
  }

  async ask<T extends object>(type: string, replyType: string): Promise<T> {
    const r = this.reply<T>(replyType);
    this.proc.send({ type });
    return r;
  }

  pause = (): Promise<object> => this.ask('pause', 'paused');
  resume = (): Promise<object> => this.ask('resume', 'resumed');
  mark = (): Promise<object> => this.ask('mark', 'marked');
  report = (): Promise<ChildReport> => this.ask<ChildReport>('report', 'report');

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.proc.once('exit', () => r()));
    try {
      await this.ask('stop', 'stopped');
    } catch {
      this.proc.kill('SIGKILL');
    }
    await Promise.race([gone, sleep(10_000).then(() => this.proc.kill('SIGKILL'))]);
  }
}

interface LivePhase {
  readonly mix: MixCounts;
  readonly report?: ChildReport;
}

/** One measured flood with `child` capturing (or none): resume, mark, flood, report, pause. */
async function livePhase(child: SensorChild | undefined, port: number, seconds: number, extra: readonly string[] = []): Promise<LivePhase> {
  if (!child) return { mix: await startMix(seconds, port, extra).done };
  await child.resume();
  await child.mark();
  const mix = await startMix(seconds, port, extra).done;
  const report = await child.report();
  await child.pause();
  return { mix, report };
}

const cpuSec = (r: ChildReport): number => (r.cpuUserMs + r.cpuSystemMs) / 1000;
const drops = (r: ChildReport): number => r.dropsKernel + r.dropsUser;
const mb = (bytes: number): number => bytes / (1 << 20);

/** Keeps the sensor's stdout alert lines that are the flooder's /etc/shadow opens, with their delay. */
function shadowAlertDelay(line: string, atMs: number): number | undefined {
  if (!line.startsWith('{') || !line.includes(LATENCY_RULE)) return undefined;
  const a = JSON.parse(line) as { rule: string; time: string; output_fields: Record<string, unknown> };
  return a.rule === LATENCY_RULE && a.output_fields['proc.name'] === MIX_COMM ? atMs - eventWallMs(a.time) : undefined;
}

/** An alert's `time` (RFC 3339 with nanoseconds, the event's time) as epoch ms with its fraction. */
function eventWallMs(time: string): number {
  const m = /^(.{19})(?:\.(\d+))?Z$/.exec(time);
  if (!m) throw new Error(`unexpected alert time ${time}`);
  return Date.parse(`${m[1]}Z`) + (m[2] ? Number(`0.${m[2]}`) * 1000 : 0);
}

// ---------------------------------------------------------------- (a) live

/**
 * Floods with the sensor on until it has evaluated `events` events (JIT-compiled
 * hot path, tables holding the flooder's processes), at most `maxSeconds`.
 */
async function warmUp(sensor: SensorChild, port: number, events: number, maxSeconds: number): Promise<number> {
  let done = 0;
  const t0 = Date.now();
  while (done < events && Date.now() - t0 < maxSeconds * 1000) done += (await livePhase(sensor, port, 1)).report?.events ?? 0;
  return done;
}

async function partA(port: number, profileDir: string | undefined): Promise<Record<string, unknown>> {
  let alertLines = 0;
  const [probe, sensor] = await Promise.all([SensorChild.start('probe', []), SensorChild.start('sensor', ['--stdout', 'json'], { onLine: () => alertLines++ })]);
  try {
    await probe.pause();
    await sensor.pause();
    const warm = await warmUp(sensor, port, QUICK ? 50_000 : 500_000, QUICK ? 3 : 20);
    const rounds: Array<{ alone: LivePhase; probe: LivePhase; sensor: LivePhase }> = [];
    for (let i = 0; i < ROUNDS; i++) {
      const alone = await livePhase(undefined, port, SECONDS);
      // Alternate who goes first: the machine's load drifts within a round.
      let p: LivePhase;
      let s: LivePhase;
      if (i % 2 === 0) {
        p = await livePhase(probe, port, SECONDS);
        s = await livePhase(sensor, port, SECONDS);
      } else {
        s = await livePhase(sensor, port, SECONDS);
        p = await livePhase(probe, port, SECONDS);
      }
      rounds.push({ alone, probe: p, sensor: s });
    }
    const perSec = (ph: LivePhase) => mixSyscalls(ph.mix) / ph.mix.seconds;
    const pr = rounds.map((r) => r.probe.report!);
    const sr = rounds.map((r) => r.sensor.report!);
    log(`\n(a) live: mix flood on CPU 1 (${SECONDS} s per phase, ${ROUNDS} interleaved rounds, median (min–max)), the measured process on CPU 0, ring ${RING_MB} MiB`);
    log('| phase | flooder syscalls/s | records into JS | syscall events evaluated | drops (kernel + user) | CPU s (user+sys) | per CPU-second |');
    log('|---|---|---|---|---|---|---|');
    log(`| flood alone (no probe) | ${spread(rounds.map((r) => perSec(r.alone)))} | – | – | – | – | – |`);
    log(
      `| probe alone, JS counts records (baseline) | ${spread(rounds.map((r) => perSec(r.probe)))} | ${spread(pr.map((r) => r.records))} | – | ${spread(pr.map(drops))} | ` +
        `${spread(pr.map(cpuSec), 2)} | ${spread(pr.map((r) => r.records / cpuSec(r)))} records |`,
    );
    log(
      `| **sensor**: state + stable rules + stdout alerts | ${spread(rounds.map((r) => perSec(r.sensor)))} | ${spread(sr.map((r) => r.records))} | ${spread(sr.map((r) => r.events))} | ` +
        `${spread(sr.map(drops))} | ${spread(sr.map(cpuSec), 2)} | **${spread(sr.map((r) => r.events / cpuSec(r)))} events** |`,
    );
    const ratio = median(rounds.map((r) => r.sensor.report!.events / cpuSec(r.sensor.report!) / (r.probe.report!.records / cpuSec(r.probe.report!))));
    const evPerSec = median(sr.map((r) => r.events / (r.wallMs / 1000)));
    log(`sensor events per CPU-second / probe-alone records per CPU-second (same round): ${ratio.toFixed(3)}; sensor evaluated ${fmt(evPerSec)} events/s wall`);
    log(`sensor CPU share of its core during the flood: ${spread(sr.map((r) => (100 * cpuSec(r)) / (r.wallMs / 1000)))} %, its threads runnable but waiting for CPU 0 (other work): ${spread(sr.map((r) => (100 * r.runQueueWaitS) / (r.wallMs / 1000)))} % (thread-seconds per second); alerts raised ${spread(sr.map((r) => r.alerts))} (${alertLines} lines on stdout in all); malformed ${spread(sr.map((r) => r.malformed))}`);
    log(`records per syscall in one sensor phase: ${JSON.stringify(sr[0].bySyscall)}`);
    log(`alerts by rule (last sensor phase): ${JSON.stringify(sr[sr.length - 1].alertsByRule)}`);
    log(`warm-up before the rounds: ${fmt(warm)} events evaluated`);
    log(`sensor tables after the rounds: ${sr[sr.length - 1].processes} processes, ${sr[sr.length - 1].fds} fds; RSS ${fmt(mb(sr[sr.length - 1].rssBytes), 1)} MiB`);
    const target = median(sr.map((r) => r.events / cpuSec(r)));
    const totalDrops = sr.reduce((n, r) => n + drops(r), 0);
    log(`target ≥ 500 000 events per sensor CPU-second, zero drops -> ${fmt(target)} (${target >= 500_000 ? 'met' : 'NOT met'}), drops ${totalDrops} (${totalDrops === 0 ? 'met' : 'NOT met'})`);
    if (profileDir) {
      // The profile comes from a separate sensor process, so the profiler's own cost is not in the figures above.
      const profiled = await SensorChild.start('sensor', ['--stdout', 'json'], { profileDir, onLine: () => {} });
      await profiled.pause();
      await warmUp(profiled, port, QUICK ? 50_000 : 500_000, QUICK ? 3 : 20);
      await livePhase(profiled, port, SECONDS);
      await profiled.stop();
    }
    return { rounds, warm };
  } finally {
    await probe.stop();
    await sensor.stop();
  }
}

// ---------------------------------------------------------------- (b) replay

function runReplayChild(file: string, rounds: number, variants: string, profileDir?: string): Promise<ReplayResult[]> {
  return new Promise((resolve, reject) => {
    const profile = profileDir ? ['--profile-out', join(profileDir, `replay-${Date.now()}.cpuprofile`)] : [];
    const child = spawn(process.execPath, ['--import', 'tsx', join(HERE, 'replay-child.ts'), '--file', file, '--rules', STABLE_RULES, '--rounds', String(rounds), '--variants', variants, ...profile], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`replay child exited ${code}`));
      resolve(out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as ReplayResult));
    });
  });
}

async function partB(port: number, work: string, profileDir: string | undefined): Promise<Record<string, unknown>> {
  const file = join(work, 'mix.pgcap');
  const stop = new AbortController();
  let mix: Promise<MixCounts> | undefined;
  const summary = await recordCapture({
    out: file,
    rules: [STABLE_RULES],
    ringBytes: 256 << 20,
    signal: stop.signal,
    onStarted: () => {
      mix = startMix(CAPTURE_SECONDS, port).done;
      void mix.then(() => stop.abort());
    },
  });
  const counts = await mix!;
  const dropped = summary.stats.kernel.dropsBuffer + summary.stats.user.drops;
  log(`\n(b) capture: ${fmt(summary.records)} records, ${fmt(summary.bytes / (1 << 20), 1)} MiB, ${summary.seconds.toFixed(1)} s (the flooder made ${fmt(mixSyscalls(counts))} syscalls), drops ${dropped}`);
  const results = await runReplayChild(file, ROUNDS, 'read,decode,state,rules,replay,compile');
  const variants = ['read', 'decode', 'state', 'rules', 'replay'] as const;
  const names: Record<string, string> = {
    read: 'read the file, count records (baseline)',
    decode: '+ decode every record',
    state: '+ state tables, a SyscallEvent per syscall record',
    rules: '+ stable rules, alerts to stdout output (**full pipeline**, sync walk)',
    replay: '`replayCapture` (the product call: async event generator, rules compile inside)',
  };
  const of = (v: string) => results.filter((r) => r.variant === v);
  const base = of('read');
  log(`replay on one core (CPU 0), ${ROUNDS} interleaved rounds, median (min–max); load average ${loadavg()[0].toFixed(1)}`);
  log('| pipeline | records/s | syscall events/s | events per CPU-second | ratio to baseline (records/s) |');
  log('|---|---|---|---|---|');
  for (const v of variants) {
    const rs = of(v);
    const ratio = median(rs.map((r, i) => r.records / r.wallMs / (base[i].records / base[i].wallMs)));
    const ev = rs.map((r) => (r.events || r.records) / (r.wallMs / 1000));
    log(`| ${names[v]} | ${spread(rs.map((r) => r.records / (r.wallMs / 1000)))} | ${v === 'read' || v === 'decode' ? '–' : spread(ev)} | ${spread(rs.map((r) => (r.events || r.records) / (r.cpuMs / 1000)))} | ${ratio.toFixed(3)} |`);
  }
  const compileMs = median(of('compile').map((r) => r.wallMs));
  log(
    `| \`replayCapture\` without its rules compile (median ${fmt(compileMs)} ms, measured alone) | – | ${spread(of('replay').map((r) => r.events / (Math.max(1, r.wallMs - compileMs) / 1000)))} | – | – |`,
  );
  const full = median(of('rules').map((r) => r.events / (r.wallMs / 1000)));
  log(`alerts in the replay: ${of('rules')[0]?.alerts ?? 0}; target ≥ 1 000 000 events/s on one core -> full pipeline ${fmt(full)}/s (${full >= 1_000_000 ? 'met' : 'NOT met'}), replayCapture ${fmt(median(of('replay').map((r) => r.events / (r.wallMs / 1000))))}/s`);
  if (profileDir) await runReplayChild(file, QUICK ? 1 : 3, 'rules', profileDir);
  rmSync(file, { force: true });
  return { capture: { records: summary.records, bytes: summary.bytes, dropped }, results };
}

// ---------------------------------------------------------------- (c) RSS under a build

/** rss-floor.ts in a fresh process: RSS step by step from bare node to an open probe. */
function rssFloor(): Promise<Array<{ step: string; rssBytes: number; heapUsedBytes: number }>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', join(HERE, 'rss-floor.ts')], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as Array<{ step: string; rssBytes: number; heapUsedBytes: number }>) : reject(new Error(`rss-floor.ts exited ${code}`))));
  });
}

async function partC(work: string): Promise<Record<string, unknown>> {
  const floor = await rssFloor();
  const bare = await new Promise<number>((resolve) => {
    const c = spawn(process.execPath, ['--expose-gc', '-e', 'global.gc(); process.stdout.write(String(process.memoryUsage.rss()))'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let o = '';
    c.stdout.on('data', (d: Buffer) => (o += d.toString()));
    c.on('close', () => resolve(Number(o)));
  });
  // `peregrine sensor` as a user runs it; alert lines are only drained here (its /metrics counts them by rule).
  const [probe, sensor] = await Promise.all([SensorChild.start('probe', []), CommandSensor.start(['--rules', STABLE_RULES, '--output', 'text'], { onLine: () => {} })]);
  const samples: Array<{ atS: number; sensor: number; probe: number }> = [];
  let build: ChildProcess | undefined;
  try {
    await probe.mark();
    const m0 = await sensor.metrics();
    const cpu0 = sensor.cpuSeconds();
    build = spawn('bash', [join(HERE, 'build-loop.sh'), join(work, 'build')], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'], detached: true });
    const t0 = Date.now();
    const every = QUICK ? 2000 : 10_000;
    while (Date.now() - t0 < BUILD_SECONDS * 1000) {
      if (build.exitCode !== null) throw new Error(`build loop stopped early (exit ${build.exitCode})`);
      samples.push({ atS: (Date.now() - t0) / 1000, sensor: sensor.rss(), probe: rssBytes(probe.pid) });
      await sleep(Math.max(0, Math.min(every, BUILD_SECONDS * 1000 - (Date.now() - t0))));
    }
    process.kill(-(build.pid ?? 0), 'SIGTERM');
    samples.push({ atS: (Date.now() - t0) / 1000, sensor: sensor.rss(), probe: rssBytes(probe.pid) });
    await sleep(500);
    const m1 = await sensor.metrics();
    const cpu = sensor.cpuSeconds() - cpu0;
    const p = await probe.report();
    const last = samples[samples.length - 1];
    let rounds: string;
    try {
      rounds = readFileSync(join(work, 'build', 'rounds'), 'utf8').trim().replace('round', 'rounds done:');
    } catch {
      rounds = 'no round finished';
    }
    const alerts: Record<string, number> = {};
    for (const [rule, n] of Object.entries(m1.alertsByRule)) if (n - (m0.alertsByRule[rule] ?? 0) > 0) alerts[rule] = n - (m0.alertsByRule[rule] ?? 0);
    const sDrops = m1.dropsKernel + m1.dropsUser - m0.dropsKernel - m0.dropsUser;
    log(`\n(c) RSS under a build: build-loop.sh (native sources: clang -target bpf, g++ addon, cc helper; tsc of @peregrine/rules) for ${fmt(BUILD_SECONDS)} s (${rounds}); RSS sampled every ${every / 1000} s`);
    log('| process | RSS at start | RSS at end | max RSS | records | syscall events evaluated | drops | CPU s |');
    log('|---|---|---|---|---|---|---|---|');
    log(`| probe alone, JS counts records (baseline) | ${fmt(mb(samples[0].probe), 1)} MiB | ${fmt(mb(last.probe), 1)} MiB | ${fmt(mb(Math.max(...samples.map((x) => x.probe))), 1)} MiB | ${fmt(p.records)} | – | ${drops(p)} | ${cpuSec(p).toFixed(1)} |`);
    log(
      `| **\`peregrine sensor --rules falco_rules.yaml\`** | ${fmt(mb(samples[0].sensor), 1)} MiB | **${fmt(mb(last.sensor), 1)} MiB** | ${fmt(mb(Math.max(...samples.map((x) => x.sensor))), 1)} MiB | ` +
        `${fmt(m1.records - m0.records)} | ${fmt(m1.evaluated - m0.evaluated)} | ${sDrops} | ${cpu.toFixed(1)} |`,
    );
    log(`sensor state tables at the end: ${JSON.stringify(m1.tables)}; alerts raised during the build: ${JSON.stringify(alerts)}`);
    log(
      `where a sensor's RSS goes (fresh process, after gc; rss-floor.ts): bare node ${fmt(mb(bare), 1)} MiB; ` +
        floor.map((f) => `${f.step}: ${fmt(mb(f.rssBytes), 1)} MiB (JS heap ${fmt(mb(f.heapUsedBytes), 1)})`).join('; '),
    );
    log(`RSS series (s: sensor/probe MiB): ${samples.map((x) => `${Math.round(x.atS)}:${mb(x.sensor).toFixed(0)}/${mb(x.probe).toFixed(0)}`).join(' ')}`);
    log(`target ≤ 150 MB after the build -> ${fmt(last.sensor / 1e6, 1)} MB (${last.sensor <= 150e6 ? 'met' : 'NOT met'}); sensor − probe alone: ${fmt(mb(last.sensor - last.probe), 1)} MiB`);
    return { samples, sensor: { m0, m1, cpu }, probe: p, alerts, floor, bare };
  } finally {
    if (build && build.exitCode === null) {
      try {
        process.kill(-(build.pid ?? 0), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await probe.stop();
    await sensor.stop();
  }
}

// ---------------------------------------------------------------- (d) latency

interface HubProcess {
  stop(): Promise<void>;
}

async function startHub(work: string, receiverUrl: string): Promise<{ hub: HubProcess; url: string }> {
  const port = await refusingPort();
  const config = join(work, 'hub.yaml');
  writeFileSync(
    config,
    [
      'listen: { host: 127.0.0.1 }',
      `auth: { tokens: ["${HUB_TOKEN}"] }`,
      `redis: { dataDir: "${join(work, 'redis')}" }`,
      'destinations:',
      '  hook:',
      '    type: webhook',
      `    settings: { address: "${receiverUrl}/in", batchAsArray: true }`,
      '',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [join(REPO_ROOT, 'apps', 'cli', 'bin', 'peregrine.js'), 'hub', '--config', config, '--port', String(port), '--log-level', 'warn'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errors = '';
  child.stderr.on('data', (d: Buffer) => (errors = (errors + d.toString()).slice(-5000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`hub exited during start-up (${child.exitCode}): ${errors}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`hub not ready after 90 s: ${errors}`);
    }
    await sleep(100);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    hub: {
      async stop() {
        if (child.exitCode === null) child.kill('SIGTERM');
        await Promise.race([exited, sleep(15_000).then(() => child.kill('SIGKILL'))]);
      },
    },
  };
}

/** A webhook receiver noting each flooder /etc/shadow alert's syscall → delivery delay. */
async function startReceiver(delays: number[]): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = wallNowMs();
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
      for (const a of (Array.isArray(body) ? body : [body]) as Array<{ rule: string; time: string; output_fields: Record<string, unknown> }>) {
        if (a.rule === LATENCY_RULE && a.output_fields['proc.name'] === MIX_COMM) delays.push(at - eventWallMs(a.time));
      }
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('receiver has no port');
  return { server, url: `http://127.0.0.1:${address.port}` };
}

async function partD(port: number, work: string): Promise<Record<string, unknown>> {
  const hubDelays: number[] = [];
  const stdoutDelays: number[] = [];
  const receiver = await startReceiver(hubDelays);
  const [{ hub, url }, probe] = await Promise.all([startHub(work, receiver.url), SensorChild.start('probe', ['--watch-comm', MIX_COMM])]);
  const table: string[] = [];
  const out: Record<string, unknown> = {};
  const labels = QUICK ? ([['with the mix flood', true]] as const) : ([['with the mix flood', true], ['idle (only the opens)', false]] as const);
  try {
    await probe.pause();
    for (const [label, flood] of labels) {
      const extra = ['--shadow-every-ms', String(SHADOW_EVERY_MS), ...(flood ? [] : ['--no-flood'])];
      const p = await livePhase(probe, port, LATENCY_SECONDS, extra);
      stdoutDelays.length = 0;
      hubDelays.length = 0;
      // `peregrine sensor` as a user runs it, on CPU 0 (as the probe alone was): JSON lines on stdout and the hub.
      const sensor = await CommandSensor.start(
        ['--rules', STABLE_RULES, '--output', 'json', '--hub', url, '--hub-token', HUB_TOKEN, '--spool-dir', join(work, 'spool')],
        {
          cpu: 0,
          onLine: (line, at) => {
            const d = shadowAlertDelay(line, at);
            if (d !== undefined) stdoutDelays.push(d);
          },
        },
      );
      let mix: MixCounts;
      let cpuShare: number;
      let waitShare: number;
      let sDrops: number;
      try {
        // Warm-up (JIT, state of the flooder's processes), as a sensor that has been running a while.
        await startMix(QUICK ? 1 : 3, port).done;
        const m0 = await sensor.metrics();
        const cpu0 = sensor.cpuSeconds();
        const wait0 = sensor.runQueueWaitSeconds();
        const t0 = performance.now();
        mix = await startMix(LATENCY_SECONDS, port, extra).done;
        // Every alert on stdout, then through the hub (the sensor's linger, the hub's queue): at most 30 s.
        const deadline = Date.now() + 30_000;
        while ((stdoutDelays.length < mix.shadow || hubDelays.length < stdoutDelays.length) && Date.now() < deadline) await sleep(50);
        cpuShare = (100 * (sensor.cpuSeconds() - cpu0)) / ((performance.now() - t0) / 1000);
        waitShare = (100 * (sensor.runQueueWaitSeconds() - wait0)) / ((performance.now() - t0) / 1000);
        const m1 = await sensor.metrics();
        sDrops = m1.dropsKernel + m1.dropsUser - m0.dropsKernel - m0.dropsUser;
      } finally {
        await sensor.stop();
      }
      const base = p.report!.probeLatenciesMs;
      const row = (xs: number[]) => `${fmt(quantile(xs, 0.5), 1)} / **${fmt(quantile(xs, 0.99), 1)}** / ${fmt(Math.max(...xs), 1)} ms (${xs.length})`;
      table.push(`| ${label}: probe alone, syscall → record in JS (baseline) | ${row(base)} |`);
      table.push(`| ${label}: \`peregrine sensor\`, syscall → alert line on its stdout | ${row(stdoutDelays)} |`);
      table.push(`| ${label}: \`peregrine sensor\` → hub → webhook delivered | ${row(hubDelays)} |`);
      table.push(`| ${label}: opens ${mix.shadow}, sensor drops ${sDrops}, sensor CPU ${cpuShare.toFixed(0)} % of its core, its threads runnable but waiting for it ${waitShare.toFixed(0)} % (thread-seconds per second of wall time incl. the hub wait) | |`);
      out[label] = { opens: mix.shadow, probe: base, stdout: [...stdoutDelays], hub: [...hubDelays], drops: sDrops, cpuShare, waitShare };
    }
    log(`\n(d) latency: /etc/shadow opened every ${SHADOW_EVERY_MS} ms by the flooder for ${LATENCY_SECONDS} s per phase ("${LATENCY_RULE}"); delays are receive time − the event's timestamp (same clock)`);
    log('| path | p50 / p99 / max (count) |');
    log('|---|---|');
    for (const l of table) log(l);
    const loaded = out['with the mix flood'] as { stdout: number[]; hub: number[] };
    const p99s = quantile(loaded.stdout, 0.99);
    const p99h = quantile(loaded.hub, 0.99);
    log(`targets (under the flood): stdout p99 ≤ 50 ms -> ${fmt(p99s, 1)} ms (${p99s <= 50 ? 'met' : 'NOT met'}); hub p99 ≤ 1 s -> ${fmt(p99h, 1)} ms (${p99h <= 1000 ? 'met' : 'NOT met'})`);
    return out;
  } finally {
    await probe.stop();
    await hub.stop();
    await new Promise<void>((r) => receiver.server.close(() => r()));
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench/sensor needs root (the probe loads BPF programs): run it as root');
  if (cpus().length < 2) throw new Error('bench/sensor pins the flooder and the sensor to different CPUs: needs 2 cores');
  buildMix();
  const started = new Date();
  const port = await refusingPort();
  const work = mkdtempSync(join(tmpdir(), 'pg-bench-sensor-'));
  const profileRoot = join(CACHE_DIR, 'profiles', started.toISOString().replace(/[:.]/g, '-'));
  log(
    `bench/sensor ${QUICK ? '(quick smoke mode) ' : ''}parts ${[...PARTS].join(',')}; ${started.toISOString()}; load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}; rules ${STABLE_RULES.slice(REPO_ROOT.length + 1)}`,
  );
  const results: Record<string, unknown> = { started: started.toISOString(), quick: QUICK, seconds: SECONDS, rounds: ROUNDS, loadBefore: loadavg() };
  try {
    if (PARTS.has('a')) {
      const dir = PROFILE ? join(profileRoot, 'live') : undefined;
      if (dir) mkdirSync(dir, { recursive: true });
      results.a = await partA(port, dir);
      if (dir) printHot('(a) live sensor', dir);
    }
    if (PARTS.has('b')) {
      const dir = PROFILE ? join(profileRoot, 'replay') : undefined;
      if (dir) mkdirSync(dir, { recursive: true });
      results.b = await partB(port, work, dir);
      if (dir) printHot('(b) replay, full pipeline', dir);
    }
    if (PARTS.has('c')) results.c = await partC(work);
    if (PARTS.has('d')) results.d = await partD(port, work);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  results.loadAfter = loadavg();
  mkdirSync(CACHE_DIR, { recursive: true });
  writeFileSync(join(CACHE_DIR, `last-run${QUICK ? '-quick' : ''}.json`), JSON.stringify(results, null, 1));
  log(`\nload average at the end ${loadavg().map((x) => x.toFixed(1)).join(' ')}; took ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s; raw figures in ${join(CACHE_DIR, `last-run${QUICK ? '-quick' : ''}.json`).slice(REPO_ROOT.length + 1)}`);
}

function printHot(label: string, dir: string): void {
  const { totalMs, functions } = hotFunctions(dir);
  log(`\nCPU profile of ${label} (${dir.slice(REPO_ROOT.length + 1)}; ${fmt(totalMs / 1000, 1)} s profiled after start-up, shares of busy time):`);
  log('| self | function | where |');
  log('|---|---|---|');
  for (const f of functions) log(`| ${(100 * f.share).toFixed(1)} % | ${f.name} | ${f.where} |`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
