/**
 * user.name / group.name / user.loginname: ids resolved against the passwd
 * and group files of the process's own root filesystem (the host's, or its
 * container's), read once per root and re-read when they change (checked at
 * most every `recheckMs`). An id the file does not list has no name
 * (missing), never the host's name for it.
 */
import { readFileSync, statSync } from 'node:fs';
import type { ProcessInfo } from './process-table.ts';

export interface NameLookup {
  userName(p: ProcessInfo, containerId: string, uid: number): string | undefined;
  groupName(p: ProcessInfo, containerId: string, gid: number): string | undefined;
}

/** id -> name from the text of an /etc/passwd or /etc/group style file (first entry wins). */
export function parseIdNames(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && /^\d+$/.test(f[2])) {
      const id = Number(f[2]);
      if (!out.has(id)) out.set(id, f[0]);
    }
  }
  return out;
}

/** Fixed maps (a capture carries the captured host's names; containers' are unknown there). */
export class StaticNames implements NameLookup {
  constructor(
    readonly users: ReadonlyMap<number, string>,
    readonly groups: ReadonlyMap<number, string>,
  ) {}

  userName(_p: ProcessInfo, containerId: string, uid: number): string | undefined {
    return containerId === 'host' ? this.users.get(uid) : undefined;
  }

  groupName(_p: ProcessInfo, containerId: string, gid: number): string | undefined {
    return containerId === 'host' ? this.groups.get(gid) : undefined;
  }
}

interface RootFile {
  names: Map<number, string>;
  path: string;
  mtimeMs: number;
}

interface CachedFile {
  names: Map<number, string>;
  path: string;
  mtimeMs: number;
  checkedAt: number;
}

export interface RootNamesOptions {
  /** Where the host's root is (tests point it elsewhere). Default '/'. */
  readonly hostRoot?: string;
  readonly procRoot?: string;
  /** How often a cached file's mtime is checked. Default 5000 ms. */
  readonly recheckMs?: number;
  /** Roots cached at most (oldest dropped). Default 256. */
  readonly maxRoots?: number;
  readonly now?: () => number;
  /**
   * Other pids whose root is the same container's, tried when the event's
   * process is already gone (a short-lived `sh -c` exec'd into a container
   * has exited by the time its exec is evaluated): the live sensor passes its
   * process table's members of that container.
   */
  readonly sameRootPids?: (p: ProcessInfo, containerId: string) => Iterable<number>;
}

/** Names from the passwd/group files of each process's root, cached per container id. */
export class RootNames implements NameLookup {
  readonly #files = new Map<string, CachedFile | null>();
  readonly #hostRoot: string;
  readonly #procRoot: string;
  readonly #recheckMs: number;
  readonly #maxRoots: number;
  readonly #now: () => number;
  readonly #sameRootPids: RootNamesOptions['sameRootPids'];

  constructor(opts: RootNamesOptions = {}) {
    this.#hostRoot = (opts.hostRoot ?? '/').replace(/\/$/, '');
    this.#procRoot = opts.procRoot ?? '/proc';
    this.#recheckMs = opts.recheckMs ?? 5000;
    this.#maxRoots = opts.maxRoots ?? 256;
    this.#now = opts.now ?? Date.now;
    this.#sameRootPids = opts.sameRootPids;
  }

  userName(p: ProcessInfo, containerId: string, uid: number): string | undefined {
    return this.#lookup(p, containerId, 'passwd')?.get(uid);
  }

  groupName(p: ProcessInfo, containerId: string, gid: number): string | undefined {
    return this.#lookup(p, containerId, 'group')?.get(gid);
  }

  #lookup(p: ProcessInfo, containerId: string, file: 'passwd' | 'group'): Map<number, string> | undefined {
    const key = `${containerId}\0${file}`;
    const cached = this.#files.get(key);
    const now = this.#now();
    if (cached && now - cached.checkedAt < this.#recheckMs) return cached.names;
    // The container's root is reached through one of its processes; the host's directly.
    const path = containerId === 'host' ? `${this.#hostRoot}/etc/${file}` : `${this.#procRoot}/${p.pid}/root/etc/${file}`;
    if (cached) {
      cached.checkedAt = now;
      try {
        if (statSync(cached.path).mtimeMs === cached.mtimeMs) return cached.names;
      } catch {
        return cached.names; // the process we read through is gone: keep what we had
      }
    }
    const read = this.#read(path) ?? (containerId === 'host' ? undefined : this.#readThroughOthers(p, containerId, file));
    if (!read) return cached?.names;
    this.#files.delete(key);
    this.#files.set(key, { ...read, checkedAt: now });
    if (this.#files.size > this.#maxRoots * 2) {
      const oldest = this.#files.keys().next().value;
      if (oldest !== undefined) this.#files.delete(oldest);
    }
    return read.names;
  }

  #read(path: string): RootFile | undefined {
    try {
      const mtimeMs = statSync(path).mtimeMs;
      return { names: parseIdNames(readFileSync(path, 'utf8')), path, mtimeMs };
    } catch {
      return undefined;
    }
  }

  /** The container's file through another of its processes (the event's own may have exited). */
  #readThroughOthers(p: ProcessInfo, containerId: string, file: 'passwd' | 'group'): RootFile | undefined {
    if (!this.#sameRootPids) return undefined;
    let tries = 0;
    for (const pid of this.#sameRootPids(p, containerId)) {
      if (pid === p.pid) continue;
      const read = this.#read(`${this.#procRoot}/${pid}/root/etc/${file}`);
      if (read) return read;
      if (++tries >= 8) break; // a container whose processes are all gone: give up quickly
    }
    return undefined;
  }
}
