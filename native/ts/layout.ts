/**
 * The TypeScript side of native/src/pg_event.h: record layout version 2,
 * byte offsets, kinds, blob tags, the portable syscall ids and, per syscall,
 * how the probe reads its arguments. Keep this file and the C header in step;
 * the addon reports the header's sizes and version and `loadAddon` checks
 * them against these constants.
 */

export const EVENT_LAYOUT_VERSION = 2;
/** The oldest layout this decoder reads: v2 only adds to v1 (syscall ids, tags, exec info fields at its end). */
export const MIN_EVENT_LAYOUT_VERSION = 1;
export const HEADER_SIZE = 120;
export const BLOB_PREFIX = 4;
export const DESC_SIZE = 12;
export const MAX_SYSCALL_NR = 512;
export const PREFIX_MAX = 126;

/**
 * Byte offsets inside struct pg_event_header (HEADER_SIZE bytes). Every
 * struct mirrored here is checked field by field against the C header by
 * native/test/layout-offsets.test.ts (it compiles a program printing offsetof).
 */
export const H = {
  len: 0,
  kind: 4,
  syscall: 6,
  tsNs: 8,
  tid: 16,
  pid: 20,
  ppid: 24,
  uid: 28,
  gid: 32,
  nblobs: 36,
  flags: 38,
  res: 40,
  cgroupId: 48,
  comm: 56,
  args: 72,
} as const;
/** char comm[16] and __u64 args[6] of the header. */
export const COMM_SIZE = 16;
export const ARG_COUNT = 6;

/** struct pg_tuple, the PG_TAG_TUPLE blob. */
export const TUPLE_SIZE = 40;
export const TupleOffset = { family: 0, sport: 2, dport: 4, proto: 6, saddr: 8, daddr: 24 } as const;
/** __u8 saddr[16] / daddr[16]: an IPv6 address, or an IPv4 one in the first 4 bytes. */
export const TUPLE_ADDR_SIZE = 16;

/** struct pg_exec_info, the PG_TAG_EXECINFO blob. */
export const EXEC_INFO_SIZE = 88;
/** Layout v1 exec info blobs end after capEffective; a decoder reads the fields the blob's length covers. */
export const EXEC_INFO_V1_SIZE = 64;
export const ExecInfoOffset = {
  loginuid: 0,
  tty: 4,
  euid: 8,
  egid: 12,
  pgid: 16,
  sid: 20,
  exeIno: 24,
  exeDev: 32,
  pad: 36,
  exeCtimeSec: 40,
  exeMtimeSec: 48,
  capEffective: 56,
  capPermitted: 64,
  capInheritable: 72,
  exeFlags: 80,
  padEnd: 84,
} as const;
/** pg_exec_info.exeFlags (PG_EXE_*), the bit values of Falco's execve `flags` (PPM_EXE_*). */
export const ExeFlag = { WRITABLE: 1, UPPER_LAYER: 2, FROM_MEMFD: 4, LOWER_LAYER: 8 } as const;

/** struct pg_fd_pair, the PG_TAG_FDS blob (pipe/pipe2/socketpair results). */
export const FD_PAIR_SIZE = 8;
export const FdPairOffset = { fd0: 0, fd1: 4 } as const;

/** struct open_how (linux/openat2.h), the PG_TAG_OPENHOW blob. */
export const OPEN_HOW_SIZE = 24;
export const OpenHowOffset = { flags: 0, mode: 8, resolve: 16 } as const;

/** struct pg_sc_desc: one DESC_SIZE entry of the pg_syscalls table, indexed by raw syscall number. */
export const DescOffset = { id: 0, pathArg: 2, dirfdArg: 4, sock: 6, strArg: 7, flags: 8, pad: 10 } as const;
/** Sentinel argument indexes in pg_sc_desc (PG_ARG_*). */
export const DescArg = { NONE: 0xff, CWD: 0xfe } as const;
/** pg_sc_desc.sock (PG_SOCK_*). */
export const DescSock = { NONE: 0, ARG0: 1, RET: 2 } as const;
/** pg_sc_desc.flags (PG_DESC_*). */
export const DescFlag = {
  EXEC: 1,
  FDPATH: 2,
  ADDR_CONNECT: 4,
  ADDR_SENDTO: 8,
  ADDR_MSGHDR: 16,
  ADDR_ACCEPT: 32,
  ADDR_RECVFROM: 64,
  OPENHOW: 128,
  CWD: 256,
  FDS_ARG0: 512,
  FDS_ARG3: 1024,
  FCNTL: 2048,
  PRCTL: 4096,
} as const;


