/**
 * The typed face of the addon: open a probe with a syscall set and buffer
 * sizes, start it with a batch callback, change the syscall set and the
 * in-kernel exclusions while it runs, read drop counters, close it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_SYSCALLS,
  DESC_SIZE,
  EVENT_LAYOUT_VERSION,
  HEADER_SIZE,
  PREFIX_MAX,
  SYSCALL_BY_ID,
  SYSCALL_BY_NAME,
  SYSCALLS,
  Sched,
  buildSyscallTable,
} from './layout.ts';
import { assertPreconditions } from './preconditions.ts';

export const ADDON_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', 'build', 'Release', 'peregrine_probe.node');

interface NativeStatsCpu {
  seen: number;
  events: number;
  dropsBuffer: number;
}

interface NativeStats {
  user: { batches: number; records: number; bytes: number; drops: number; oversize: number };
  kernel?: {
    seen: number;
    events: number;
    dropsBuffer: number;
    filteredPid: number;
    filteredComm: number;
    filteredPath: number;
    perCpu: NativeStatsCpu[];
    bySyscallId: number[];
  };
}

interface NativeIds {
  programs: number[];
  maps: number[];
  links: number[];
}

interface NativeProbe {
  start(onBatch: (batch: Buffer, count: number) => void): void;
  setSyscalls(table: Uint8Array): void;
  setFilters(f: { self: number; pids: number[]; comms: string[]; prefixes: Array<{ syscall: number; prefix: string }> }): void;
  setSchedMask(mask: number): void;
  stats(): NativeStats;
  programIds(): NativeIds;
  close(): void;
}

interface Addon {
  Probe: new (opts: {
    ringBytes: number;
    batchBytes: number;
    flushMs: number;
    dropWhenBehind: boolean;
    syscallTable: Uint8Array;
    schedMask: number;
    wakeupBytes: number;
    filters: Parameters<NativeProbe['setFilters']>[0];
  }) => NativeProbe;
  layoutVersion: number;
  headerSize: number;
  descSize: number;
  libbpfVersion: string;
  clocks(): [bigint, bigint];
}

let addon: Addon | undefined;

/** Loads the compiled addon once, checking it was built from the same layout as this decoder. */
export function loadAddon(): Addon {
  if (addon) return addon;
  if (!existsSync(ADDON_PATH)) {
    throw new Error(`the probe addon is not built (${ADDON_PATH} missing): run bash native/scripts/build.sh`);
  }
  const loaded = createRequire(import.meta.url)(ADDON_PATH) as Addon;
  if (loaded.layoutVersion !== EVENT_LAYOUT_VERSION || loaded.headerSize !== HEADER_SIZE || loaded.descSize !== DESC_SIZE) {
    throw new Error(
      `addon/decoder layout mismatch (addon v${loaded.layoutVersion} header ${loaded.headerSize} desc ${loaded.descSize}; ` +
        `decoder v${EVENT_LAYOUT_VERSION} header ${HEADER_SIZE} desc ${DESC_SIZE}): rebuild with bash native/scripts/build.sh`,
    );
  }
  addon = loaded;
  return addon;
}

/** Unix epoch ns at CLOCK_BOOTTIME zero: add a record's tsNs to get wall-clock time. */
export function bootEpochNs(): bigint {
  const [real, boot] = loadAddon().clocks();
  return real - boot;
}

export interface PathPrefixExclusion {
  /** Syscall the prefix applies to; omitted = every path-taking syscall. */
  readonly syscall?: string;
  /** Absolute path prefix, e.g. `/proc/`; events whose first path starts with it are dropped in the kernel. */
  readonly prefix: string;
}

export interface Exclusions {
  /** Drop events of our own process (default true): the sensor must not observe itself. */
  readonly self?: boolean;
  readonly pids?: readonly number[];
  /** Task comm names (first 15 bytes compared). */
  readonly comms?: readonly string[];
  readonly pathPrefixes?: readonly PathPrefixExclusion[];
}

export interface ProbeOptions {
  /** Syscalls to capture (Falco names). Default: every one the probe supports. */
  readonly syscalls?: Iterable<string>;
  /** Kernel ring size in bytes: a power of two, at least 4096. Default 8 MiB (Falco's default buffer). */
  readonly ringBytes?: number;
  /** Size of one batch handed to JS. Default 1 MiB, minimum 64 KiB. */
  readonly batchBytes?: number;
  /**
   * A partly filled batch is delivered once its first record is this old, and the reader polls
   * the ring this often (it is woken early only past `wakeupBytes`). Default 5 ms.
   */
  readonly flushMs?: number;
  /** Pending ring bytes that make the kernel wake the reader. Default min(64 KiB, ring/8). */
  readonly wakeupBytes?: number;
  /**
   * When JS holds every batch: 'block' stops reading (the kernel ring fills and
   * the kernel counts drops), 'drop' keeps draining and counts drops in user space.
   */
  readonly whenBehind?: 'block' | 'drop';
  /** Scheduler tracepoints for process state. Default all on. */
  readonly sched?: { readonly fork?: boolean; readonly exec?: boolean; readonly exit?: boolean };
  readonly exclude?: Exclusions;
}

export interface ProbeStats {
  readonly kernel: {
    /** Interesting syscall exits and sched events that reached the probe. */
    readonly seen: number;
    /** Records written to the ring. */
    readonly events: number;
    /** Records lost because the ring was full (reserve failures), summed over CPUs. */
    readonly dropsBuffer: number;
    readonly filteredPid: number;
    readonly filteredComm: number;
    readonly filteredPath: number;
    readonly perCpu: ReadonlyArray<{ readonly seen: number; readonly events: number; readonly dropsBuffer: number }>;
    /** Records written per syscall (and `sched` for fork/exec/exit records): which syscall is noisy. */
    readonly bySyscall: Readonly<Record<string, number>>;
  };
  readonly user: {
    readonly batches: number;
    readonly records: number;
    readonly bytes: number;
    /** Records drained from the ring but discarded because JS held every batch ('drop' mode). */
    readonly drops: number;
    readonly oversize: number;
  };
}

