/**
 * Runs the probe into a capture file until stopped or a time limit passes.
 */
import { readFileSync } from 'node:fs';
import { arch, hostname, release } from 'node:os';
import { CaptureWriter, type CaptureMetadata } from './capture.ts';
import { DEFAULT_SYSCALLS } from './layout.ts';
import { snapshotProcesses } from './proc-snapshot.ts';
import { Probe, bootEpochNs, type ProbeOptions, type ProbeStats } from './probe.ts';

export interface CaptureOptions extends Omit<ProbeOptions, 'syscalls'> {
  readonly out: string;
  readonly syscalls?: readonly string[];
  /** Stop after this many seconds; otherwise run until `signal` aborts. */
  readonly seconds?: number;
  readonly signal?: AbortSignal;
  /** Called with the probe once it is running (tests drive load here). */
  readonly onStarted?: (probe: Probe) => void;
}

export interface CaptureSummary {
  readonly records: number;
  readonly bytes: number;
  readonly batches: number;
  readonly stats: ProbeStats;
  readonly seconds: number;
}

/** id -> name from an /etc/passwd or /etc/group style file (missing file: empty). */
export function readIdNames(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && /^\d+$/.test(f[2])) out[f[2]] ??= f[0];
  }
  return out;
}

export async function runCapture(opts: CaptureOptions): Promise<CaptureSummary> {
  const syscalls = opts.syscalls ?? DEFAULT_SYSCALLS;
  const probe = Probe.open({ ...opts, syscalls });
  const metadata: CaptureMetadata = {
    hostname: hostname(),
    kernel: release(),
    arch: arch(),
    startedAt: new Date().toISOString(),
    syscalls: [...syscalls],
    users: readIdNames('/etc/passwd'),
    groups: readIdNames('/etc/group'),
    tool: 'peregrine capture',
    processes: snapshotProcesses(),
  };
  const writer = CaptureWriter.create(opts.out, metadata, bootEpochNs());
  const started = Date.now();
  let batches = 0;
  let finalStats: ProbeStats | undefined;
  try {
    probe.start((batch, count) => {
      batches++;
      writer.writeBatch(batch, count);
    });
    opts.onStarted?.(probe);
    await new Promise<void>((resolve) => {
      const timer = opts.seconds !== undefined ? setTimeout(resolve, opts.seconds * 1000) : undefined;
      if (opts.signal) {
        if (opts.signal.aborted) resolve();
        opts.signal.addEventListener('abort', () => {
          if (timer) clearTimeout(timer);
          resolve();
        }, { once: true });
      }
    });
    // Let the reader hand over what the kernel already wrote before we stop.
    const drainEnd = Date.now() + 2000;
    let s = probe.stats();
    // (user.records counts batches handed off by the reader thread; writer.records those JS received.)
    while (Date.now() < drainEnd && (s.user.records + s.user.drops < s.kernel.events || writer.records < s.user.records)) {
      await new Promise((r) => setTimeout(r, 20));
      s = probe.stats();
    }
  } finally {
    finalStats = probe.closed ? undefined : probe.stats();
    probe.close();
    await writer.close(finalStats ?? {});
  }
  if (!finalStats) throw new Error('probe closed before the capture ended');
  return { records: writer.records, bytes: writer.bytes, batches, stats: finalStats, seconds: (Date.now() - started) / 1000 };
}