export const Kind = { SYSCALL: 1, EXEC: 2, FORK: 3, EXIT: 4 } as const;
export type KindCode = (typeof Kind)[keyof typeof Kind];

export const Tag = {
  PATH0: 1,
  PATH1: 2,
  BASE0: 3,
  BASE1: 4,
  SOCKADDR: 5,
  TUPLE: 6,
  FILENAME: 7,
  ARGV: 8,
  ENV: 9,
  CWD: 10,
  EXECINFO: 11,
  CGROUP: 12,
  STR: 13,
  FDPATH: 14,
  OPENHOW: 15,
  CGROUP_PATH: 16,
  FDS: 17,
} as const;

export const HeaderFlag = { TRUNCATED: 1, THREAD: 2 } as const;

const D_EXEC = DescFlag.EXEC;
const D_FDPATH = DescFlag.FDPATH;
const D_ADDR_CONNECT = DescFlag.ADDR_CONNECT;
const D_ADDR_SENDTO = DescFlag.ADDR_SENDTO;
const D_ADDR_MSGHDR = DescFlag.ADDR_MSGHDR;
const D_ADDR_ACCEPT = DescFlag.ADDR_ACCEPT;
const D_ADDR_RECVFROM = DescFlag.ADDR_RECVFROM;
const D_OPENHOW = DescFlag.OPENHOW;
const D_CWD = DescFlag.CWD;
const D_FDS_ARG0 = DescFlag.FDS_ARG0;
const D_FDS_ARG3 = DescFlag.FDS_ARG3;
const D_FCNTL = DescFlag.FCNTL;
const D_PRCTL = DescFlag.PRCTL;

/** How the probe captures one syscall (mirrors struct pg_sc_desc). */
export interface SyscallSpec {
  /** Portable id (enum pg_syscall). */
  readonly id: number;
  readonly name: string;
  /** Raw syscall number on x86_64. */
  readonly x86_64: number;
  /** [arg index, dirfd arg index | 'cwd' | null (never resolve)] for up to two path arguments. */
  readonly paths: ReadonlyArray<readonly [number, number | 'cwd' | null]>;
  readonly sock?: 'arg0' | 'ret';
  readonly strArg?: number;
  readonly flags?: number;
}

const sc = (
  id: number,
  name: string,
  x86_64: number,
  paths: SyscallSpec['paths'] = [],
  extra: Partial<Pick<SyscallSpec, 'sock' | 'strArg' | 'flags'>> = {},
): SyscallSpec => ({ id, name, x86_64, paths, ...extra });

