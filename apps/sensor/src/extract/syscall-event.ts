/**
 * What an event source hands the rules engine (live probe or capture file
 * alike): a raw syscall record plus the process entry it was applied to, and
 * lazily computed per-event views (Falco parameters, the file or socket the
 * syscall is about). Nothing is copied from the tables: views read them when
 * a field asks, so an event must be consumed before the next is applied.
 */
import type { RawEvent } from '@peregrine/native';
import type { ContainerInfo } from '../containers/index.ts';
import { FD_TYPECHAR, type FdInfo, type FdType, type SocketEnds } from '../state/fd-table.ts';
import { resolvePath } from '../state/paths.ts';
import type { ProcFacts } from '../state/proc-facts.ts';
import type { ProcessInfo, ProcessTable } from '../state/process-table.ts';
import type { NameLookup } from '../state/user-names.ts';
import { falcoArgs, tupleText, type ArgValue, type NameMaps } from './falco-args.ts';

/** What the extractor needs of the container layer (H6's ContainerRegistry satisfies it). */
export interface ContainerLookup {
  idForCgroup(cgroupPath: string): string;
  /** Never blocks: what is known now, or undefined while a lookup is under way. */
  info(id: string): ContainerInfo | undefined;
}

export interface SyscallContext {
  readonly hostname: string;
  readonly processes: ProcessTable;
  /** Unix epoch ns of CLOCK_BOOTTIME zero on the machine the events come from. */
  readonly bootEpochNs: bigint;
  readonly names: NameLookup;
  readonly containers: ContainerLookup;
  /** Live machines only: facts the probe lacks, read from /proc on demand. Captures have none. */
  readonly procFacts?: ProcFacts;
}

export interface FdView {
  readonly num?: number;
  /** Falco fd.name: absolute path, or client->server tuple for sockets; undefined when unknown. */
  readonly name?: string;
  readonly nameraw?: string;
  readonly type?: FdType;
  readonly typechar?: string;
  /** A file or directory (fd.directory / fd.filename apply). */
  readonly isFile: boolean;
  readonly socket?: SocketEnds;
  readonly connected?: boolean;
  /** This event changed the fd's name (connect gives it its tuple). */
  readonly nameChanged: boolean;
}

const OPENS = new Set(['open', 'openat', 'openat2', 'creat']);
const FD_ARG0 = new Set([
  'fchmod', 'finit_module', 'close', 'listen', 'connect', 'sendto', 'recvfrom', 'sendmsg', 'recvmsg', 'setns', 'dup', 'dup2', 'dup3',
]);
const NEW_FD = new Set(['socket', 'bpf', 'userfaultfd']);

function fromInfo(num: number | undefined, info: FdInfo, nameChanged = false): FdView {
  return {
    num,
    name: info.name,
    nameraw: info.nameraw,
    type: info.type,
    typechar: FD_TYPECHAR[info.type],
    isFile: info.type === 'file' || info.type === 'directory' || info.type === 'memfd',
    socket: info.socket,
    connected: info.connected,
    nameChanged,
  };
}

export class SyscallEvent {
  #args: Record<string, ArgValue | undefined> | undefined;
  #fd: FdView | null | undefined;
  #containerId: string | undefined;

  constructor(
    readonly raw: RawEvent,
    readonly num: number,
    readonly proc: ProcessInfo,
    readonly ctx: SyscallContext,
  ) {}

  get epochNs(): bigint {
    return this.ctx.bootEpochNs + BigInt(Math.round(this.raw.tsNs));
  }

