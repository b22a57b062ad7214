/**
 * Facts the probe does not carry, read from /proc on a live machine the first
 * time a field needs them and cached on the process entry (an exec makes a
 * new entry, so they are re-read per image). A process that is already gone
 * gives `undefined` (the field is missing), never a guess. Capture replays
 * never read /proc: the machine replaying is not the one captured.
 */
import { existsSync, lstatSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import type { ProcessInfo } from './process-table.ts';

interface StatusFacts {
  capPermitted?: bigint;
  capEffective?: bigint;
  /** Innermost-namespace pid and pgid (last values of NSpid / NSpgid). */
  vpid?: number;
  vpgid?: number;
}

interface Facts {
  status?: StatusFacts | null;
  exeLink?: string | null;
  writable?: boolean | null;
  upper?: boolean | null;
  canonicalExepath?: string | null;
}

function facts(p: ProcessInfo): Facts {
  return (p.procFacts ??= {}) as Facts;
}

function readStatus(pid: number, procRoot: string): StatusFacts | null {
  let text: string;
  try {
    text = readFileSync(`${procRoot}/${pid}/status`, 'latin1');
  } catch {
    return null;
  }
  const out: StatusFacts = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('CapPrm:')) out.capPermitted = BigInt(`0x${line.slice(7).trim()}`);
    else if (line.startsWith('CapEff:')) out.capEffective = BigInt(`0x${line.slice(7).trim()}`);
    else if (line.startsWith('NSpid:')) out.vpid = Number(line.slice(6).trim().split(/\s+/).at(-1));
    else if (line.startsWith('NSpgid:')) out.vpgid = Number(line.slice(7).trim().split(/\s+/).at(-1));
  }
  return out;
}

export class ProcFacts {
  /** Upper directory of the overlay root per container id (null: root is not an overlay). */
  readonly #upperDirs = new Map<string, string | null>();
  /** A living process per container id, whose /proc/<pid>/root is the container's root. */
  readonly #rootPids = new Map<string, number>();

  constructor(readonly procRoot = '/proc') {}

  status(p: ProcessInfo): StatusFacts | undefined {
    const f = facts(p);
    if (f.status === undefined) f.status = readStatus(p.pid, this.procRoot);
    return f.status ?? undefined;
  }

  /** The kernel's path of the running image (`/memfd:name (deleted)` for a memfd). */
  exeLink(p: ProcessInfo): string | undefined {
    const f = facts(p);
    if (f.exeLink === undefined) {
      try {
        f.exeLink = readlinkSync(`${this.procRoot}/${p.pid}/exe`);
      } catch {
        f.exeLink = null;
      }
    }
    return f.exeLink ?? undefined;
  }

  /**
   * Falco's proc.exepath: the executed file's canonical path (symlinks
   * resolved, as the kernel's d_path of the image). The kernel's own link
   * (/proc/<pid>/exe) while the process lives; after that, for a host
   * process, the exec path resolved on the host; for a container process,
   * resolved inside the container's root through a process of the same
   * container that still lives (`peers`: the table's processes, as candidates);
   * else the exec path as given. Without that last step a short-lived
   * `sh -c …` in a busybox container was /bin/sh or /bin/busybox depending on
   * whether the sensor read /proc before the process ended.
   */
  canonicalExepath(p: ProcessInfo, containerId: string, peers?: () => Iterable<ProcessInfo>): string | undefined {
    if (p.exepath === undefined) return undefined;
    const f = facts(p);
    if (f.canonicalExepath !== undefined) return f.canonicalExepath ?? p.exepath;
    let out: string | null = null;
    const link = this.exeLink(p);
    if (link !== undefined && !link.startsWith('/memfd:')) out = link.endsWith(' (deleted)') ? link.slice(0, -10) : link;
    else if (link === undefined && containerId === 'host' && p.exepath.startsWith('/')) {
      try {
        out = realpathSync(p.exepath);
      } catch {
        out = null;
      }
    } else if (link === undefined && p.exepath.startsWith('/') && peers !== undefined) {
      const root = this.#containerRoot(containerId, p.pid, peers);
      out = root === undefined ? null : (resolveWithinRoot(root, p.exepath) ?? null);
    }
    f.canonicalExepath = out;
    return out ?? p.exepath;
  }

  /** True when the image was executed from a memfd (fileless execution). */
  exeFromMemfd(p: ProcessInfo): boolean | undefined {
    if (p.exepath?.startsWith('/memfd:') || p.exepath?.startsWith('memfd:')) return true;
    const link = this.exeLink(p);
    return link === undefined ? undefined : link.startsWith('/memfd:');
  }