export interface BpfObjectIds {
  readonly programs: readonly number[];
  readonly maps: readonly number[];
  readonly links: readonly number[];
}

export type BatchHandler = (batch: Buffer, count: number) => void;

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

function schedMask(s: ProbeOptions['sched']): number {
  if (!s) return Sched.ALL;
  return (s.fork !== false ? Sched.FORK : 0) | (s.exec !== false ? Sched.EXEC : 0) | (s.exit !== false ? Sched.EXIT : 0);
}

function nativeFilters(ex: Exclusions | undefined): Parameters<NativeProbe['setFilters']>[0] {
  const pids = [...(ex?.pids ?? [])];
  // pid 0 is the idle task, never a syscall caller: "no self exclusion".
  const self = ex?.self !== false ? process.pid : 0;
  const prefixes: Array<{ syscall: number; prefix: string }> = [];
  for (const p of ex?.pathPrefixes ?? []) {
    if (!p.prefix.startsWith('/')) throw new Error(`path prefix "${p.prefix}" must be absolute (start with /)`);
    if (Buffer.byteLength(p.prefix) > PREFIX_MAX) throw new Error(`path prefix "${p.prefix}" is longer than ${PREFIX_MAX} bytes`);
    const targets = p.syscall === undefined ? SYSCALLS.filter((s) => s.paths.length > 0) : [SYSCALL_BY_NAME.get(p.syscall)];
    for (const t of targets) {
      if (!t) throw new Error(`path prefix "${p.prefix}": unknown syscall "${p.syscall}"`);
      prefixes.push({ syscall: t.id, prefix: p.prefix });
    }
  }
  return { self, pids, comms: [...(ex?.comms ?? [])], prefixes };
}

export class Probe {
  #native: NativeProbe | undefined;
  #started = false;

  private constructor(native: NativeProbe) {
    this.#native = native;
  }

  /** Checks preconditions, loads and attaches the programs. Throws with an actionable message. */
  static open(options: ProbeOptions = {}): Probe {
    const ringBytes = options.ringBytes ?? 8 * 1024 * 1024;
    const batchBytes = options.batchBytes ?? 1024 * 1024;
    if (!isPowerOfTwo(ringBytes) || ringBytes < 4096) {
      throw new Error(`ringBytes must be a power of two of at least 4096 (got ${ringBytes})`);
    }
    if (!Number.isInteger(batchBytes) || batchBytes < 65536) {
      throw new Error(`batchBytes must be an integer of at least 65536 (got ${batchBytes})`);
    }
    const table = buildSyscallTable(options.syscalls ?? DEFAULT_SYSCALLS);
    const filters = nativeFilters(options.exclude);
    assertPreconditions();
    const { Probe: NativeCtor } = loadAddon();
    const native = new NativeCtor({
      ringBytes,
      batchBytes,
      flushMs: options.flushMs ?? 5,
      dropWhenBehind: options.whenBehind === 'drop',
      syscallTable: table,
      schedMask: schedMask(options.sched),
      wakeupBytes: options.wakeupBytes ?? Math.min(64 * 1024, ringBytes / 8),
      filters,
    });
    return new Probe(native);
  }

  #live(): NativeProbe {
    if (!this.#native) throw new Error('probe is closed');
    return this.#native;
  }

  /** Starts the reader thread; `onBatch` runs on the event loop once per batch. */
  start(onBatch: BatchHandler): void {
    if (this.#started) throw new Error('probe already started');
    // An exception thrown inside a N-API callback is only a warning on Node 20; rethrow it
    // outside so a failing consumer behaves like any other callback (uncaughtException).
    this.#live().start((batch, count) => {
      try {
        onBatch(batch, count);
      } catch (err) {
        process.nextTick(() => {
          throw err;
        });
      }
    });
    this.#started = true;
  }

  /** Replaces the captured syscall set (Falco's adaptive set) without reloading. */
  setSyscalls(names: Iterable<string>): void {
    this.#live().setSyscalls(buildSyscallTable(names));
  }

  /** Replaces the in-kernel exclusions. */
  setExclusions(exclude: Exclusions): void {
    this.#live().setFilters(nativeFilters(exclude));
  }

  setSched(sched: NonNullable<ProbeOptions['sched']>): void {
    this.#live().setSchedMask(schedMask(sched));
  }

  stats(): ProbeStats {
    const s = this.#live().stats();
    if (!s.kernel) throw new Error('probe is closed');
    const { bySyscallId, ...kernel } = s.kernel;
    const bySyscall: Record<string, number> = {};
    bySyscallId.forEach((n, id) => {
      if (n > 0) bySyscall[id === 0 ? 'sched' : (SYSCALL_BY_ID[id]?.name ?? `#${id}`)] = n;
    });
    return { kernel: { ...kernel, bySyscall }, user: s.user };
  }

  /** Kernel ids of this probe's programs, maps and links (as `bpftool prog/map/link` lists them). */
  bpfIds(): BpfObjectIds {
    return this.#live().programIds();
  }

  get closed(): boolean {
    return this.#native === undefined;
  }

  /** Stops the reader, detaches every program and frees maps. Idempotent. */
  close(): void {
    const n = this.#native;
    this.#native = undefined;
    n?.close();
  }
}
