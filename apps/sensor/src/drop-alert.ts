/**
 * Dropped events reported as Falco reports them (`syscall_event_drops`):
 * every second the probe's counters are read; when events were lost since
 * the last reading, an internal alert `Falco internal: syscall event drop`
 * (priority Debug, Falco's) with the counts is emitted and/or logged, at a
 * rate limited by a token bucket (Falco's `rate` and `max_burst`).
 */
import { randomUUID } from 'node:crypto';
import type { Alert } from '@peregrine/alert';
import { nowRfc3339 } from '@peregrine/alert';

export const DROP_RULE = 'Falco internal: syscall event drop';

/** Cumulative counters read from the probe. */
export interface DropCounters {
  /** Records written to the ring (Falco n_evts). */
  readonly events: number;
  /** Lost because the kernel ring was full. */
  readonly kernelDrops: number;
  /** Drained from the ring but discarded in user space ('drop' mode). */
  readonly userDrops: number;
}

/** Falco's token bucket: `rate` tokens per second up to `maxBurst`, starting full. */
export class TokenBucket {
  #tokens: number;
  #last: number;
  constructor(
    readonly rate: number,
    readonly maxBurst: number,
    now: number = Date.now(),
  ) {
    this.#tokens = maxBurst;
    this.#last = now;
  }

  take(now: number = Date.now()): boolean {
    this.#tokens = Math.min(this.maxBurst, this.#tokens + ((now - this.#last) / 1000) * this.rate);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/** The internal alert for drops seen over one interval; output_fields as Falco's (decimal strings). */
export function dropAlert(delta: DropCounters, hostname: string, seconds = 1): Alert {
  const drops = delta.kernelDrops + delta.userDrops;
  const period = seconds === 1 ? 'last second' : `last ${seconds} seconds`;
  return {
    uuid: randomUUID(),
    hostname,
    output: `${DROP_RULE}. ${drops} system calls dropped in ${period}.`,
    output_fields: {
      ebpf_enabled: '1',
      n_drops: String(drops),
      n_drops_buffer_total: String(delta.kernelDrops),
      // Peregrine's user-space reader can discard too (probe.whenBehind: drop); Falco's cannot.
      n_drops_userspace: String(delta.userDrops),
      n_drops_bug: '0',
      n_drops_page_faults: '0',
      n_drops_scratch_map: '0',
      n_evts: String(delta.events + delta.userDrops),
    },
    priority: 'Debug',
    rule: DROP_RULE,
    source: 'internal',
    tags: [],
    time: nowRfc3339(),
  };
}

export interface DropMonitorOptions {
  readonly read: () => DropCounters;
  readonly hostname: string;
  readonly alert: boolean;
  readonly log: boolean;
  readonly rate: number;
  readonly maxBurst: number;
  readonly emit: (alert: Alert) => void;
  readonly logger: { warn(obj: object, msg: string): void };
  /** @defaultValue 1000 */
  readonly intervalMs?: number;
}

/** Reads the counters every interval and takes Falco's actions when they grew. */
export class DropMonitor {
  #last: DropCounters;
  readonly #bucket: TokenBucket;
  readonly #timer: NodeJS.Timeout;
  #intervals = 0;
  #actions = 0;

  constructor(private readonly opts: DropMonitorOptions) {
    this.#last = opts.read();
    this.#bucket = new TokenBucket(opts.rate, opts.maxBurst);
    this.#timer = setInterval(() => this.check(), opts.intervalMs ?? 1000);
    this.#timer.unref();
  }

  /** Intervals with drops, and actions taken (after rate limiting). */
  get stats(): { intervalsWithDrops: number; actionsTaken: number } {
    return { intervalsWithDrops: this.#intervals, actionsTaken: this.#actions };
  }

  /** One reading now (the timer's work; tests call it directly). */
  check(): void {
    let now: DropCounters;
    try {
      now = this.opts.read();
    } catch {
      return; // probe closed
    }
    const delta: DropCounters = {
      events: now.events - this.#last.events,
      kernelDrops: now.kernelDrops - this.#last.kernelDrops,
      userDrops: now.userDrops - this.#last.userDrops,
    };
    this.#last = now;
    if (delta.kernelDrops + delta.userDrops <= 0) return;
    this.#intervals++;
    if (!this.#bucket.take()) return;
    this.#actions++;
    const seconds = Math.max(1, Math.round((this.opts.intervalMs ?? 1000) / 1000));
    const alert = dropAlert(delta, this.opts.hostname, seconds);
    if (this.opts.log) this.opts.logger.warn({ drops: alert.output_fields }, alert.output);
    if (this.opts.alert) this.opts.emit(alert);
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