  /**
   * Whether the image is writable by the process's own user, as the kernel
   * would decide: root with CAP_DAC_OVERRIDE always, else the owner/group/
   * other write bit that applies. Stats the file through the process's root.
   */
  exeWritable(p: ProcessInfo): boolean | undefined {
    const f = facts(p);
    if (f.writable !== undefined) return f.writable ?? undefined;
    f.writable = null;
    if (p.exepath === undefined) return undefined;
    let st;
    try {
      st = statSync(`${this.procRoot}/${p.pid}/root${p.exepath}`);
    } catch {
      return undefined;
    }
    const capDacOverride = p.capEffective !== undefined ? (p.capEffective & 2n) !== 0n : p.uid === 0;
    if (capDacOverride) f.writable = true;
    else if (st.uid === p.uid) f.writable = (st.mode & 0o200) !== 0;
    else if (st.gid === p.gid) f.writable = (st.mode & 0o020) !== 0;
    else f.writable = (st.mode & 0o002) !== 0;
    return f.writable;
  }

  /**
   * True when the image sits in the upper (writable) layer of the overlayfs
   * root of its container: it was written or changed after the container
   * started. Host processes (no overlay root) are false.
   */
  exeUpperLayer(p: ProcessInfo, containerId: string): boolean | undefined {
    const f = facts(p);
    if (f.upper !== undefined) return f.upper ?? undefined;
    f.upper = null;
    if (p.exepath === undefined) return undefined;
    if (containerId === 'host') return (f.upper = false);
    let upper = this.#upperDirs.get(containerId);
    if (upper === undefined) {
      upper = this.#readUpperDir(p.pid);
      if (upper === undefined) return undefined;
      this.#upperDirs.set(containerId, upper);
    }
    f.upper = upper !== null && existsSync(`${upper}${p.exepath}`);
    return f.upper;
  }

  /** upperdir= of the overlay mounted at the process's root; null if the root is not an overlay. */
  #readUpperDir(pid: number): string | null | undefined {
    let text: string;
    try {
      text = readFileSync(`${this.procRoot}/${pid}/mountinfo`, 'utf8');
    } catch {
      return undefined;
    }
    for (const line of text.split('\n')) {
      const fields = line.split(' ');
      if (fields[4] !== '/') continue;
      const sep = fields.indexOf('-');
      if (sep < 0 || fields[sep + 1] !== 'overlay') return null;
      const m = /(?:^|,)upperdir=([^,]+)/.exec(fields[sep + 3] ?? '');
      return m ? m[1] : null;
    }
    return null;
  }

  /**
   * The cgroup path of a process whose records never carried one (seen only
   * through syscall headers): the cgroup v2 line, else the first v1 line
   * that is not the root. Stored on the entry.
   */
  cgroupPath(p: ProcessInfo): string | undefined {
    let text: string;
    try {
      text = readFileSync(`${this.procRoot}/${p.pid}/cgroup`, 'utf8');
    } catch {
      return undefined;
    }
    let first: string | undefined;
    for (const line of text.split('\n')) {
      const i = line.indexOf(':', line.indexOf(':') + 1);
      if (i < 0) continue;
      const path = line.slice(i + 1);
      if (line.startsWith('0::')) return (p.cgroup = path);
      if (first === undefined && path !== '/') first = path;
    }
    if (first !== undefined) p.cgroup = first;
    return first;
  }

  /**
   * `/proc/<pid>/root` of a living process of the container (not `except`),
   * remembered per container; undefined when none of the candidates lives.
   */
  #containerRoot(containerId: string, except: number, peers: () => Iterable<ProcessInfo>): string | undefined {
    const alive = (pid: number) => existsSync(`${this.procRoot}/${pid}/root/`);
    const known = this.#rootPids.get(containerId);
    if (known !== undefined && alive(known)) return `${this.procRoot}/${known}/root`;
    for (const q of peers()) {
      if (q.pid === except || q.containerId !== containerId || !alive(q.pid)) continue;
      this.#rootPids.set(containerId, q.pid);
      return `${this.procRoot}/${q.pid}/root`;
    }
    this.#rootPids.delete(containerId);
    return undefined;
  }

  /** Forgets per-container caches of containers that are gone. */
  forgetContainer(id: string): void {
    this.#upperDirs.delete(id);
    this.#rootPids.delete(id);
  }
}

/** Symbolic links followed at most, as the kernel's MAXSYMLINKS. */
const MAX_SYMLINKS = 40;

/**
 * `path` with every symbolic link resolved inside `root` (a `/proc/<pid>/root`):
 * component by component, absolute link targets starting again at `root`, as
 * the kernel resolves them for a process chrooted there (following them with
 * the host's root would leave the container). Undefined when a component is
 * missing or the links loop.
 */
export function resolveWithinRoot(root: string, path: string): string | undefined {
  let pending = path.split('/').filter((part) => part !== '');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const here = `${root}/${[...resolved, part].join('/')}`;
    let isLink: boolean;
    try {
      isLink = lstatSync(here).isSymbolicLink();
    } catch {
      return undefined;
    }
    if (!isLink) {
      resolved.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) return undefined;
    let target: string;
    try {
      target = readlinkSync(here);
    } catch {
      return undefined;
    }
    if (target.startsWith('/')) resolved.length = 0;
    pending = [...target.split('/').filter((t) => t !== ''), ...pending];
  }
  return `/${resolved.join('/')}`;
}
