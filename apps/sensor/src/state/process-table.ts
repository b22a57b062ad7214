/**
 * Process state rebuilt from raw events, the way Falco's thread table is:
 * fork copies the parent, exec replaces the image, exit removes the entry.
 * Processes that started before the capture are known only by what their
 * syscall headers carry (pid, ppid, comm, uid, gid).
 */
import type { ProcessSnapshot, RawEvent } from '@peregrine/native';
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
  cgroupId: bigint;
  cgroup?: string;
  /** True when this entry was built from an exec record, not guessed from a header. */
  fromExec: boolean;
}

export class ProcessTable {
  readonly #procs = new Map<number, ProcessInfo>();

  get size(): number {
    return this.#procs.size;
  }

  /** Adds a process known from a /proc snapshot (kept unless an event already described it). */
  seed(p: ProcessSnapshot): void {
    if (this.#procs.has(p.pid)) return;
    this.#procs.set(p.pid, {
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
      fromExec: true,
    });
  }

  get(pid: number): ProcessInfo | undefined {
    return this.#procs.get(pid);
  }

  /** Applies one record; returns the process the record belongs to (after the update). */
  apply(ev: RawEvent): ProcessInfo {
    switch (ev.kind) {
      case 'fork': {
        const parentPid = ev.args[1];
        const parent = this.#procs.get(parentPid);
        if (ev.thread) return this.#touch(ev);
        const child: ProcessInfo = parent
          ? { ...parent, args: [...parent.args], pid: ev.pid, ppid: ev.ppid }
          : this.#fromHeader(ev);
        child.pid = ev.pid;
        child.ppid = ev.ppid;
        this.#procs.set(ev.pid, child);
        return child;
      }
      case 'exec': {
        const argv = ev.argv ?? [];
        const cwd = ev.cwd;
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
          loginuid: ev.exec?.loginuid,
          tty: ev.exec?.tty,
          pgid: ev.exec?.pgid,
          sid: ev.exec?.sid,
          exeIno: ev.exec?.exeIno,
          cgroupId: ev.cgroupId,
          cgroup: ev.cgroup,
          fromExec: true,
        };
        this.#procs.set(ev.pid, info);
        return info;
      }
      case 'exit': {
        const p = this.#touch(ev);
        if (!ev.thread) this.#procs.delete(ev.pid);
        return p;
      }
      default:
        return this.#touch(ev);
    }
  }

  #fromHeader(ev: RawEvent): ProcessInfo {
    return { pid: ev.pid, ppid: ev.ppid, name: ev.comm, args: [], uid: ev.uid, gid: ev.gid, cgroupId: ev.cgroupId, fromExec: false };
  }

  /** Headers are authoritative for identity that can change without exec (setuid, reparenting, prctl). */
  #touch(ev: RawEvent): ProcessInfo {
    let p = this.#procs.get(ev.pid);
    if (!p) {
      p = this.#fromHeader(ev);
      this.#procs.set(ev.pid, p);
      return p;
    }
    p.ppid = ev.ppid;
    p.uid = ev.uid;
    p.gid = ev.gid;
    p.name = ev.comm;
    return p;
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
}
