/**
 * Falco's exit-event parameters (names from libscap's event table, see
 * shared/fixtures/falco-rules/event_params_for_rule_evttypes.json) computed
 * from a raw record, each as a raw value (`evt.rawarg.*`) and as Falco renders
 * it (`evt.arg.*`): flags by name, uids by user name, paths resolved.
 */
import type { RawEvent, SockAddr, SockTuple } from '@peregrine/native';
import { resolvePath } from '../state/paths.ts';

export interface ArgValue {
  readonly raw: string | number;
  readonly text: string;
}

/** What a successful exec's parameters need from process state. */
export interface ExecView {
  readonly exe?: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly tty?: number;
  readonly loginuid?: number;
  readonly exepath?: string;
  /** libscap's execve `flags` (EXE_WRITABLE 1, EXE_UPPER_LAYER 2, EXE_FROM_MEMFD 4, EXE_LOWER_LAYER 8), when known. */
  readonly exeFlags?: number;
}

/** Id → name resolution for rendering uid/gid parameters (the process's own root). */
export interface NameMaps {
  userName(uid: number): string | undefined;
  groupName(gid: number): string | undefined;
}

const EXE_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [1, 'EXE_WRITABLE'],
  [2, 'EXE_UPPER_LAYER'],
  [4, 'EXE_FROM_MEMFD'],
  [8, 'EXE_LOWER_LAYER'],
];

const ERRNO: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 6: 'ENXIO', 7: 'E2BIG', 8: 'ENOEXEC', 9: 'EBADF',
  10: 'ECHILD', 11: 'EAGAIN', 12: 'ENOMEM', 13: 'EACCES', 14: 'EFAULT', 16: 'EBUSY', 17: 'EEXIST', 18: 'EXDEV',
  19: 'ENODEV', 20: 'ENOTDIR', 21: 'EISDIR', 22: 'EINVAL', 23: 'ENFILE', 24: 'EMFILE', 25: 'ENOTTY', 26: 'ETXTBSY',
  27: 'EFBIG', 28: 'ENOSPC', 29: 'ESPIPE', 30: 'EROFS', 31: 'EMLINK', 32: 'EPIPE', 34: 'ERANGE', 36: 'ENAMETOOLONG',
  38: 'ENOSYS', 39: 'ENOTEMPTY', 40: 'ELOOP', 88: 'ENOTSOCK', 95: 'EOPNOTSUPP', 97: 'EAFNOSUPPORT', 98: 'EADDRINUSE',
  99: 'EADDRNOTAVAIL', 101: 'ENETUNREACH', 104: 'ECONNRESET', 106: 'EISCONN', 107: 'ENOTCONN', 110: 'ETIMEDOUT',
  111: 'ECONNREFUSED', 113: 'EHOSTUNREACH', 114: 'EALREADY', 115: 'EINPROGRESS',
};

/** Falco's evt.res: SUCCESS, or the errno name of a failure. */
export function errnoText(res: number): string {
  if (res >= 0) return 'SUCCESS';
  return ERRNO[-res] ?? `E${-res}`;
}

const OPEN_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [0x400000, 'O_TMPFILE'],
  [0x200000, 'O_PATH'],
  [0x80000, 'O_CLOEXEC'],
  [0x40000, 'O_NOATIME'],
  [0x20000, 'O_NOFOLLOW'],
  [0x10000, 'O_DIRECTORY'],
  [0x8000, 'O_LARGEFILE'],
  [0x4000, 'O_DIRECT'],
  [0x2000, 'O_ASYNC'],
  [0x100000, 'O_SYNC'],
  [0x1000, 'O_DSYNC'],
  [0x800, 'O_NONBLOCK'],
  [0x400, 'O_APPEND'],
  [0x200, 'O_TRUNC'],
  [0x100, 'O_NOCTTY'],
  [0x80, 'O_EXCL'],
  [0x40, 'O_CREAT'],
];

