/**
 * Process state rebuilt from raw events, the way Falco's thread table is:
 * fork copies the parent (its fd table included), exec replaces the image
 * (closing close-on-exec fds), exit removes the entry. Processes that started
 * before the sensor are seeded from /proc (or a capture's snapshot); ones
 * never seen at all are known only by what their syscall headers carry.
 *
 * The table is bounded: past `maxProcesses` the least recently active
 * entries are dropped (a missed exit, e.g. under drops, cannot leak), and
 * `purgeIdle` drops entries idle for a while whose process is gone.
 */
import type { ProcessSnapshot, RawEvent } from '@peregrine/native';
import { FdTable, type FdInfo, type FdTableOptions, type FdType } from './fd-table.ts';
import { resolvePath } from './paths.ts';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Task comm (Falco proc.name). */
  name: string;
  /** argv[0] (Falco proc.exe); undefined when the exec was not captured. */
  exe?: string;
  /** Absolute path of the executed file (Falco proc.exepath). */
  exepath?: string;
  args: string[];
  cwd?: string;
  env?: string[];
  uid: number;
  gid: number;
  loginuid?: number;
  tty?: number;
  pgid?: number;
  sid?: number;
  exeIno?: number;
  exeDev?: number;
  /** Seconds since the epoch (the probe reads the inode's seconds only). */
  exeCtimeSec?: number;
  exeMtimeSec?: number;
  /** Effective capabilities at exec (bit n = capability n). */
  capEffective?: bigint;
  /** Permitted and inheritable capabilities at exec (layout v2 records). */
  capPermitted?: bigint;
  capInheritable?: bigint;
  /** Falco's execve `flags` from the kernel at exec (1 writable, 2 upper layer, 4 from memfd, 8 lower layer); layout v2 records. */
  exeFlags?: number;
  cgroupId: bigint;
  /** cgroup path (seeded) or leaf name (exec record), for the container id. */
  cgroup?: string;
  /** Container id derived from `cgroup`, cached by whoever computes it first. */
  containerId?: string;
  /** CLOCK_BOOTTIME ns when the process started (fork seen, or /proc starttime); for proc.duration. */
  startNs?: number;
  /** CLOCK_BOOTTIME ns of the last record of this process (bounding by activity). */
  lastSeenNs: number;
  /** True when this entry was built from an exec record or /proc, not guessed from a header. */
  fromExec: boolean;
  /** The process's fds (shared by its threads). */
  fds: FdTable;
  /** Facts read lazily from /proc when a field needs them (cached per exec). */
  procFacts?: Record<string, unknown>;
}

export interface ProcessTableOptions extends FdTableOptions {
  /** Entries kept; the least recently active are dropped past this. Default 65536. */
  readonly maxProcesses?: number;
}

export const DEFAULT_MAX_PROCESSES = 65536;

/** A seeded process: a /proc snapshot plus, when read live, its start time and fds. */
export interface SeedProcess extends ProcessSnapshot {
  readonly startNs?: number;
  readonly fds?: Iterable<readonly [number, FdInfo]>;
}

export interface ProcessTableStats {
  processes: number;
  fds: number;
  /** Entries dropped to stay within maxProcesses. */
  evictedProcesses: number;
  /** Entries dropped by purgeIdle (process gone without an exit record). */
  purgedProcesses: number;
  /** Fd slots forgotten to stay within maxFds. */
  evictedFds: number;
}

const O_CLOEXEC = 0x80000;
const O_DIRECTORY = 0x10000;
const O_TMPFILE = 0x400000 | O_DIRECTORY;
const SOCK_CLOEXEC = 0x80000;
const F_DUPFD = 0;
const F_SETFD = 2;
const F_DUPFD_CLOEXEC = 1030;
const FD_CLOEXEC = 1;
const MFD_CLOEXEC = 1;
const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const AF_NETLINK = 16;

