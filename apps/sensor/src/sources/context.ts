/**
 * Where a SyscallContext comes from: this machine (live probe: /proc and the
 * processes' own /etc now) or a capture file (the captured machine's
 * snapshot and names; nothing is read from the replaying machine).
 */
import { hostname } from 'node:os';
import { bootEpochNs, type CaptureReader } from '@peregrine/native';
import { containerIdForCgroupPath, HOST_CONTAINER } from '../containers/index.ts';
import type { ContainerLookup, SyscallContext } from '../extract/syscall-event.ts';
import { ProcFacts } from '../state/proc-facts.ts';
import { seedProcesses, type SeedOptions } from '../state/proc-seed.ts';
import { ProcessTable, type ProcessInfo, type ProcessTableOptions } from '../state/process-table.ts';
import { RootNames, StaticNames } from '../state/user-names.ts';

/** Container ids from cgroup paths only, no runtime metadata (captures; tests; before a registry exists). */
export function cgroupOnlyContainers(): ContainerLookup {
  return {
    idForCgroup: (path) => containerIdForCgroupPath(path),
    info: (id) => (id === 'host' ? HOST_CONTAINER : undefined),
  };
}

export interface LiveContextOptions extends ProcessTableOptions, SeedOptions {
  /** The container registry (metadata from the runtimes); default: ids from cgroups only. */
  readonly containers?: ContainerLookup;
}

/** State for a live probe on this machine, seeded from /proc like Falco's start-up scan. */
export function liveContext(opts: LiveContextOptions = {}): SyscallContext {
  const processes = new ProcessTable(opts);
  for (const p of seedProcesses(opts)) processes.seed(p);
  return {
    hostname: hostname(),
    processes,
    bootEpochNs: bootEpochNs(),
    names: new RootNames({ procRoot: opts.procRoot, sameRootPids: (p, id) => sameContainerPids(processes, p, id) }),
    containers: opts.containers ?? cgroupOnlyContainers(),
    procFacts: new ProcFacts(opts.procRoot),
  };
}

/** Pids that share a container with `p`: its ancestors inside it first, then any member the table knows, eldest first (the container's first process lives longest). */
function* sameContainerPids(processes: ProcessTable, p: ProcessInfo, containerId: string): Generator<number> {
  for (const a of processes.ancestors(p)) {
    if (a.containerId !== containerId) break;
    yield a.pid;
  }
  const members: ProcessInfo[] = [];
  for (const q of processes.values()) if (q.containerId === containerId && q !== p) members.push(q);
  members.sort((a, b) => (a.startNs ?? Infinity) - (b.startNs ?? Infinity));
  for (const q of members) yield q.pid;
}

function idMap(r: Record<string, string> | undefined): Map<number, string> {
  return new Map(Object.entries(r ?? {}).map(([k, v]) => [Number(k), v]));
}

/** State for replaying a capture: the captured host's process snapshot, names and clock. */
export function captureContext(reader: CaptureReader, opts: ProcessTableOptions & { readonly containers?: ContainerLookup } = {}): SyscallContext {
  const m = reader.header.metadata;
  const processes = new ProcessTable(opts);
  for (const p of m.processes ?? []) processes.seed(p);
  return {
    hostname: m.hostname,
    processes,
    bootEpochNs: reader.header.bootEpochNs,
    names: new StaticNames(idMap(m.users), idMap(m.groups)),
    containers: opts.containers ?? cgroupOnlyContainers(),
  };
}
