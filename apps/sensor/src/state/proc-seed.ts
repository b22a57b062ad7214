/**
 * Seeding state from /proc at start, as Falco's initial scan does: every
 * process (native's snapshot) plus what is cheap to add here: its start time
 * and its open fds, with sockets named from /proc/net/{tcp,tcp6,udp,udp6,unix}
 * of the sensor's network namespace (sockets in other namespaces are known by
 * type only). Close-on-exec flags of seeded fds are not read (one more file
 * per fd): a seeded fd is assumed to survive exec.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { ipv6Text, readProcess, snapshotProcesses } from '@peregrine/native';
import type { FdInfo, FdType, SocketEnds } from './fd-table.ts';
import { resolvePath } from './paths.ts';
import type { SeedProcess } from './process-table.ts';

/** Linux USER_HZ: /proc times are in these ticks on every architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface KnownSocket {
  readonly type: FdType;
  readonly name: string;
  readonly socket?: SocketEnds;
  readonly connected: boolean;
}

function hexIp(hex: string): string {
  if (hex.length === 8) {
    const n = parseInt(hex, 16);
    return `${n & 0xff}.${(n >>> 8) & 0xff}.${(n >>> 16) & 0xff}.${n >>> 24}`;
  }
  // IPv6: four 32-bit words, each little-endian.
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const n = parseInt(hex.slice(w * 8, w * 8 + 8), 16);
    bytes.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);
  }
  return ipv6Text(bytes);
}

function tryRead(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
}

/** Sockets of this network namespace by inode. */
export function readSockets(procRoot = '/proc'): Map<number, KnownSocket> {
  const out = new Map<number, KnownSocket>();
  const listening = new Set<string>();
  const inet: Array<{ inode: number; type: FdType; proto: number; l: [string, number]; r: [string, number]; st: number }> = [];
  for (const [file, type, proto] of [['tcp', 'ipv4', 6], ['tcp6', 'ipv6', 6], ['udp', 'ipv4', 17], ['udp6', 'ipv6', 17]] as const) {
    const text = tryRead(`${procRoot}/net/${file}`);
    if (!text) continue;
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const [la, lp] = f[1].split(':');
      const [ra, rp] = f[2].split(':');
      const st = parseInt(f[3], 16);
      const entry = { inode: Number(f[9]), type, proto, l: [hexIp(la), parseInt(lp, 16)] as [string, number], r: [hexIp(ra), parseInt(rp, 16)] as [string, number], st };
      inet.push(entry);
      if (proto === 6 && st === 0x0a) listening.add(`${type}:${entry.l[1]}`);
    }
  }
  const hp = (type: FdType, a: string, p: number): string => (type === 'ipv6' ? `[${a}]:${p}` : `${a}:${p}`);
  for (const e of inet) {
    if (e.inode === 0) continue;
    const listen = e.proto === 6 && e.st === 0x0a;
    // An established socket whose local port is a listening port was accepted: the local end is the server.
    const localIsServer = listen || listening.has(`${e.type}:${e.l[1]}`);
    const connected = e.r[1] !== 0;
    const client = localIsServer ? e.r : e.l;
    const server = localIsServer ? e.l : e.r;
    out.set(e.inode, {
      type: e.type,
      name: connected ? `${hp(e.type, client[0], client[1])}->${hp(e.type, server[0], server[1])}` : '',
      socket: { proto: e.proto, localAddr: e.l[0], localPort: e.l[1], remoteAddr: e.r[0], remotePort: e.r[1], localIsServer },
      connected,
    });
  }
  const unix = tryRead(`${procRoot}/net/unix`);
  for (const line of unix?.split('\n').slice(1) ?? []) {
    const f = line.trim().split(/\s+/);
    if (f.length < 7) continue;
    out.set(Number(f[6]), { type: 'unix', name: f[7] ?? '', connected: f[5] === '03' });
  }
  return out;
}

const ANON: Record<string, FdType> = {
  '[eventfd]': 'event',
  '[signalfd]': 'signalfd',
  '[eventpoll]': 'eventpoll',
  'inotify': 'inotify',
  '[timerfd]': 'timerfd',
  'bpf-map': 'bpf',
  'bpf-prog': 'bpf',
  'bpf_link': 'bpf',
  '[userfaultfd]': 'userfaultfd',
  '[io_uring]': 'io_uring',
};

/** One fd from its /proc/<pid>/fd/<n> link text. */
export function fdFromLink(link: string, sockets: ReadonlyMap<number, KnownSocket>): FdInfo {
  if (link.startsWith('socket:[')) {
    const s = sockets.get(Number(link.slice(8, -1)));
    return s ? { type: s.type, name: s.name, socket: s.socket, connected: s.connected, cloexec: false } : { type: 'other', name: '', cloexec: false };
  }
  if (link.startsWith('pipe:[')) return { type: 'pipe', name: '', cloexec: false };
  if (link.startsWith('anon_inode:')) return { type: ANON[link.slice(11)] ?? 'other', name: '', cloexec: false };
  if (link.startsWith('/memfd:')) return { type: 'memfd', name: link.replace(/ \(deleted\)$/, ''), cloexec: false };
  if (link.startsWith('/')) return { type: 'file', name: resolvePath(link, undefined), cloexec: false };
  return { type: 'other', name: '', cloexec: false };
}

/** The open fds of one process; a process that is gone (or forbids it) has none. */
export function readFds(pid: number, sockets: ReadonlyMap<number, KnownSocket>, procRoot = '/proc'): Array<[number, FdInfo]> {
  const out: Array<[number, FdInfo]> = [];
  let names: string[];
  try {
    names = readdirSync(`${procRoot}/${pid}/fd`);
  } catch {
    return out;
  }
  for (const n of names) {
    try {
      out.push([Number(n), fdFromLink(readlinkSync(`${procRoot}/${pid}/fd/${n}`), sockets)]);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** CLOCK_BOOTTIME ns when the process started (field 22 of /proc/<pid>/stat). */
export function readStartNs(pid: number, procRoot = '/proc'): number | undefined {
  const stat = tryRead(`${procRoot}/${pid}/stat`);
  if (!stat) return undefined;
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[19]);
  return Number.isFinite(ticks) ? (ticks * 1e9) / CLOCK_TICKS_PER_SECOND : undefined;
}

export interface SeedOptions {
  readonly procRoot?: string;
  /** Read every process's fds (default true). */
  readonly fds?: boolean;
}

/** Every process of this machine with its start time and (optionally) fds. */
export function seedProcesses(opts: SeedOptions = {}): SeedProcess[] {
  const root = opts.procRoot ?? '/proc';
  const sockets = opts.fds === false ? new Map<number, KnownSocket>() : readSockets(root);
  return snapshotProcesses(root).map((p) => ({
    ...p,
    startNs: readStartNs(p.pid, root),
    fds: opts.fds === false ? undefined : readFds(p.pid, sockets, root),
  }));
}

/** One process, as seedProcesses would give it (for a process first seen late). */
export function seedProcess(pid: number, procRoot = '/proc'): SeedProcess | undefined {
  const p = readProcess(pid, procRoot);
  return p ? { ...p, startNs: readStartNs(pid, procRoot), fds: readFds(pid, readSockets(procRoot), procRoot) } : undefined;
}
