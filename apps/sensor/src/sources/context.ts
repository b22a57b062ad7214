/**
 * Where a SyscallContext comes from: this machine (live probe: /proc and
 * /etc now) or a capture file (the captured machine's snapshot and names).
 */
import { hostname } from 'node:os';
import { bootEpochNs, readIdNames, snapshotProcesses, type CaptureReader } from '@peregrine/native';
import type { SyscallContext } from '../extract/syscall-event.ts';
import { ProcessTable } from '../state/process-table.ts';

function idMap(r: Record<string, string> | undefined): Map<number, string> {
  return new Map(Object.entries(r ?? {}).map(([k, v]) => [Number(k), v]));
}

/** State for a live probe on this machine, seeded from /proc like Falco's start-up scan. */
export function liveContext(): SyscallContext {
  const processes = new ProcessTable();
  for (const p of snapshotProcesses()) processes.seed(p);
  return {
    hostname: hostname(),
    processes,
    bootEpochNs: bootEpochNs(),
    users: idMap(readIdNames('/etc/passwd')),
    groups: idMap(readIdNames('/etc/group')),
  };
}

/** State for replaying a capture: the captured host's process snapshot, names and clock. */
export function captureContext(reader: CaptureReader): SyscallContext {
  const m = reader.header.metadata;
  const processes = new ProcessTable();
  for (const p of m.processes ?? []) processes.seed(p);
  return {
    hostname: m.hostname,
    processes,
    bootEpochNs: reader.header.bootEpochNs,
    users: idMap(m.users),
    groups: idMap(m.groups),
  };
}
