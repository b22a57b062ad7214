/**
 * The processes alive when a capture starts, read from /proc (as Falco scans
 * /proc at start-up), so replay knows the parents and ancestors of events
 * whose processes were exec'd before the capture began.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface ProcessSnapshot {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
  readonly argv: readonly string[];
  readonly exepath?: string;
  readonly cwd?: string;
  readonly uid: number;
  readonly gid: number;
  readonly loginuid?: number;
  readonly tty: number;
  readonly pgid: number;
  readonly sid: number;
  /** cgroup v2 path ("0::" line of /proc/PID/cgroup), for container ids. */
  readonly cgroup?: string;
}

function tryRead(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function tryLink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** One process from /proc/PID, or undefined when it exited meanwhile. */
export function readProcess(pid: number, root = '/proc'): ProcessSnapshot | undefined {
  const stat = tryRead(`${root}/${pid}/stat`);
  if (!stat) return undefined;
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const comm = stat.slice(open + 1, close);
  // After the comm: state ppid pgrp session tty_nr ...
  const rest = stat.slice(close + 2).split(' ');
  const status = tryRead(`${root}/${pid}/status`) ?? '';
  const idOf = (key: string): number => Number(new RegExp(`^${key}:\\s*(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  const cmdline = tryRead(`${root}/${pid}/cmdline`) ?? '';
  const argv = cmdline.split('\0');
  if (argv.at(-1) === '') argv.pop();
  const loginuid = tryRead(`${root}/${pid}/loginuid`);
  const tty = Number(rest[4] ?? 0);
  return {
    pid,
    ppid: Number(rest[1] ?? 0),
    comm,
    argv,
    exepath: tryLink(`${root}/${pid}/exe`),
    cwd: tryLink(`${root}/${pid}/cwd`),
    uid: idOf('Uid'),
    gid: idOf('Gid'),
    loginuid: loginuid === undefined ? undefined : Number(loginuid.trim()),
    // /proc encodes tty_nr as (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12); re-encode like the probe.
    tty: tty === 0 ? 0 : (((tty >> 8) & 0xfff) << 20) | ((tty & 0xff) | ((tty >> 12) & 0xfff00)),
    pgid: Number(rest[2] ?? 0),
    sid: Number(rest[3] ?? 0),
    cgroup: /^0::(.*)$/m.exec(tryRead(`${root}/${pid}/cgroup`) ?? '')?.[1],
  };
}

export function snapshotProcesses(root = '/proc'): ProcessSnapshot[] {
  const out: ProcessSnapshot[] = [];
  for (const name of readdirSync(root)) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProcess(Number(name), root);
    if (p) out.push(p);
  }
  return out;
}