function socketType(domain: number): FdType {
  return domain === AF_INET ? 'ipv4' : domain === AF_INET6 ? 'ipv6' : domain === AF_UNIX ? 'unix' : domain === AF_NETLINK ? 'netlink' : 'other';
}

function openFlagsOf(ev: RawEvent): number {
  switch (ev.type) {
    case 'open': return ev.args[1];
    case 'openat': return ev.args[2];
    case 'openat2': return ev.openHow?.flags ?? 0;
    case 'creat': return 0x241; // O_CREAT|O_WRONLY|O_TRUNC
    default: return 0;
  }
}

/**
 * The cgroup path of an exec record: layout v2 carries the full path (the cpu
 * controller's v1 hierarchy on hybrid machines, else v2). A v1 record names
 * only the v2 leaf: keep the full path we have when it ends there.
 */
function execCgroup(ev: RawEvent, old: ProcessInfo | undefined): string | undefined {
  if (ev.cgroupPath !== undefined && ev.cgroupPath !== '') return ev.cgroupPath;
  return ev.cgroup === undefined || old?.cgroup?.endsWith(`/${ev.cgroup}`) ? old?.cgroup ?? ev.cgroup : ev.cgroup;
}

export class ProcessTable {
  readonly #procs = new Map<number, ProcessInfo>();
  readonly #max: number;
  readonly #fdOpts: FdTableOptions;
  /** A close applies after its own event was evaluated (its fd.* fields describe the closed fd). */
  #pendingClose: { fds: FdTable; fd: number } | undefined;
  #evictedProcesses = 0;
  #purgedProcesses = 0;
  #evictedFdsOfGone = 0;

  constructor(opts: ProcessTableOptions = {}) {
    this.#max = opts.maxProcesses ?? DEFAULT_MAX_PROCESSES;
    this.#fdOpts = { maxFds: opts.maxFds };
  }

  get size(): number {
    return this.#procs.size;
  }

