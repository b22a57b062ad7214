/**
 * Replay: a capture file through the rules, alerts to outputs. The same
 * state, extractor and evaluation as the live sensor, fed by the capture file
 * source instead of the probe.
 */
import { CaptureReader, ChunkType, type ProbeStats } from '@peregrine/native';
import type { BatchWalkStats } from '../sources/batch-walk.ts';
import { BatchWalker } from '../sources/batch-walk.ts';
import { captureContext } from '../sources/context.ts';
import { createEvaluator, type AlertEmitter } from './evaluate.ts';
import { compileSyscallRules } from './rules.ts';

export interface ReplayOptions {
  /** Capture file written by `peregrine capture`. */
  readonly file: string;
  /** Rules files, loaded in order. */
  readonly rules: readonly string[];
  /** Hostname in alerts (default: the captured machine's). */
  readonly hostname?: string;
  readonly allMatches?: boolean;
  readonly outputs: readonly AlertEmitter[];
}

export interface ReplaySummary {
  readonly events: number;
  readonly alerts: number;
  /** Decode problems met on the way (records skipped, not fatal). */
  readonly walk: BatchWalkStats;
  /** The probe's stats recorded at the end of the capture, if it ended cleanly. */
  readonly captureStats?: Partial<ProbeStats>;
  /** False when the file has no end marker (every whole chunk was still replayed). */
  readonly complete: boolean;
}

export async function replayCapture(opts: ReplayOptions): Promise<ReplaySummary> {
  // 'decoder': a damaged record is counted and skipped by the batch walk instead of failing the file.
  const reader = await CaptureReader.open(opts.file, { records: 'decoder' });
  try {
    const ctx = captureContext(reader);
    const rules = compileSyscallRules(opts.rules, { hostname: opts.hostname ?? ctx.hostname, allMatches: opts.allMatches });
    const walker = new BatchWalker(ctx);
    const { onEvent, stats } = createEvaluator(rules, opts.outputs);
    // One await per chunk, not per event: the walk over a chunk's records is synchronous.
    for await (const chunk of reader.chunks()) {
      if (chunk.type === ChunkType.EVENTS) walker.walk(chunk.payload, onEvent);
    }
    return {
      events: stats.events,
      alerts: stats.alerts,
      walk: { ...walker.stats },
      captureStats: reader.stats as Partial<ProbeStats> | undefined,
      complete: reader.complete,
    };
  } finally {
    await reader.close();
  }
}
