/**
 * @peregrine/sensor — the per-node sensor: process, fd and container state
 * rebuilt from probe events, the syscall-event field extractor over those
 * tables, event sources (live probe, capture file), the rules pipeline, and
 * the alert outputs (stdout, file, hub) with their on-disk spool.
 */
// State tables.
export { ProcessTable, type ProcessInfo } from './state/process-table.ts';
export { resolvePath } from './state/paths.ts';
// The syscall-event field extractor.
export { SyscallEvent, type SyscallContext, type FdView } from './extract/syscall-event.ts';
export { syscallExtractor, containerIdOf } from './extract/syscall-extractor.ts';
export { falcoArgs, errnoText, openFlagsText, type ArgValue, type NameMaps } from './extract/falco-args.ts';
// Event sources, on one batch walk.
export { BatchWalker, type BatchWalkStats } from './sources/batch-walk.ts';
export { liveContext, captureContext } from './sources/context.ts';
export { ProbeSource, type ProbeSourceOptions } from './sources/probe-source.ts';
export { captureEvents, recordCapture, UnknownSyscallError, type RecordCaptureOptions } from './sources/capture-file.ts';
// The rules pipeline.
export { compileSyscallRules, syscallsForRules, type SyscallRules, type SyscallRulesOptions, type SyscallSet } from './pipeline/rules.ts';
export { createEvaluator, type AlertEmitter, type EvaluationStats } from './pipeline/evaluate.ts';
export { replayCapture, type ReplayOptions, type ReplaySummary } from './pipeline/replay.ts';
// Alert outputs: stdout, file, hub (batches, gzip, TLS, retries) and its on-disk spool.
export * from './output/index.ts';
// Containers: cgroup path → container id, runtime metadata (Docker Engine API, CRI), the async registry.
export * from './containers/index.ts';