/** Every syscall the probe can capture; ids follow enum pg_syscall. */
export const SYSCALLS: readonly SyscallSpec[] = [
  sc(1, 'open', 2, [[0, 'cwd']]),
  sc(2, 'openat', 257, [[1, 0]]),
  sc(3, 'openat2', 437, [[1, 0]], { flags: D_OPENHOW }),
  sc(4, 'creat', 85, [[0, 'cwd']]),
  sc(5, 'mkdir', 83, [[0, 'cwd']]),
  sc(6, 'mkdirat', 258, [[1, 0]]),
  sc(7, 'rmdir', 84, [[0, 'cwd']]),
  sc(8, 'unlink', 87, [[0, 'cwd']]),
  sc(9, 'unlinkat', 263, [[1, 0]]),
  sc(10, 'chmod', 90, [[0, 'cwd']]),
  sc(11, 'fchmodat', 268, [[1, 0]]),
  sc(12, 'fchmod', 91, [], { flags: D_FDPATH }),
  sc(13, 'rename', 82, [[0, 'cwd'], [1, 'cwd']]),
  sc(14, 'renameat', 264, [[1, 0], [3, 2]]),
  sc(15, 'renameat2', 316, [[1, 0], [3, 2]]),
  sc(16, 'link', 86, [[0, 'cwd'], [1, 'cwd']]),
  sc(17, 'linkat', 265, [[1, 0], [3, 2]]),
  sc(18, 'symlink', 88, [[0, null], [1, 'cwd']]),
  sc(19, 'symlinkat', 266, [[0, null], [2, 1]]),
  sc(20, 'execve', 59, [[0, 'cwd']], { flags: D_EXEC }),
  sc(21, 'execveat', 322, [[1, 0]], { flags: D_EXEC }),
  sc(22, 'connect', 42, [], { sock: 'arg0', flags: D_ADDR_CONNECT }),
  sc(23, 'accept', 43, [], { sock: 'ret', flags: D_ADDR_ACCEPT }),
  sc(24, 'accept4', 288, [], { sock: 'ret', flags: D_ADDR_ACCEPT }),
  sc(25, 'sendto', 44, [], { sock: 'arg0', flags: D_ADDR_SENDTO }),
  sc(26, 'recvfrom', 45, [], { sock: 'arg0', flags: D_ADDR_RECVFROM }),
  sc(27, 'sendmsg', 46, [], { sock: 'arg0', flags: D_ADDR_MSGHDR }),
  sc(28, 'recvmsg', 47, [], { sock: 'arg0', flags: D_ADDR_MSGHDR }),
  sc(29, 'listen', 50, [], { sock: 'arg0' }),
  sc(30, 'socket', 41),
  sc(31, 'dup', 32),
  sc(32, 'dup2', 33),
  sc(33, 'dup3', 292),
  sc(34, 'bpf', 321),
  sc(35, 'ptrace', 101),
  sc(36, 'setns', 308),
  sc(37, 'setuid', 105),
  sc(38, 'unshare', 272),
  sc(39, 'userfaultfd', 323),
  sc(40, 'init_module', 175, [], { strArg: 2 }),
  sc(41, 'finit_module', 313, [], { strArg: 1, flags: D_FDPATH }),
  sc(42, 'close', 3),
  // Layout v2: state (fd table, cwd) and the privilege/namespace syscalls of Falco's rules and macros.
  sc(43, 'fcntl', 72, [], { flags: D_FCNTL }),
  sc(44, 'chdir', 80, [[0, null]], { flags: D_CWD }),
  sc(45, 'fchdir', 81, [], { flags: D_CWD }),
  sc(46, 'pipe', 22, [], { flags: D_FDS_ARG0 }),
  sc(47, 'pipe2', 293, [], { flags: D_FDS_ARG0 }),
  sc(48, 'socketpair', 53, [], { flags: D_FDS_ARG3 }),
  sc(49, 'memfd_create', 319, [], { strArg: 0 }),
  sc(50, 'bind', 49, [], { sock: 'arg0', flags: D_ADDR_CONNECT }),
  sc(51, 'setgid', 106),
  sc(52, 'setreuid', 113),
  sc(53, 'setregid', 114),
  sc(54, 'setresuid', 117),
  sc(55, 'setresgid', 119),
  sc(56, 'mount', 165, [[0, null], [1, 'cwd']], { strArg: 2 }),
  sc(57, 'umount2', 166, [[0, 'cwd']]),
  sc(58, 'prctl', 157, [], { flags: D_PRCTL }),
  sc(59, 'pidfd_open', 434),
  sc(60, 'pidfd_getfd', 438),
  sc(61, 'process_vm_readv', 310),
  sc(62, 'process_vm_writev', 311),
];

export const SYSCALL_BY_NAME: ReadonlyMap<string, SyscallSpec> = new Map(SYSCALLS.map((s) => [s.name, s]));
export const SYSCALL_BY_ID: readonly (SyscallSpec | undefined)[] = (() => {
  const out: (SyscallSpec | undefined)[] = [];
  for (const s of SYSCALLS) out[s.id] = s;
  return out;
})();