  /** container.id of this event's process (`host` outside containers); cached on the process. */
  get containerId(): string {
    return (this.#containerId ??= containerIdOf(this.proc, this.ctx));
  }

  get container(): ContainerInfo | undefined {
    return this.ctx.containers.info(this.containerId);
  }

  /** Names resolved in this process's own root. */
  get names(): NameMaps {
    const ctx = this.ctx;
    const p = this.proc;
    const id = this.containerId;
    return {
      userName: (uid) => ctx.names.userName(p, id, uid),
      groupName: (gid) => ctx.names.groupName(p, id, gid),
    };
  }

  /** Falco's parameters of this exit event. */
  get args(): Record<string, ArgValue | undefined> {
    if (this.#args === undefined) {
      const t = this.raw.type;
      const exec = (t === 'execve' || t === 'execveat') && this.raw.res >= 0;
      const view = exec ? { ...this.proc, exeFlags: exeFlags(this) } : this.proc;
      this.#args = falcoArgs(this.raw, this.names, view);
    }
    return this.#args;
  }

  /** The file or socket the syscall acted on, as Falco's fd.* fields see it. */
  get fd(): FdView | undefined {
    if (this.#fd === undefined) this.#fd = this.#computeFd() ?? null;
    return this.#fd ?? undefined;
  }

  /** The path a path-taking syscall is about, resolved against dirfd/cwd. */
  get resolvedPath(): string | undefined {
    const r = this.raw;
    if (r.type === 'symlink' || r.type === 'symlinkat') return r.path1 !== undefined ? resolvePath(r.path1, r.base1) : undefined;
    if (r.path0 === undefined) return undefined;
    return resolvePath(r.path0, r.base0);
  }

  #computeFd(): FdView | undefined {
    const r = this.raw;
    const t = r.type;
    const fds = this.proc.fds;
    if (r.tuple || r.sockaddr) {
      const accepted = t === 'accept' || t === 'accept4';
      const num = accepted ? r.res : r.args[0] | 0;
      const info = num >= 0 ? fds.get(num) : undefined;
      // Which end is the server: the table knows (accepted/listening); else guess from the syscall.
      const localIsServer = info?.socket?.localIsServer ?? (accepted || t === 'listen' || t === 'recvfrom' || t === 'recvmsg');
      const name = tupleText(r.tuple, r.sockaddr, !localIsServer);
      const fam = r.tuple?.family ?? r.sockaddr?.family;
      const type: FdType = fam === 'ipv4' || fam === 'ipv6' || fam === 'unix' ? fam : info?.type ?? 'other';
      return {
        num,
        name: name !== '' ? name : info?.name,
        type,
        typechar: FD_TYPECHAR[type],
        isFile: false,
        socket: eventEnds(r, localIsServer) ?? info?.socket,
        connected: info?.connected ?? (accepted && r.res >= 0),
        nameChanged: t === 'connect' && r.res === 0,
      };
    }
    const path = this.resolvedPath;
    if (path !== undefined) {
      const open = OPENS.has(t);
      const info = open && r.res >= 0 ? fds.get(r.res) : undefined;
      if (info) return fromInfo(r.res, info);
      const flags = t === 'openat2' ? (r.openHow?.flags ?? 0) : t === 'open' ? r.args[1] : t === 'openat' ? r.args[2] : 0;
      const dir = (flags & 0x10000) !== 0 || t === 'mkdir' || t === 'mkdirat' || t === 'rmdir';
      const raw = t === 'symlink' || t === 'symlinkat' ? r.path1 : r.path0;
      const type: FdType = dir ? 'directory' : 'file';
      return { num: open ? r.res : undefined, name: path, nameraw: raw, type, typechar: FD_TYPECHAR[type], isFile: true, nameChanged: false };
    }
    if (NEW_FD.has(t) && r.res >= 0) {
      const info = fds.get(r.res);
      return info ? fromInfo(r.res, info) : { num: r.res, isFile: false, nameChanged: false };
    }
    if (r.fdPath !== undefined) {
      const num = r.args[0] | 0;
      return { num, name: r.fdPath, nameraw: r.fdPath, type: 'file', typechar: 'f', isFile: true, nameChanged: false };
    }
    if (FD_ARG0.has(t)) {
      const num = r.args[0] | 0;
      const info = fds.get(num);
      return info ? fromInfo(num, info) : { num, isFile: false, nameChanged: false };
    }
    return undefined;
  }
}

/** The socket ends an event's own tuple gives (more current than the table for sendto/recvfrom). */
function eventEnds(r: RawEvent, localIsServer: boolean): SocketEnds | undefined {
  const t = r.tuple;
  const sa = r.sockaddr;
  if (!t && !sa) return undefined;
  if (t && t.family !== 'ipv4' && t.family !== 'ipv6') return undefined;
  if (!t && sa && sa.family !== 'ipv4' && sa.family !== 'ipv6') return undefined;
  let remoteAddr = t?.remoteAddr ?? '';
  let remotePort = t?.remotePort ?? 0;
  if (sa && (remotePort === 0 || remoteAddr === '0.0.0.0' || remoteAddr === '::')) {
    remoteAddr = sa.addr;
    remotePort = sa.port;
  }
  return { proto: t?.proto, localAddr: t?.localAddr ?? '', localPort: t?.localPort ?? 0, remoteAddr, remotePort, localIsServer };
}

function containerIdOf(p: ProcessInfo, ctx: SyscallContext): string {
  if (p.containerId !== undefined) return p.containerId;
  let cgroup = p.cgroup;
  if (cgroup === undefined && ctx.procFacts) cgroup = ctx.procFacts.cgroupPath(p);
  const id = cgroup === undefined ? 'host' : ctx.containers.idForCgroup(cgroup);
  // Cache only what a cgroup told us; a process without one may still reveal it later.
  if (cgroup !== undefined) p.containerId = id;
  return id;
}

/** libscap's execve exit `flags` from what can be known about the image. */
function exeFlags(e: SyscallEvent): number | undefined {
  // The kernel's flags at exec (layout v2 records) are exact; /proc is the fallback for v1 records.
  if (e.proc.exeFlags !== undefined) return e.proc.exeFlags;
  const f = e.ctx.procFacts;
  if (!f) return undefined;
  const p = e.proc;
  const writable = f.exeWritable(p);
  const upper = f.exeUpperLayer(p, e.containerId);
  const memfd = f.exeFromMemfd(p);
  if (writable === undefined && upper === undefined && memfd === undefined) return undefined;
  let flags = 0;
  if (writable) flags |= 1;
  if (upper === true) flags |= 2;
  if (memfd) flags |= 4;
  if (upper === false && e.containerId !== 'host') flags |= 8;
  return flags;
}
