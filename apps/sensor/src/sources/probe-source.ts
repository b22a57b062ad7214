/**
 * The live probe event source: batches from `Probe.start` go through the
 * shared batch walk over state seeded from /proc, so live and replayed events
 * reach the rules engine through one extractor.
 */
import { Probe, type ProbeOptions, type ProbeStats } from '@peregrine/native';
import type { SyscallEvent, SyscallContext } from '../extract/syscall-event.ts';
import { BatchWalker, type BatchWalkStats } from './batch-walk.ts';
import { liveContext } from './context.ts';

export interface ProbeSourceOptions extends ProbeOptions {
  /** State to apply events to (default: this machine, seeded from /proc now). */
  readonly context?: SyscallContext;
}

/** A running probe whose events are delivered, state applied, to one callback. */
export class ProbeSource {
  readonly walker: BatchWalker;
  readonly #probe: Probe;

  private constructor(probe: Probe, walker: BatchWalker) {
    this.#probe = probe;
    this.walker = walker;
  }

  /**
   * Opens the probe (root + BTF), then seeds state from /proc; `start` attaches
   * the callback. Seeding after the probe is attached leaves no gap: a process
   * born in between is both in the snapshot and in the events, and events win.
   */
  static open(opts: ProbeSourceOptions): ProbeSource {
    const probe = Probe.open(opts);
    try {
      return new ProbeSource(probe, new BatchWalker(opts.context ?? liveContext()));
    } catch (err) {
      probe.close();
      throw err;
    }
  }

  get context(): SyscallContext {
    return this.walker.ctx;
  }

  start(onEvent: (event: SyscallEvent) => void): void {
    this.#probe.start((batch) => this.walker.walk(batch, onEvent));
  }

  setSyscalls(syscalls: readonly string[]): void {
    this.#probe.setSyscalls(syscalls);
  }

  stats(): { probe: ProbeStats; walk: BatchWalkStats } {
    return { probe: this.#probe.stats(), walk: { ...this.walker.stats } };
  }

  get closed(): boolean {
    return this.#probe.closed;
  }

  close(): void {
    this.#probe.close();
  }
}
