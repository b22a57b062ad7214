/**
 * Replays a capture: decodes every chunk, rebuilds process state and yields
 * the syscall records as ReplayEvents for the rules engine.
 */
import { forEachRecord } from '../decode.ts';
import { CaptureReader, ChunkType } from '../capture.ts';
import { ReplayEvent, type ReplayContext } from './event.ts';
import { ProcessTable } from './state.ts';

export function contextFor(reader: CaptureReader): ReplayContext {
  const m = reader.header.metadata;
  const toMap = (r: Record<string, string> | undefined): Map<number, string> =>
    new Map(Object.entries(r ?? {}).map(([k, v]) => [Number(k), v]));
  return {
    hostname: m.hostname,
    processes: new ProcessTable(),
    bootEpochNs: reader.header.bootEpochNs,
    users: toMap(m.users),
    groups: toMap(m.groups),
  };
}

/** Every syscall record of the capture, in order, with process state applied. */
export async function* replayEvents(reader: CaptureReader, ctx: ReplayContext = contextFor(reader)): AsyncGenerator<ReplayEvent> {
  let num = 0;
  for await (const chunk of reader.chunks()) {
    if (chunk.type !== ChunkType.EVENTS) continue;
    const out: ReplayEvent[] = [];
    forEachRecord(chunk.payload, (raw) => {
      num++;
      const proc = ctx.processes.apply(raw);
      if (raw.kind === 'syscall') out.push(new ReplayEvent(raw, num, proc, ctx));
    });
    yield* out;
  }
}