  stats(): ProcessTableStats {
    let fds = 0;
    let evictedFds = this.#evictedFdsOfGone;
    for (const p of this.#procs.values()) {
      fds += p.fds.size;
      evictedFds += p.fds.evicted;
    }
    return { processes: this.#procs.size, fds, evictedProcesses: this.#evictedProcesses, purgedProcesses: this.#purgedProcesses, evictedFds };
  }

  /** Adds a process known from a /proc snapshot (kept unless an event already described it). */
  seed(p: SeedProcess): void {
    if (this.#procs.has(p.pid)) return;
    const fds = new FdTable(this.#fdOpts);
    for (const [n, info] of p.fds ?? []) fds.set(n, info);
    this.#insert({
      pid: p.pid,
      ppid: p.ppid,
      name: p.comm,
      exe: p.argv[0],
      exepath: p.exepath,
      args: p.argv.slice(1),
      cwd: p.cwd,
      uid: p.uid,
      gid: p.gid,
      loginuid: p.loginuid,
      tty: p.tty,
      pgid: p.pgid,
      sid: p.sid,
      cgroupId: 0n,
      cgroup: p.cgroup,
      startNs: p.startNs,
      lastSeenNs: p.startNs ?? 0,
      fromExec: true,
      fds,
    });
  }

  get(pid: number): ProcessInfo | undefined {
    return this.#procs.get(pid);
  }

  values(): IterableIterator<ProcessInfo> {
    return this.#procs.values();
  }

  /** Applies one record; returns the process the record belongs to (after the update). */
  apply(ev: RawEvent): ProcessInfo {
    const pending = this.#pendingClose;
    if (pending) {
      pending.fds.close(pending.fd);
      this.#pendingClose = undefined;
    }
    switch (ev.kind) {
      case 'fork': {
        if (ev.thread) return this.#touch(ev);
        const parent = this.#procs.get(ev.args[1]);
        const child: ProcessInfo = parent
          ? { ...parent, args: parent.args, fds: parent.fds.fork(), procFacts: undefined }
          : this.#fromHeader(ev);
        child.pid = ev.pid;
        child.ppid = ev.ppid;
        child.name = ev.comm;
        child.uid = ev.uid;
        child.gid = ev.gid;
        child.startNs = ev.tsNs;
        child.lastSeenNs = ev.tsNs;
        this.#insert(child);
        return child;
      }
      case 'exec': {
        const argv = ev.argv ?? [];
        const cwd = ev.cwd;
        const old = this.#procs.get(ev.pid);
        const fds = old?.fds ?? new FdTable(this.#fdOpts);
        fds.exec();
        const x = ev.exec;
        const info: ProcessInfo = {
          pid: ev.pid,
          ppid: ev.ppid,
          name: ev.comm,
          exe: argv[0] ?? ev.filename,
          exepath: ev.filename !== undefined ? resolvePath(ev.filename, cwd) : undefined,
          args: argv.slice(1),
          cwd,
          env: ev.env ? [...ev.env] : undefined,
          uid: ev.uid,
          gid: ev.gid,
          loginuid: x?.loginuid,
          tty: x?.tty,
          pgid: x?.pgid,
          sid: x?.sid,
          exeIno: x?.exeIno,
          exeDev: x?.exeDev,
          exeCtimeSec: x?.exeCtimeSec,
          exeMtimeSec: x?.exeMtimeSec,
          capEffective: x?.capEffective,
          capPermitted: x?.capPermitted,
          capInheritable: x?.capInheritable,
          exeFlags: x?.exeFlags,
          cgroupId: ev.cgroupId,
          cgroup: execCgroup(ev, old),
          startNs: old?.startNs ?? ev.tsNs,
          lastSeenNs: ev.tsNs,
          fromExec: true,
          fds,
        };
        this.#insert(info);
        return info;
      }
      case 'exit': {
        const p = this.#touch(ev);
        if (!ev.thread) this.#remove(ev.pid);
        return p;
      }
      default: {
        const p = this.#touch(ev);
        if (ev.res >= 0 || ev.type === 'connect') this.#applyFds(ev, p.fds);
        // chdir/fchdir records carry the new absolute cwd (layout v2).
        if ((ev.type === 'chdir' || ev.type === 'fchdir') && ev.res === 0 && ev.cwd !== undefined) p.cwd = ev.cwd;
        return p;
      }
    }
  }

  /** The fd-table effect of a syscall record (its process's table). */
  #applyFds(ev: RawEvent, fds: FdTable): void {
    const res = ev.res;
    switch (ev.type) {
      case 'open':
      case 'openat':
      case 'openat2':
      case 'creat': {
        if (ev.path0 === undefined) return;
        const flags = openFlagsOf(ev);
        const dir = (flags & O_TMPFILE) === O_DIRECTORY;
        fds.set(res, {
          type: dir ? 'directory' : 'file',
          name: resolvePath(ev.path0, ev.base0),
          nameraw: ev.path0,
          openFlags: flags,
          cloexec: (flags & O_CLOEXEC) !== 0,
        });
        return;
      }
      case 'socket':
        fds.set(res, { type: socketType(ev.args[0]), name: '', cloexec: (ev.args[1] & SOCK_CLOEXEC) !== 0 });
        return;
      case 'accept':
      case 'accept4': {
        const t = ev.tuple;
        const type: FdType = t ? (t.family === 'other' ? 'other' : t.family) : 'other';
        const ends = t && (t.family === 'ipv4' || t.family === 'ipv6')
          ? { proto: t.proto, localAddr: t.localAddr, localPort: t.localPort, remoteAddr: t.remoteAddr, remotePort: t.remotePort, localIsServer: true }
          : undefined;
        fds.set(res, {
          type,
          name: ends ? `${hostPort(ends.remoteAddr, ends.remotePort, type)}->${hostPort(ends.localAddr, ends.localPort, type)}` : unixName(ev),
          cloexec: ev.type === 'accept4' && (ev.args[3] & SOCK_CLOEXEC) !== 0,
          socket: ends,
          connected: true,
        });
        return;
      }
      case 'connect': {
        // EINPROGRESS (non-blocking connect) leaves a socket that is connecting: Falco names it too.
        if (res < 0 && res !== -115) return;
        const fd = ev.args[0] | 0;
        const old = fds.get(fd);
        const t = ev.tuple;
        const sa = ev.sockaddr;
        let ends: { proto?: number; localAddr: string; localPort: number; remoteAddr: string; remotePort: number; localIsServer: boolean } | undefined;
        if (t && (t.family === 'ipv4' || t.family === 'ipv6')) {
          let remoteAddr = t.remoteAddr;
          let remotePort = t.remotePort;
          if (sa && (remotePort === 0 || remoteAddr === '0.0.0.0' || remoteAddr === '::')) {
            remoteAddr = sa.addr;
            remotePort = sa.port;
          }
          ends = { proto: t.proto, localAddr: t.localAddr, localPort: t.localPort, remoteAddr, remotePort, localIsServer: false };
        }
        const type: FdType = t?.family === 'ipv4' || t?.family === 'ipv6' || t?.family === 'unix' ? t.family : sa?.family === 'unix' ? 'unix' : old?.type ?? 'other';
        fds.set(fd, {
          type,
          name: ends ? `${hostPort(ends.localAddr, ends.localPort, type)}->${hostPort(ends.remoteAddr, ends.remotePort, type)}` : sa?.family === 'unix' ? sa.addr : old?.name ?? '',
          cloexec: old?.cloexec ?? false,
          socket: ends ?? old?.socket,
          connected: res === 0,
        });
        return;
      }
      case 'listen': {
        const fd = ev.args[0] | 0;
        const old = fds.get(fd);
        const t = ev.tuple;
        if (old && t && (t.family === 'ipv4' || t.family === 'ipv6')) {
          fds.set(fd, { ...old, socket: { proto: t.proto, localAddr: t.localAddr, localPort: t.localPort, remoteAddr: t.remoteAddr, remotePort: t.remotePort, localIsServer: true } });
        }
        return;
      }
      case 'dup':
        fds.dup(ev.args[0] | 0, res, false);
        return;
      case 'dup2':
        fds.dup(ev.args[0] | 0, res, false);
        return;
      case 'dup3':
        fds.dup(ev.args[0] | 0, res, (ev.args[2] & O_CLOEXEC) !== 0);
        return;
      case 'fcntl': {
        // The probe only records the commands that change the table.
        const fd = ev.args[0] | 0;
        const cmd = ev.args[1] | 0;
        if (cmd === F_DUPFD || cmd === F_DUPFD_CLOEXEC) fds.dup(fd, res, cmd === F_DUPFD_CLOEXEC);
        else if (cmd === F_SETFD) {
          const old = fds.get(fd);
          const cloexec = (ev.args[2] & FD_CLOEXEC) !== 0;
          if (old && old.cloexec !== cloexec) fds.set(fd, { ...old, cloexec });
        }
        return;
      }
      case 'pipe':
      case 'pipe2':
      case 'socketpair': {
        const pair = ev.fds;
        if (!pair) return;
        const cloexec = ev.type === 'pipe2' ? (ev.args[1] & O_CLOEXEC) !== 0 : ev.type === 'socketpair' ? (ev.args[1] & SOCK_CLOEXEC) !== 0 : false;
        const type: FdType = ev.type === 'socketpair' ? socketType(ev.args[0]) : 'pipe';
        fds.set(pair.fd0, { type, name: '', cloexec });
        fds.set(pair.fd1, { type, name: '', cloexec });
        return;
      }
      case 'memfd_create':
        // libsinsp names a memfd `memfd:<name>` (as /proc/<pid>/fd shows it, without " (deleted)").
        fds.set(res, { type: 'memfd', name: `memfd:${ev.str ?? ''}`, cloexec: (ev.args[1] & MFD_CLOEXEC) !== 0 });
        return;
      case 'bpf':
        fds.set(res, { type: 'bpf', name: '', cloexec: true }); // the kernel makes every bpf fd O_CLOEXEC
        return;
      case 'userfaultfd':
        fds.set(res, { type: 'userfaultfd', name: '', cloexec: (ev.args[0] & O_CLOEXEC) !== 0 });
        return;
      case 'close':
        this.#pendingClose = { fds, fd: ev.args[0] | 0 };
        return;
      default:
        return;
    }
  }

  #fromHeader(ev: RawEvent): ProcessInfo {
    return {
      pid: ev.pid,
      ppid: ev.ppid,
      name: ev.comm,
      args: [],
      uid: ev.uid,
      gid: ev.gid,
      cgroupId: ev.cgroupId,
      lastSeenNs: ev.tsNs,
      fromExec: false,
      fds: new FdTable(this.#fdOpts),
    };
  }

  /** Headers are authoritative for identity that can change without exec (setuid, reparenting, prctl). */
  #touch(ev: RawEvent): ProcessInfo {
    let p = this.#procs.get(ev.pid);
    if (!p) {
      p = this.#fromHeader(ev);
      this.#insert(p);
      return p;
    }
    p.ppid = ev.ppid;
    p.uid = ev.uid;
    p.gid = ev.gid;
    p.name = ev.comm;
    p.lastSeenNs = ev.tsNs;
    return p;
  }

