/**
 * The one batch walk every event source uses (live probe and capture file):
 * decode each raw record of a batch in order, apply it to the state tables,
 * and hand each syscall record to the caller as a SyscallEvent right after
 * its state is applied. A malformed record is counted and skipped instead of
 * aborting the run; when its length field cannot be trusted, the rest of
 * that batch is skipped (there is no way to find the next record).
 */
import { DecodeError, HEADER_SIZE, decodeRecord } from '@peregrine/native';
import { SyscallEvent, type SyscallContext } from '../extract/syscall-event.ts';

export interface BatchWalkStats {
  /** Records decoded and applied (all kinds). */
  records: number;
  /** Syscall events handed out. */
  events: number;
  /** Records that failed to decode and were skipped. */
  malformed: number;
  /** Batches whose tail was skipped because a record length was unusable. */
  truncatedBatches: number;
  /** The first decode problem seen, for the summary (later ones are only counted). */
  firstProblem?: string;
}

export class BatchWalker {
  readonly stats: BatchWalkStats = { records: 0, events: 0, malformed: 0, truncatedBatches: 0 };

  constructor(readonly ctx: SyscallContext) {}

  /** Calls `onEvent` for every syscall record of the batch, after its state is applied. */
  walk(batch: Buffer, onEvent: (event: SyscallEvent) => void): void {
    for (const ev of this.events(batch)) onEvent(ev);
  }

  /**
   * The same walk as a generator, for pull-based consumers (the capture file
   * source): state for a record is applied when its event is pulled, so each
   * event must be consumed before the next is requested.
   */
  *events(batch: Buffer): Generator<SyscallEvent> {
    const dv = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
    const stats = this.stats;
    const processes = this.ctx.processes;
    let off = 0;
    while (off < batch.length) {
      const len = off + 4 <= batch.length ? dv.getUint32(off, true) : 0;
      if (len < HEADER_SIZE || off + len > batch.length) {
        this.#problem(new DecodeError(`bad record length ${len}`, off));
        stats.truncatedBatches++;
        return;
      }
      let raw;
      try {
        raw = decodeRecord(batch, dv, off);
      } catch (err) {
        this.#problem(err);
        off += len;
        continue;
      }
      off += len;
      stats.records++;
      const proc = processes.apply(raw);
      if (raw.kind === 'syscall') {
        stats.events++;
        yield new SyscallEvent(raw, stats.records, proc, this.ctx);
      }
    }
  }

  #problem(err: unknown): void {
    this.stats.malformed++;
    this.stats.firstProblem ??= err instanceof Error ? err.message : String(err);
  }
}