/**
 * Every syscall the probe captures: the 41 the upstream Falco stable +
 * incubating rules use, the state set (close, fcntl, chdir, pipes, …) and the
 * privilege, mount and namespace syscalls of Falco's wider rule sets.
 */
export const DEFAULT_SYSCALLS: readonly string[] = SYSCALLS.map((s) => s.name);

/** Sched tracepoint switches (pg_sched_mask). */
export const Sched = { FORK: 1, EXEC: 2, EXIT: 4, ALL: 7 } as const;

/**
 * Builds the pg_syscalls table (MAX_SYSCALL_NR entries of struct pg_sc_desc)
 * for the running architecture. Unknown names throw, naming the known ones.
 */
export function buildSyscallTable(names: Iterable<string>): Uint8Array {
  const table = new Uint8Array(MAX_SYSCALL_NR * DESC_SIZE);
  const dv = new DataView(table.buffer);
  for (let nr = 0; nr < MAX_SYSCALL_NR; nr++) {
    const o = nr * DESC_SIZE;
    table[o + DescOffset.pathArg] = DescArg.NONE;
    table[o + DescOffset.pathArg + 1] = DescArg.NONE;
    table[o + DescOffset.dirfdArg] = DescArg.NONE;
    table[o + DescOffset.dirfdArg + 1] = DescArg.NONE;
    table[o + DescOffset.strArg] = DescArg.NONE;
  }
  for (const name of names) {
    const spec = SYSCALL_BY_NAME.get(name);
    if (!spec) {
      throw new Error(`unknown syscall "${name}": the probe captures ${[...SYSCALL_BY_NAME.keys()].join(', ')}`);
    }
    const o = spec.x86_64 * DESC_SIZE;
    dv.setUint16(o + DescOffset.id, spec.id, true);
    spec.paths.forEach(([arg, dir], i) => {
      table[o + DescOffset.pathArg + i] = arg;
      table[o + DescOffset.dirfdArg + i] = dir === 'cwd' ? DescArg.CWD : dir === null ? DescArg.NONE : dir;
    });
    table[o + DescOffset.sock] = spec.sock === 'arg0' ? DescSock.ARG0 : spec.sock === 'ret' ? DescSock.RET : DescSock.NONE;
    table[o + DescOffset.strArg] = spec.strArg ?? DescArg.NONE;
    dv.setUint16(o + DescOffset.flags, spec.flags ?? 0, true);
  }
  return table;
}

/**
 * Syscalls the probe always needs for state, whatever the rules use (Falco's
 * base set, reduced): the fd table (close, dup*, fcntl's F_DUPFD, F_DUPFD_CLOEXEC and F_SETFD,
 * pipes, socketpair, memfd_create) and the cwd (chdir, fchdir). Opens,
 * sockets and connects come with the rules that use them; execs and process
 * lifetimes come from the scheduler tracepoints, always on.
 */
export const STATE_SYSCALLS: readonly string[] = [
  'close', 'dup', 'dup2', 'dup3', 'fcntl', 'chdir', 'fchdir', 'pipe', 'pipe2', 'socketpair', 'memfd_create',
];

/**
 * Falco's adaptive syscall selection: the syscalls the loaded rules can match
 * (CompiledRules.eventTypes) that the probe supports, plus the state set.
 * Event types that are not syscalls the probe captures are returned apart so
 * the caller can say which rules cannot fire on this probe.
 */
export function adaptiveSyscalls(ruleEventTypes: Iterable<string>): { syscalls: string[]; unsupported: string[] } {
  const wanted = new Set<string>(STATE_SYSCALLS);
  const unsupported: string[] = [];
  for (const t of ruleEventTypes) {
    if (SYSCALL_BY_NAME.has(t)) wanted.add(t);
    else unsupported.push(t);
  }
  // Keep the table's order so the set prints the same way every time.
  return { syscalls: SYSCALLS.map((s) => s.name).filter((n) => wanted.has(n)), unsupported: unsupported.sort() };
}
