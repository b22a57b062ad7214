/**
 * The capture file event source: every syscall record of a capture, in
 * order, through the shared batch walk; and recording one from the probe.
 */
import {
  ChunkType,
  DEFAULT_SYSCALLS,
  SYSCALL_BY_NAME,
  runCapture,
  type CaptureOptions,
  type CaptureReader,
  type CaptureSummary,
} from '@peregrine/native';
import { compileSyscallRules, syscallsForRules, type SyscallSet } from '../pipeline/rules.ts';
import type { SyscallEvent } from '../extract/syscall-event.ts';
import { BatchWalker } from './batch-walk.ts';
import { captureContext } from './context.ts';

/**
 * Every syscall event of the capture with state applied up to and including
 * it: consume each event before pulling the next (state moves on, e.g. a
 * parent's exit removes it from the table). Pass a walker to read its stats.
 */
export async function* captureEvents(
  reader: CaptureReader,
  walker: BatchWalker = new BatchWalker(captureContext(reader)),
): AsyncGenerator<SyscallEvent> {
  for await (const chunk of reader.chunks()) {
    if (chunk.type !== ChunkType.EVENTS) continue;
    yield* walker.events(chunk.payload);
  }
}

export interface RecordCaptureOptions extends Omit<CaptureOptions, 'syscalls'> {
  /** Syscalls to capture; give this or `rules`, not both. Default: every supported syscall. */
  readonly syscalls?: readonly string[];
  /** Capture only what these rules can match (the rules' syscall set plus what state needs). */
  readonly rules?: readonly string[];
  /** Told the syscall set chosen from the rules before the probe starts. */
  readonly onSyscalls?: (set: SyscallSet) => void;
}

/** Runs the probe into a capture file, with the syscall set given or derived from rules files. */
export async function recordCapture(opts: RecordCaptureOptions): Promise<CaptureSummary & { readonly syscalls: readonly string[] }> {
  if (opts.syscalls && opts.rules && opts.rules.length > 0) throw new Error('give syscalls or rules files, not both');
  let syscalls = opts.syscalls ?? DEFAULT_SYSCALLS;
  if (opts.rules && opts.rules.length > 0) {
    const set = syscallsForRules(compileSyscallRules(opts.rules));
    opts.onSyscalls?.(set);
    syscalls = set.syscalls;
  }
  const unknown = syscalls.filter((s) => !SYSCALL_BY_NAME.has(s));
  if (unknown.length > 0) {
    throw new UnknownSyscallError(`unknown syscall(s) ${unknown.join(', ')}; supported: ${[...SYSCALL_BY_NAME.keys()].join(', ')}`);
  }
  const summary = await runCapture({ ...opts, syscalls });
  return { ...summary, syscalls };
}

/** A syscall name the probe does not know (a usage error, not a runtime failure). */
export class UnknownSyscallError extends Error {
  override readonly name = 'UnknownSyscallError';
}