  #insert(p: ProcessInfo): void {
    this.#remove(p.pid);
    this.#procs.set(p.pid, p);
    if (this.#procs.size > this.#max) this.#evictLeastActive();
  }

  #remove(pid: number): void {
    const old = this.#procs.get(pid);
    if (!old) return;
    this.#evictedFdsOfGone += old.fds.evicted;
    this.#procs.delete(pid);
  }

  /** Drops the least recently active tenth (one sort per many inserts, not per event). */
  #evictLeastActive(): void {
    const all = [...this.#procs.values()].sort((a, b) => a.lastSeenNs - b.lastSeenNs);
    const drop = Math.max(1, Math.floor(this.#max / 10));
    for (let i = 0; i < drop && i < all.length; i++) {
      this.#remove(all[i].pid);
      this.#evictedProcesses++;
    }
  }

  /**
   * Drops entries idle since before `idleBeforeNs` whose process no longer
   * exists (`isAlive`, e.g. /proc/<pid> exists): exits the probe missed.
   */
  purgeIdle(idleBeforeNs: number, isAlive: (pid: number) => boolean): number {
    let n = 0;
    for (const p of [...this.#procs.values()]) {
      if (p.lastSeenNs < idleBeforeNs && !isAlive(p.pid)) {
        this.#remove(p.pid);
        n++;
      }
    }
    this.#purgedProcesses += n;
    return n;
  }

  /** Ancestors, parent first, stopping at unknown processes or after `max`. */
  ancestors(p: ProcessInfo, max = 16): ProcessInfo[] {
    const out: ProcessInfo[] = [];
    let cur = p;
    for (let i = 0; i < max; i++) {
      if (cur.ppid === 0 || cur.ppid === cur.pid) break;
      const parent = this.#procs.get(cur.ppid);
      if (!parent) break;
      out.push(parent);
      cur = parent;
    }
    return out;
  }

  /** The `level`-th ancestor (1 = parent), without building the chain. */
  ancestor(p: ProcessInfo, level: number): ProcessInfo | undefined {
    let cur: ProcessInfo | undefined = p;
    for (let i = 0; i < level && cur; i++) {
      if (cur.ppid === 0 || cur.ppid === cur.pid) return undefined;
      cur = this.#procs.get(cur.ppid);
    }
    return cur;
  }
}

/** One end of a tuple as Falco's fd.name prints it (IPv6 in brackets, as the event tuple text does). */
function hostPort(addr: string, port: number, type: FdType): string {
  return type === 'ipv6' ? `[${addr}]:${port}` : `${addr}:${port}`;
}

function unixName(ev: RawEvent): string {
  return ev.sockaddr?.family === 'unix' ? ev.sockaddr.addr : '';
}
