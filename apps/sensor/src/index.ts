/**
 * @peregrine/sensor — the per-node sensor: process, fd and container state
 * rebuilt from probe events, the syscall-event field extractor over those
 * tables, event sources (live probe, capture file), the rules pipeline, and
 * the alert outputs (stdout, file, hub) with their on-disk spool.
 */
// State tables.
export {
  ProcessTable,
  DEFAULT_MAX_PROCESSES,
  type ProcessInfo,
  type ProcessTableOptions,
  type ProcessTableStats,
  type SeedProcess,
} from './state/process-table.ts';
export { FdTable, FD_TYPECHAR, DEFAULT_MAX_FDS_PER_PROCESS, type FdInfo, type FdType, type SocketEnds, type FdTableOptions } from './state/fd-table.ts';
export { seedProcesses, seedProcess, readFds, readSockets, readStartNs, fdFromLink, type SeedOptions, type KnownSocket } from './state/proc-seed.ts';
export { ProcFacts } from './state/proc-facts.ts';
export { RootNames, StaticNames, parseIdNames, type NameLookup, type RootNamesOptions } from './state/user-names.ts';
export { resolvePath } from './state/paths.ts';
// The syscall-event field extractor.
export { SyscallEvent, type SyscallContext, type FdView, type ContainerLookup } from './extract/syscall-event.ts';
export { syscallExtractor, extractorKnows, capsText, CANNOT_KNOW } from './extract/syscall-extractor.ts';
export { falcoArgs, errnoText, openFlagsText, type ArgValue, type NameMaps } from './extract/falco-args.ts';
// Event sources, on one batch walk.
export { BatchWalker, type BatchWalkStats } from './sources/batch-walk.ts';
export { liveContext, captureContext, cgroupOnlyContainers, type LiveContextOptions } from './sources/context.ts';
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
// The running sensor: configuration, reload, drop alerts, metrics, the `peregrine sensor` command.
export * from './config/index.ts';
export { LiveRules, compileRuleSet, SENSOR_STATE_SYSCALLS, type RuleSetVersion, type RuleCoverage, type ReloadResult } from './pipeline/live-rules.ts';
export { loadSyscallRules } from './pipeline/rules.ts';
export { SwappableEvaluator, type BatchTiming, type SwappableEvaluatorHooks } from './pipeline/swappable-evaluator.ts';
export { DropMonitor, TokenBucket, dropAlert, DROP_RULE, type DropCounters, type DropMonitorOptions } from './drop-alert.ts';
export { SensorMetrics, startMetricsServer, type SensorSnapshot, type Health } from './metrics.ts';
export { Sensor, RULES_WATCH_DEBOUNCE_MS, type SensorStartOptions, type ReloadTrigger } from './sensor.ts';
export { runSensorCommand, parseSensorArgs, startFailure, waitForStop, SENSOR_HELP, SENSOR_OPTIONS, type ParsedSensorArgs } from './command.ts';
