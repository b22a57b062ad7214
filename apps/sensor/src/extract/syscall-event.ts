/**
 * What an event source hands the rules engine (live probe or capture file
 * alike): a raw syscall record plus the process state it was applied to, and
 * lazily computed per-event views (Falco parameters, the file or socket the
 * syscall is about).
 */
import type { RawEvent } from '@peregrine/native';
import { falcoArgs, tupleText, type ArgValue, type NameMaps } from './falco-args.ts';
import { resolvePath } from '../state/paths.ts';
import type { ProcessInfo, ProcessTable } from '../state/process-table.ts';

export interface SyscallContext extends NameMaps {
  readonly hostname: string;
  readonly processes: ProcessTable;
  /** Unix epoch ns of CLOCK_BOOTTIME zero on the captured machine. */
  readonly bootEpochNs: bigint;
}

export interface FdView {
  readonly num?: number;
  /** Falco fd.name: absolute path, or client->server tuple for sockets. */
  readonly name: string;
  readonly nameraw?: string;
  /** 'f' file, 'd' directory, '4' ipv4, '6' ipv6, 'u' unix. */
  readonly typechar: string;
  readonly type: string;
  readonly isFile: boolean;
}

const OPENS = new Set(['open', 'openat', 'openat2', 'creat']);
const FD_ARG0 = new Set(['fchmod', 'finit_module', 'close', 'listen', 'connect', 'sendto', 'recvfrom', 'sendmsg', 'recvmsg', 'setns', 'dup', 'dup2', 'dup3']);

export class SyscallEvent {
  #args: Record<string, ArgValue | undefined> | undefined;
  #fd: FdView | null | undefined;

  constructor(
    readonly raw: RawEvent,
    readonly num: number,
    readonly proc: ProcessInfo,
    readonly ctx: SyscallContext,
  ) {}

  get epochNs(): bigint {
    return this.ctx.bootEpochNs + BigInt(Math.round(this.raw.tsNs));
  }

  /** Falco's parameters of this exit event. */
  get args(): Record<string, ArgValue | undefined> {
    return (this.#args ??= falcoArgs(this.raw, this.ctx, this.proc));
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
    if (r.tuple || r.sockaddr) {
      const localIsClient = !(t === 'accept' || t === 'accept4' || t === 'recvfrom' || t === 'recvmsg' || t === 'listen');
      const name = tupleText(r.tuple, r.sockaddr, localIsClient);
      const fam = r.tuple?.family ?? r.sockaddr?.family;
      const typechar = fam === 'ipv4' ? '4' : fam === 'ipv6' ? '6' : fam === 'unix' ? 'u' : 'o';
      const type = fam === 'ipv4' ? 'ipv4' : fam === 'ipv6' ? 'ipv6' : fam === 'unix' ? 'unix' : 'other';
      const num = t === 'accept' || t === 'accept4' ? r.res : r.args[0] | 0;
      return { num, name, typechar, type, isFile: false };
    }
    const path = this.resolvedPath;
    if (path !== undefined) {
      const flags = t === 'openat2' ? (r.openHow?.flags ?? 0) : t === 'open' ? r.args[1] : t === 'openat' ? r.args[2] : 0;
      const dir = (flags & 0x10000) !== 0 || t === 'mkdir' || t === 'mkdirat' || t === 'rmdir';
      const num = OPENS.has(t) ? r.res : undefined;
      const raw = t === 'symlink' || t === 'symlinkat' ? r.path1 : r.path0;
      return { num, name: path, nameraw: raw, typechar: dir ? 'd' : 'f', type: dir ? 'directory' : 'file', isFile: true };
    }
    if (r.fdPath !== undefined) {
      return { num: r.args[0] | 0, name: r.fdPath, nameraw: r.fdPath, typechar: 'f', type: 'file', isFile: true };
    }
    if (FD_ARG0.has(t)) return { num: r.args[0] | 0, name: '', typechar: 'o', type: 'other', isFile: false };
    return undefined;
  }
}
