/**
 * The one batch walk every event source uses (live probe and capture file):
 * decode each raw record of a batch in order (native's lenient walk), apply it
 * to the state tables, and hand each syscall record to the caller as a
 * SyscallEvent right after its state is applied. A malformed record is
 * counted and skipped by the decoder instead of aborting the run; when its
 * length field cannot be trusted, the rest of that batch is skipped (there is
 * no way to find the next record) and its bytes are counted as dropped.
 */
import { forEachRecord, newDecodeStats, records, type DecodeStats, type RawEvent } from '@peregrine/native';
import { SyscallEvent, type SyscallContext } from '../extract/syscall-event.ts';

export interface BatchWalkStats {
  /** Records decoded and applied (all kinds). */
  records: number;
  /** Syscall events handed out. */
  events: number;
  /** Records that failed to decode and were skipped (including unframed ones). */
  malformed: number;
  /** Batches whose tail was skipped because a record length was unusable. */
  truncatedBatches: number;
  /** Bytes of those skipped tails. */
  droppedBytes: number;
  /** The first decode problem seen, for the summary (later ones are only counted). */
  firstProblem?: string;
}

export class BatchWalker {
  /** The decoder's counters, shared by every batch of this walker's run. */
  readonly #decode: DecodeStats = newDecodeStats();
  #events = 0;

  constructor(readonly ctx: SyscallContext) {}

  /** A snapshot of what the walk did so far. */
  get stats(): BatchWalkStats {
    const d = this.#decode;
    const out: BatchWalkStats = {
      records: d.records,
      events: this.#events,
      malformed: d.malformedRecords,
      truncatedBatches: d.truncatedBatches,
      droppedBytes: d.droppedBytes,
    };
    if (d.firstProblem !== undefined) out.firstProblem = d.firstProblem;
    return out;
  }

  /** Calls `onEvent` for every syscall record of the batch, after its state is applied. */
  walk(batch: Buffer, onEvent: (event: SyscallEvent) => void): void {
    // A plain callback walk, not the generator below: resuming a generator per
    // record cost ~10 % of a replay's CPU in profiles.
    const decode = this.#decode;
    const processes = this.ctx.processes;
    const ctx = this.ctx;
    const onRecord = (raw: RawEvent): void => {
      const proc = processes.apply(raw);
      if (raw.kind === 'syscall') {
        this.#events++;
        // The record's ordinal in this run: the decoder has already counted it.
        onEvent(new SyscallEvent(raw, decode.records, proc, ctx));
      }
    };
    forEachRecord(batch, onRecord, decode);
  }

  /**
   * The same walk as a generator, for pull-based consumers (the capture file
   * source): state for a record is applied when its event is pulled, so each
   * event must be consumed before the next is requested.
   */
  *events(batch: Buffer): Generator<SyscallEvent> {
    const decode = this.#decode;
    const processes = this.ctx.processes;
    for (const raw of records(batch, decode)) {
      const proc = processes.apply(raw);
      if (raw.kind === 'syscall') {
        this.#events++;
        // The record's ordinal in this run: the decoder has already counted it.
        yield new SyscallEvent(raw, decode.records, proc, this.ctx);
      }
    }
  }
}
