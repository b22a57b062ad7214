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

/*
 * Open flags as Falco reports them: the driver turns the kernel's bits into
 * libscap's PPM_O_* values (open_flags_to_scap in falcosecurity/libs
 * driver/ppm_flag_helpers.h) and libsinsp names them in the order of its
 * `file_flags` table (driver/flags_table.c), removing each matched value's
 * bits so O_RDWR is not also O_RDONLY|O_WRONLY. Two driver quirks are kept
 * because Falco prints them: the kernel's O_TMPFILE mask includes
 * O_DIRECTORY (so a directory open also says O_TMPFILE), and O_SYNC's mask
 * includes O_DSYNC (so O_DSYNC also says O_SYNC).
 */
const K_O_WRONLY = 0o1;
const K_O_RDWR = 0o2;
const K_O_CREAT = 0o100;
const K_O_DIRECTORY = 0o200000;
const K_O_TMPFILE = 0o20000000 | K_O_DIRECTORY;
const KERNEL_TO_PPM_OPEN: ReadonlyArray<readonly [kernelMask: number, ppm: number]> = [
  [K_O_CREAT, 1 << 2],
  [K_O_TMPFILE, 1 << 13],
  [0o2000, 1 << 3], // O_APPEND
  [0o10000, 1 << 4], // O_DSYNC
  [0o200, 1 << 5], // O_EXCL
  [0o4000, 1 << 6], // O_NONBLOCK
  [0o4000000 | 0o10000, 1 << 7], // O_SYNC (__O_SYNC | O_DSYNC)
  [0o1000, 1 << 8], // O_TRUNC
  [0o40000, 1 << 9], // O_DIRECT
  [K_O_DIRECTORY, 1 << 10],
  [0o100000, 1 << 11], // O_LARGEFILE
  [0o2000000, 1 << 12], // O_CLOEXEC
];

/** libscap's PPM_O_* value of kernel open flags (open_flags_to_scap). */
export function openFlagsToPpm(flags: number): number {
  const acc = flags & 3;
  let ppm = acc === K_O_WRONLY ? 2 : acc === K_O_RDWR ? 3 : 1;
  for (const [mask, bit] of KERNEL_TO_PPM_OPEN) if ((flags & mask) !== 0) ppm |= bit;
  return ppm >>> 0;
}

/** libsinsp's `file_flags` table, in its order (PPM_O_* values). */
const PPM_FILE_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [1 << 11, 'O_LARGEFILE'],
  [1 << 10, 'O_DIRECTORY'],
  [1 << 9, 'O_DIRECT'],
  [1 << 8, 'O_TRUNC'],
  [1 << 7, 'O_SYNC'],
  [1 << 6, 'O_NONBLOCK'],
  [1 << 5, 'O_EXCL'],
  [1 << 4, 'O_DSYNC'],
  [1 << 3, 'O_APPEND'],
  [1 << 2, 'O_CREAT'],
  [3, 'O_RDWR'],
  [2, 'O_WRONLY'],
  [1, 'O_RDONLY'],
  [1 << 12, 'O_CLOEXEC'],
  [0, 'O_NONE'],
  [1 << 13, 'O_TMPFILE'],
  [1 << 14, 'O_F_CREATED'],
  [1 << 15, 'FD_UPPER_LAYER'],
  [1 << 16, 'FD_LOWER_LAYER'],
];

/**
 * How libsinsp renders a PT_FLAGS value (sinsp_evt::get_param_as_str): the
 * table's names in table order, each matched value's bits cleared from what
 * is left; a 0 entry only names an all-zero value; an entry equal to the whole
 * value ends the walk. No name at all: the number.
 */
function ppmFlagsText(value: number, table: ReadonlyArray<readonly [number, string]>): string {
  const names: string[] = [];
  let left = value >>> 0;
  for (const [bit, name] of table) {
    const match = bit === 0 ? value === 0 : left !== 0 && ((left & bit) >>> 0) === bit;
    if (!match) continue;
    names.push(name);
    left = (left & ~bit) >>> 0;
    if (bit === value) break;
  }
  return names.length > 0 ? names.join('|') : String(value >>> 0);
}

/** Falco's evt.arg.flags of an open: e.g. `O_RDONLY|O_CLOEXEC` for kernel flags 0x80000. */
export function openFlagsText(flags: number): string {
  return ppmFlagsText(openFlagsToPpm(flags), PPM_FILE_FLAGS);
}

const openFlags = (flags: number): ArgValue => {
  const ppm = openFlagsToPpm(flags);
  return { raw: ppm, text: ppmFlagsText(ppm, PPM_FILE_FLAGS) };
};

