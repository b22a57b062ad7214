/**
 * Part (b) of the sensor bench, in its own process pinned to one CPU: a
 * capture file read through ever more of the pipeline, interleaved rounds.
 *
 *   read     chunks read from the file, records counted from chunk headers (baseline: I/O only)
 *   decode   + every record decoded (native's lenient walk)
 *   state    + state applied and a SyscallEvent made per syscall record (the shared BatchWalker)
 *   rules    + every syscall event evaluated with the stable rules, alerts to a stdout output on /dev/null
 *   replay   the product's replayCapture (what `peregrine replay` runs: async event generator, rules compiled inside)
 *   compile  only compiling the stable rules (to take out of replay's time)
 *
 * After one unreported warm-up pass of every variant, prints one JSON line
 * per (round, variant) on stdout and nothing else.
 */
import { createWriteStream } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { CaptureReader, ChunkType, forEachRecord, newDecodeStats } from '@peregrine/native';
import { BatchWalker, StdoutOutput, captureContext, compileSyscallRules, createEvaluator, replayCapture } from '@peregrine/sensor';

const { values: opt } = parseArgs({
  options: {
    file: { type: 'string' },
    rules: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    cpu: { type: 'string', default: '0' },
    variants: { type: 'string', default: 'read,decode,state,rules,replay,compile' },
    'profile-out': { type: 'string' },
  },
});

export interface ReplayResult {
  readonly round: number;
  readonly variant: string;
  readonly records: number;
  readonly events: number;
  readonly alerts: number;
  readonly wallMs: number;
  readonly cpuMs: number;
}

async function once(variant: string, file: string, rulesFile: string, sink: NodeJS.WritableStream): Promise<Omit<ReplayResult, 'round' | 'variant'>> {
  const noop = (): void => {};
  if (variant === 'compile') {
    compileSyscallRules([rulesFile]);
    return { records: 0, events: 0, alerts: 0, wallMs: 0, cpuMs: 0 };
  }
  if (variant === 'replay') {
    const summary = await replayCapture({ file, rules: [rulesFile], outputs: [new StdoutOutput({ format: 'json', stream: sink })] });
    return { records: summary.walk.records, events: summary.events, alerts: summary.alerts, wallMs: 0, cpuMs: 0 };
  }
  const reader = await CaptureReader.open(file, { records: 'decoder' });
  try {
    const stats = newDecodeStats();
    let records = 0;
    let events = 0;
    let alerts = 0;
    if (variant === 'read') {
      for await (const c of reader.chunks()) if (c.type === ChunkType.EVENTS) records += c.count;
    } else if (variant === 'decode') {
      for await (const c of reader.chunks()) if (c.type === ChunkType.EVENTS) records += forEachRecord(c.payload, noop, stats);
    } else {
      const walker = new BatchWalker(captureContext(reader));
      const evaluator = variant === 'rules' ? createEvaluator(rules(rulesFile), [new StdoutOutput({ format: 'json', stream: sink })]) : undefined;
      const onEvent = evaluator ? evaluator.onEvent : noop;
      for await (const c of reader.chunks()) if (c.type === ChunkType.EVENTS) walker.walk(c.payload, onEvent);
      records = walker.stats.records;
      events = walker.stats.events;
      alerts = evaluator?.stats.alerts ?? 0;
    }
    return { records, events, alerts, wallMs: 0, cpuMs: 0 };
  } finally {
    await reader.close();
  }
}

let compiled: ReturnType<typeof compileSyscallRules> | undefined;
/** Rules compiled once per process for the `rules` variant (replayCapture compiles its own, inside its time). */
function rules(file: string): ReturnType<typeof compileSyscallRules> {
  compiled ??= compileSyscallRules([file]);
  return compiled;
}

async function main(): Promise<void> {
  execFileSync('taskset', ['-a', '-cp', String(opt.cpu), String(process.pid)], { stdio: 'ignore' });
  const file = opt.file ?? '';
  const rulesFile = opt.rules ?? '';
  rules(rulesFile);
  const sink = createWriteStream('/dev/null');
  const variants = (opt.variants ?? '').split(',');
  // One unreported pass of every variant first: the rounds then measure JIT-compiled code, as a long replay runs.
  for (const variant of variants) await once(variant, file, rulesFile, sink);
  // Profiled from here on (not start-up and module loading): the measured rounds only.
  const session = opt['profile-out'] !== undefined ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  for (let round = 0; round < Number(opt.rounds); round++) {
    for (const variant of variants) {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const r = await once(variant, file, rulesFile, sink);
      const wallMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const result: ReplayResult = { round, variant, ...r, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
      process.stdout.write(`${JSON.stringify(result)}\n`);
    }
  }
  if (session) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(opt['profile-out'] ?? '', JSON.stringify(profile));
    session.disconnect();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