export function openFlagsText(flags: number): string {
  const names: string[] = [];
  for (const [bit, name] of OPEN_FLAGS) if ((flags & bit) === bit) names.push(name);
  const acc = flags & 3;
  names.push(acc === 1 ? 'O_WRONLY' : acc === 2 ? 'O_RDWR' : 'O_RDONLY');
  return names.join('|');
}

const PTRACE: Record<number, string> = {
  0: 'PTRACE_TRACEME', 1: 'PTRACE_PEEKTEXT', 2: 'PTRACE_PEEKDATA', 3: 'PTRACE_PEEKUSR', 4: 'PTRACE_POKETEXT',
  5: 'PTRACE_POKEDATA', 6: 'PTRACE_POKEUSR', 7: 'PTRACE_CONT', 8: 'PTRACE_KILL', 9: 'PTRACE_SINGLESTEP',
  12: 'PTRACE_GETREGS', 13: 'PTRACE_SETREGS', 14: 'PTRACE_GETFPREGS', 15: 'PTRACE_SETFPREGS', 16: 'PTRACE_ATTACH',
  17: 'PTRACE_DETACH', 24: 'PTRACE_SYSCALL', 0x4200: 'PTRACE_SETOPTIONS', 0x4201: 'PTRACE_GETEVENTMSG',
  0x4202: 'PTRACE_GETSIGINFO', 0x4203: 'PTRACE_SETSIGINFO', 0x4204: 'PTRACE_GETREGSET', 0x4205: 'PTRACE_SETREGSET',
  0x4206: 'PTRACE_SEIZE', 0x4207: 'PTRACE_INTERRUPT', 0x4208: 'PTRACE_LISTEN',
};

const NS_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [0x20000, 'CLONE_NEWNS'],
  [0x2000000, 'CLONE_NEWCGROUP'],
  [0x4000000, 'CLONE_NEWUTS'],
  [0x8000000, 'CLONE_NEWIPC'],
  [0x10000000, 'CLONE_NEWUSER'],
  [0x20000000, 'CLONE_NEWPID'],
  [0x40000000, 'CLONE_NEWNET'],
  [0x80, 'CLONE_NEWTIME'],
  [0x200, 'CLONE_FS'],
  [0x400, 'CLONE_FILES'],
];

function bitsText(v: number, table: ReadonlyArray<readonly [number, string]>): string {
  const names = table.filter(([bit]) => bit !== 0 && (v & bit) === bit).map(([, n]) => n);
  return names.length > 0 ? names.join('|') : String(v);
}

const AF: Record<number, string> = { 1: 'AF_UNIX', 2: 'AF_INET', 10: 'AF_INET6', 16: 'AF_NETLINK', 17: 'AF_PACKET' };

export function tupleText(t: SockTuple | undefined, addr: SockAddr | undefined, localIsClient: boolean): string {
  if (t && (t.family === 'ipv4' || t.family === 'ipv6')) {
    const fmt = (a: string, p: number): string => (t.family === 'ipv6' ? `[${a}]:${p}` : `${a}:${p}`);
    let remoteAddr = t.remoteAddr;
    let remotePort = t.remotePort;
    if (addr && (remotePort === 0 || remoteAddr === '0.0.0.0' || remoteAddr === '::')) {
      remoteAddr = addr.addr;
      remotePort = addr.port;
    }
    const local = fmt(t.localAddr, t.localPort);
    const remote = fmt(remoteAddr, remotePort);
    return localIsClient ? `${local}->${remote}` : `${remote}->${local}`;
  }
  if (addr?.family === 'unix' || t?.family === 'unix') return addr?.addr ?? '';
  if (addr) return addr.family === 'ipv6' ? `[${addr.addr}]:${addr.port}` : `${addr.addr}:${addr.port}`;
  return '';
}