/** libsinsp's `chmod_mode` table, in its order (the PPM_S_* values equal the kernel's mode bits). */
const CHMOD_MODE: ReadonlyArray<readonly [number, string]> = [
  [0o1, 'S_IXOTH'],
  [0o2, 'S_IWOTH'],
  [0o4, 'S_IROTH'],
  [0o10, 'S_IXGRP'],
  [0o20, 'S_IWGRP'],
  [0o40, 'S_IRGRP'],
  [0o100, 'S_IXUSR'],
  [0o200, 'S_IWUSR'],
  [0o400, 'S_IRUSR'],
  [0o1000, 'S_ISVTX'],
  [0o2000, 'S_ISGID'],
  [0o4000, 'S_ISUID'],
];

/** `%#o` as printf renders it: a leading 0, except for 0 itself. */
function octalText(n: number): string {
  const v = n >>> 0;
  return v === 0 ? '0' : `0${v.toString(8)}`;
}

/**
 * A chmod/fchmod/fchmodat mode (PT_MODE): the driver keeps the permission
 * bits only (chmod_mode_to_scap); evt.arg.mode is their names in the table's
 * order, e.g. `S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR` for
 * 0755, and the octal number (`%#o`, so `0`) when no bit is set. The octal
 * form followed by the names in parentheses is evt.args' rendering, not
 * evt.arg.mode's.
 */
export function chmodModeText(mode: number): string {
  const bits = mode & 0o7777;
  const names = CHMOD_MODE.filter(([bit]) => (bits & bit) === bit).map(([, n]) => n);
  return names.length > 0 ? names.join('|') : octalText(bits);
}

const chmodMode = (mode: number): ArgValue => ({ raw: mode & 0o7777, text: chmodModeText(mode) });

/**
 * An open's mode (PT_UINT32, printed `%#o`): only when the flags create a file
 * (O_CREAT, or O_TMPFILE's mask, which includes O_DIRECTORY), else 0
 * (open_modes_to_scap); permission bits only.
 */
const openMode = (flags: number, mode: number): ArgValue => {
  const v = (flags & (K_O_CREAT | K_O_TMPFILE)) !== 0 ? mode & 0o7777 : 0;
  return { raw: v, text: octalText(v) };
};

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
/** mkdirat's mode: the raw argument, PF_OCT. */
const octal = (n: number): ArgValue => ({ raw: n >>> 0, text: octalText(n) });
/** mkdir's mode: the raw argument, PF_HEX (printf `%X`, no prefix). */
const hex = (n: number): ArgValue => ({ raw: n >>> 0, text: (n >>> 0).toString(16).toUpperCase() });
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
      return { fd: fd(res), name: path(ev.path0, ev.base0), flags: openFlags(a[1]), mode: openMode(a[1], a[2]) };
    case 'openat':
      return {
        fd: fd(res), dirfd: fd(a[0]), name: path(ev.path0, ev.base0),
        flags: openFlags(a[2]), mode: openMode(a[2], a[3]),
      };
    case 'openat2': {
      const how = ev.openHow;
      return {
        fd: fd(res), dirfd: fd(a[0]), name: path(ev.path0, ev.base0),
        flags: how ? openFlags(how.flags) : undefined,
        mode: how ? openMode(how.flags, how.mode) : undefined, resolve: how ? num(how.resolve) : undefined,
      };
    }
    case 'creat':
      return { fd: fd(res), name: path(ev.path0, ev.base0), mode: openMode(K_O_CREAT, a[1]) };
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
      return { res: errno(res), path: path(ev.path0, ev.base0), mode: hex(a[1]) };
    case 'mkdirat':
      return { res: errno(res), dirfd: fd(a[0]), path: path(ev.path0, ev.base0), mode: octal(a[2]) };
    case 'rmdir':
    case 'unlink':
      return { res: errno(res), path: path(ev.path0, ev.base0) };
    case 'unlinkat':
      return { res: errno(res), dirfd: fd(a[0]), name: path(ev.path0, ev.base0), flags: num(a[2]) };
    case 'chmod':
      return { res: errno(res), filename: path(ev.path0, ev.base0), mode: chmodMode(a[1]) };
    case 'fchmodat':
      return { res: errno(res), dirfd: fd(a[0]), filename: path(ev.path0, ev.base0), mode: chmodMode(a[2]) };
    case 'fchmod':
      return { res: errno(res), fd: fd(a[0]), mode: chmodMode(a[1]) };
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
