/**
 * Per-process file descriptor tables, the way libsinsp keeps them: an fd is
 * born by open/openat/openat2/creat/socket/accept/bpf/userfaultfd, gets its
 * socket tuple from connect/accept, is copied by dup/dup2/dup3, dies with
 * close, is inherited by a forked child and survives exec unless it was
 * opened close-on-exec.
 *
 * Entries are immutable (`FdInfo` objects are shared between the parent's
 * and the child's table after fork and between dup'ed slots), so inheriting
 * a table copies references, never entries. Each table is bounded: past
 * `maxFds` the oldest-inserted slot is forgotten (FIFO ≈ age), which loses
 * the name of a long-lived fd rather than growing without limit.
 *
 * fcntl(F_DUPFD / F_DUPFD_CLOEXEC / F_SETFD) is not captured by the probe
 * today, so an fd duplicated that way is unknown here (its fields are
 * missing, never guessed) and a later FD_CLOEXEC change is not seen.
 */

/** Falco's fd.type values for the kinds of fd this sensor can tell apart. */
export type FdType =
  | 'file'
  | 'directory'
  | 'ipv4'
  | 'ipv6'
  | 'unix'
  | 'pipe'
  | 'event'
  | 'signalfd'
  | 'eventpoll'
  | 'inotify'
  | 'timerfd'
  | 'netlink'
  | 'bpf'
  | 'userfaultfd'
  | 'io_uring'
  | 'memfd'
  | 'other';

/** fd.typechar for each fd.type (libsinsp's letters). */
export const FD_TYPECHAR: Readonly<Record<FdType, string>> = {
  file: 'f',
  directory: 'd',
  ipv4: '4',
  ipv6: '6',
  unix: 'u',
  pipe: 'p',
  event: 'e',
  signalfd: 's',
  eventpoll: 'l',
  inotify: 'i',
  timerfd: 't',
  netlink: 'n',
  bpf: 'b',
  userfaultfd: 'u',
  io_uring: 'r',
  memfd: 'm',
  other: 'o',
};

/** The socket endpoints of an fd; addresses as text, ports in host order. */
export interface SocketEnds {
  /** 6 tcp, 17 udp, other values raw; undefined when unknown (unix sockets, seeded fds). */
  readonly proto?: number;
  readonly localAddr: string;
  readonly localPort: number;
  readonly remoteAddr: string;
  readonly remotePort: number;
  /** True when the local end is the server (accepted or listening socket). */
  readonly localIsServer: boolean;
}

export interface FdInfo {
  readonly type: FdType;
  /** Falco fd.name: absolute path for files, `client->server` tuple for connected sockets, '' if unnamed. */
  readonly name: string;
  /** The path as the syscall passed it (files only), for fd.nameraw. */
  readonly nameraw?: string;
  /** Open flags (O_* bits) for files, when known. */
  readonly openFlags?: number;
  readonly cloexec: boolean;
  readonly socket?: SocketEnds;
  /** True for a socket once connect/accept gave it a peer. */
  readonly connected?: boolean;
}

export interface FdTableOptions {
  /** Slots kept per process; older ones are forgotten past this. Default 1024. */
  readonly maxFds?: number;
}

export const DEFAULT_MAX_FDS_PER_PROCESS = 1024;

export class FdTable {
  readonly #fds: Map<number, FdInfo>;
  readonly #max: number;
  /** Slots forgotten to stay within the bound (reported in state stats). */
  evicted = 0;

  constructor(opts: FdTableOptions = {}, from?: FdTable) {
    this.#max = opts.maxFds ?? DEFAULT_MAX_FDS_PER_PROCESS;
    this.#fds = from ? new Map(from.#fds) : new Map();
  }

  get size(): number {
    return this.#fds.size;
  }

  get(fd: number): FdInfo | undefined {
    return this.#fds.get(fd);
  }

  set(fd: number, info: FdInfo): void {
    // Re-inserting moves the slot to the young end, so the bound drops the oldest.
    this.#fds.delete(fd);
    this.#fds.set(fd, info);
    if (this.#fds.size > this.#max) {
      const oldest = this.#fds.keys().next().value;
      if (oldest !== undefined) this.#fds.delete(oldest);
      this.evicted++;
    }
  }

  close(fd: number): void {
    this.#fds.delete(fd);
  }

  /** dup/dup2/dup3: `newfd` refers to what `oldfd` refers to; close-on-exec is per slot. */
  dup(oldfd: number, newfd: number, cloexec: boolean): void {
    const info = this.#fds.get(oldfd);
    if (!info) {
      // Unknown source: whatever newfd was is closed by dup2/dup3 and its new identity is unknown.
      this.#fds.delete(newfd);
      return;
    }
    this.set(newfd, info.cloexec === cloexec ? info : { ...info, cloexec });
  }

  /** A forked child's table: the same entries (shared, immutable), its own slots. */
  fork(): FdTable {
    return new FdTable({ maxFds: this.#max }, this);
  }

  /** exec: close-on-exec slots are closed. */
  exec(): void {
    for (const [fd, info] of this.#fds) if (info.cloexec) this.#fds.delete(fd);
  }

  entries(): IterableIterator<[number, FdInfo]> {
    return this.#fds.entries();
  }
}
