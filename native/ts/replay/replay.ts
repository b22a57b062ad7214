/**
 * Replays a capture: decodes every chunk, rebuilds process state and yields
 * the syscall records as ReplayEvents for the rules engine.
 */
import { decodeRecord } from '../decode.ts';
import { CaptureReader, ChunkType } from '../capture.ts';
import { ReplayEvent, type ReplayContext } from './event.ts';
import { ProcessTable } from './state.ts';

export function contextFor(reader: CaptureReader): ReplayContext {
  const m = reader.header.metadata;
  const toMap = (r: Record<string, string> | undefined): Map<number, string> =>
    new Map(Object.entries(r ?? {}).map(([k, v]) => [Number(k), v]));
  const processes = new ProcessTable();
  for (const p of m.processes ?? []) processes.seed(p);
  return {
    hostname: m.hostname,
    processes,
    bootEpochNs: reader.header.bootEpochNs,
    users: toMap(m.users),
    groups: toMap(m.groups),
  };
}

/**
 * Every syscall record of the capture, in order, with process state applied
 * up to and including that record: consume each event before pulling the
 * next (state moves on, e.g. a parent's exit removes it from the table).
 */
export async function* replayEvents(reader: CaptureReader, ctx: ReplayContext = contextFor(reader)): AsyncGenerator<ReplayEvent> {
  let num = 0;
  for await (const chunk of reader.chunks()) {
    if (chunk.type !== ChunkType.EVENTS) continue;
    const buf = chunk.payload;
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    for (let off = 0; off < buf.length; off += dv.getUint32(off, true)) {
      const raw = decodeRecord(buf, dv, off);
      num++;
      const proc = ctx.processes.apply(raw);
      if (raw.kind === 'syscall') yield new ReplayEvent(raw, num, proc, ctx);
    }
  }
}