const num = (n: number): ArgValue => ({ raw: n, text: String(n) });
const int = (n: number): ArgValue => num(n | 0);
const str = (s: string | undefined): ArgValue | undefined => (s === undefined ? undefined : { raw: s, text: s });
const errno = (res: number): ArgValue => ({ raw: res, text: res < 0 ? errnoText(res) : String(res) });
const fd = (n: number): ArgValue => num(n | 0);
const octal = (n: number): ArgValue => ({ raw: n, text: `0${(n >>> 0).toString(8)}` });
const path = (p: string | undefined, base: string | undefined): ArgValue | undefined =>
  p === undefined ? undefined : { raw: p, text: resolvePath(p, base) };

/** Every Falco parameter of the record's exit event that the record carries. */
export function falcoArgs(ev: RawEvent, names: NameMaps, proc?: ExecView): Record<string, ArgValue | undefined> {
  const a = ev.args;
  const res = ev.res;
  const uid = (u: number): ArgValue => ({ raw: u, text: names.userName(u) ?? String(u) });
  const tuple = (localIsClient: boolean): ArgValue | undefined => {
    const t = tupleText(ev.tuple, ev.sockaddr, localIsClient);
    return t === '' ? undefined : { raw: t, text: t };
  };
  const addr = ev.sockaddr ? str(ev.sockaddr.family === 'ipv6' ? `[${ev.sockaddr.addr}]:${ev.sockaddr.port}` : ev.sockaddr.family === 'unix' ? ev.sockaddr.addr : `${ev.sockaddr.addr}:${ev.sockaddr.port}`) : undefined;
  switch (ev.type) {
    case 'open':
      return { fd: fd(res), name: path(ev.path0, ev.base0), flags: { raw: a[1], text: openFlagsText(a[1]) }, mode: octal(a[2]) };
    case 'openat':
      return {
        fd: fd(res), dirfd: fd(a[0]), name: path(ev.path0, ev.base0),
        flags: { raw: a[2], text: openFlagsText(a[2]) }, mode: octal(a[3]),
      };
    case 'openat2': {
      const how = ev.openHow;
      return {
        fd: fd(res), dirfd: fd(a[0]), name: path(ev.path0, ev.base0),
        flags: how ? { raw: how.flags, text: openFlagsText(how.flags) } : undefined,
        mode: how ? octal(how.mode) : undefined, resolve: how ? num(how.resolve) : undefined,
      };
    }
    case 'creat':
      return { fd: fd(res), name: path(ev.path0, ev.base0), mode: octal(a[1]) };
    case 'socket':
      return { fd: fd(res), domain: { raw: a[0], text: AF[a[0]] ?? String(a[0]) }, type: num(a[1]), proto: num(a[2]) };
    case 'connect':
      return { res: errno(res), fd: fd(a[0]), tuple: tuple(true), addr };
    case 'listen':
      return { res: errno(res), fd: fd(a[0]), backlog: int(a[1]) };
    case 'sendto':
    case 'sendmsg':
      return { res: errno(res), fd: fd(a[0]), size: ev.type === 'sendto' ? num(a[2]) : undefined, tuple: tuple(true) };
    case 'recvfrom':
    case 'recvmsg':
      return { res: errno(res), fd: fd(a[0]), size: ev.type === 'recvfrom' ? num(a[2]) : undefined, tuple: tuple(false) };
    case 'accept':
    case 'accept4':
      return { fd: fd(res), tuple: tuple(false), flags: ev.type === 'accept4' ? int(a[3]) : undefined };
    case 'ptrace':
      return { res: errno(res), request: { raw: a[0], text: PTRACE[a[0]] ?? String(a[0]) }, pid: int(a[1]), addr: num(a[2]), data: num(a[3]) };
    case 'rename':
    case 'link':
      return { res: errno(res), oldpath: path(ev.path0, ev.base0), newpath: path(ev.path1, ev.base1) };
    case 'renameat':
    case 'renameat2':
      return {
        res: errno(res), olddirfd: fd(a[0]), oldpath: path(ev.path0, ev.base0), newdirfd: fd(a[2]),
        newpath: path(ev.path1, ev.base1), flags: ev.type === 'renameat2' ? num(a[4]) : undefined,
      };
    case 'linkat':
      return {
        res: errno(res), olddir: fd(a[0]), oldpath: path(ev.path0, ev.base0), newdir: fd(a[2]),
        newpath: path(ev.path1, ev.base1), flags: num(a[4]),
      };
    case 'symlink':
      return { res: errno(res), target: str(ev.path0), linkpath: path(ev.path1, ev.base1) };
    case 'symlinkat':
      return { res: errno(res), target: str(ev.path0), linkdirfd: fd(a[1]), linkpath: path(ev.path1, ev.base1) };
    case 'setuid':
      return { res: errno(res), uid: uid(a[0] >>> 0) };
    case 'setns':
      return { res: errno(res), fd: fd(a[0]), nstype: { raw: a[1], text: bitsText(a[1], NS_FLAGS) } };
    case 'unshare':
      return { res: errno(res), flags: { raw: a[0], text: bitsText(a[0], NS_FLAGS) } };
    case 'mkdir':
      return { res: errno(res), path: path(ev.path0, ev.base0), mode: octal(a[1]) };
    case 'mkdirat':
      return { res: errno(res), dirfd: fd(a[0]), path: path(ev.path0, ev.base0), mode: octal(a[2]) };
    case 'rmdir':
    case 'unlink':
      return { res: errno(res), path: path(ev.path0, ev.base0) };
    case 'unlinkat':
      return { res: errno(res), dirfd: fd(a[0]), name: path(ev.path0, ev.base0), flags: num(a[2]) };
    case 'chmod':
      return { res: errno(res), filename: path(ev.path0, ev.base0), mode: octal(a[1]) };
    case 'fchmodat':
      return { res: errno(res), dirfd: fd(a[0]), filename: path(ev.path0, ev.base0), mode: octal(a[2]) };
    case 'fchmod':
      return { res: errno(res), fd: fd(a[0]), mode: octal(a[1]) };
    case 'userfaultfd':
      return { res: errno(res), flags: num(a[0]) };
    case 'dup':
      return { res: fd(res), oldfd: fd(a[0]) };
    case 'dup2':
      return { res: fd(res), oldfd: fd(a[0]), newfd: fd(a[1]) };
    case 'dup3':
      return { res: fd(res), oldfd: fd(a[0]), newfd: fd(a[1]), flags: num(a[2]) };
    case 'bpf':
      return { fd: fd(res), cmd: num(a[0]) };
    case 'init_module':
      return { res: errno(res), length: num(a[1]), uargs: str(ev.str) };
    case 'finit_module':
      return { res: errno(res), fd: fd(a[0]), uargs: str(ev.str), flags: num(a[2]) };
    case 'close':
      return { res: errno(res), fd: fd(a[0]) };
    case 'execve':
    case 'execveat':
      if (res < 0 || !proc) return { res: errno(res), filename: path(ev.path0, ev.base0) };
      // A successful exec's parameters describe the new image (from the exec record).
      return {
        res: errno(res),
        exe: str(proc.exe),
        args: str(proc.args.join(' ')),
        tid: num(ev.tid),
        pid: num(ev.pid),
        ptid: num(ev.ppid),
        cwd: str(proc.cwd),
        comm: str(ev.comm),
        tty: proc.tty === undefined ? undefined : num(proc.tty),
        loginuid: proc.loginuid === undefined ? undefined : uid(proc.loginuid),
        uid: uid(ev.uid),
        gid: { raw: ev.gid, text: names.groupName(ev.gid) ?? String(ev.gid) },
        filename: str(proc.exepath),
        trusted_exepath: str(proc.exepath),
        flags: proc.exeFlags === undefined ? undefined : { raw: proc.exeFlags, text: bitsText(proc.exeFlags, EXE_FLAGS) },
      };
    default:
      return {};
  }
}
