/**
 * @peregrine/native — the CO-RE eBPF syscall probe (Node-API addon), its
 * versioned raw event layout and decoder, and the capture file format. It
 * depends on nothing else in this repository: process state, the field
 * extractor and the rules pipeline live in @peregrine/sensor.
 */
export {
  Probe,
  loadAddon,
  ADDON_PATH,
  type ProbeOptions,
  type ProbeStats,
  type Exclusions,
  type PathPrefixExclusion,
  type BatchHandler,
  type BpfObjectIds,
} from './probe.ts';
export {
  EVENT_LAYOUT_VERSION,
  MIN_EVENT_LAYOUT_VERSION,
  HEADER_SIZE,
  ExeFlag,
  SYSCALLS,
  SYSCALL_BY_NAME,
  DEFAULT_SYSCALLS,
  buildSyscallTable,
  adaptiveSyscalls,
  STATE_SYSCALLS,
  type SyscallSpec,
} from './layout.ts';
export {
  decodeBatch,
  decodeRecord,
  ipv6Text,
  forEachRecord,
  countRecords,
  records,
  newDecodeStats,
  DecodeError,
  type DecodeStats,
  type RawEvent,
  type EventKind,
  type SockTuple,
  type SockAddr,
  type ExecInfo,
  type FdPair,
  type OpenHow,
} from './decode.ts';
export { findProblems, findLimitations, gatherFacts, assertPreconditions, ProbePreconditionError, type HostFacts } from './preconditions.ts';
export { bootEpochNs } from './probe.ts';
export {
  CaptureWriter,
  CaptureReader,
  CaptureFormatError,
  ChunkType,
  CAPTURE_MAGIC,
  CAPTURE_FORMAT_VERSION,
  MAX_CHUNK_BYTES,
  MAX_METADATA_BYTES,
  type CaptureReadOptions,
  type CaptureMetadata,
  type CaptureHeader,
  type CaptureChunk,
} from './capture.ts';
export { runCapture, readIdNames, type CaptureOptions, type CaptureSummary } from './capture-session.ts';
export { snapshotProcesses, readProcess, type ProcessSnapshot } from './proc-snapshot.ts';
