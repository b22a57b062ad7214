/**
 * The same event model for a live probe: batches from `Probe.start` become
 * ReplayEvents over a process table seeded from /proc, so the rules engine
 * sees live and replayed events through one extractor (`replayExtractor`).
 */
import { hostname } from 'node:os';
import { decodeRecord } from '../decode.ts';
import { readIdNames } from '../capture-session.ts';
import { snapshotProcesses } from '../proc-snapshot.ts';
import { bootEpochNs } from '../probe.ts';
import { ReplayEvent, type ReplayContext } from './event.ts';
import { ProcessTable } from './state.ts';

export function liveContext(): ReplayContext {
  const processes = new ProcessTable();
  for (const p of snapshotProcesses()) processes.seed(p);
  const toMap = (r: Record<string, string>): Map<number, string> => new Map(Object.entries(r).map(([k, v]) => [Number(k), v]));
  return {
    hostname: hostname(),
    processes,
    bootEpochNs: bootEpochNs(),
    users: toMap(readIdNames('/etc/passwd')),
    groups: toMap(readIdNames('/etc/group')),
  };
}

/** Applies batches to process state in order and hands out each syscall record as an event. */
export class EventAssembler {
  #num = 0;

  constructor(readonly ctx: ReplayContext = liveContext()) {}

  /** Calls `onEvent` for every syscall record of the batch, right after its state is applied. */
  push(batch: Buffer, onEvent: (event: ReplayEvent) => void): void {
    const dv = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
    for (let off = 0; off < batch.length; off += dv.getUint32(off, true)) {
      const raw = decodeRecord(batch, dv, off);
      this.#num++;
      const proc = this.ctx.processes.apply(raw);
      if (raw.kind === 'syscall') onEvent(new ReplayEvent(raw, this.#num, proc, this.ctx));
    }
  }
}
