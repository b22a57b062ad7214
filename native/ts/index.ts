/**
 * @peregrine/native — the CO-RE eBPF syscall probe (Node-API addon), its
 * versioned raw event layout and decoder, the capture file format, and the
 * replay field extractor.
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
  HEADER_SIZE,
  SYSCALLS,
  SYSCALL_BY_NAME,
  DEFAULT_SYSCALLS,
  buildSyscallTable,
  type SyscallSpec,
} from './layout.ts';
export {
  decodeBatch,
  decodeRecord,
  forEachRecord,
  countRecords,
  DecodeError,
  type RawEvent,
  type EventKind,
  type SockTuple,
  type SockAddr,
  type ExecInfo,
  type OpenHow,
} from './decode.ts';
export { findProblems, gatherFacts, assertPreconditions, ProbePreconditionError, type HostFacts } from './preconditions.ts';
