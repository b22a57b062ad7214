import { readFileSync } from 'node:fs';
import type { Alert } from '@peregrine/alert';
import type { RenderTemplate } from '@peregrine/sinks';
import type { ThrottleConfig } from '../config/schema.ts';
import type { HubKeys } from '../redis/keys.ts';
import type { RedisClient } from '../redis/connection.ts';

const ADMIT = readFileSync(new URL('./throttle-admit-3.lua', import.meta.url), 'utf8');
const TAKE = readFileSync(new URL('./throttle-take-1.lua', import.meta.url), 'utf8');

/** Suppressed sets and decisions outlive windows by this much, so late retries still find their decision. */
const RETENTION_MS = 24 * 3600 * 1000;

export interface ThrottleOutcome {
  /** Alerts to deliver; those that report earlier suppressed repeats are annotated. */
  readonly admitted: Alert[];
  /** For each admitted alert, its index in the input. */
  readonly admittedIndexes: number[];
  readonly suppressed: number;
  /** Alerts that opened suppression in a window: a summary is due when the window ends. */
  readonly firstSuppressed: Array<{ readonly key: string; readonly alert: Alert; readonly delayMs: number }>;
}

/**
 * Per-destination deduplication: the first alert with a key is delivered, the
 * repeats within `windowMs` are suppressed and counted; the count reaches
 * people either on the next delivered alert with that key or in a summary
 * when the window ends ("12 more in the last 60 s"). State lives in Redis, so
 * several hubs share it.
 */
export class Throttle {
  private readonly keyOf: RenderTemplate;

  constructor(
    private readonly config: ThrottleConfig,
    private readonly destination: string,
    private readonly keys: HubKeys,
    private readonly redis: RedisClient,
  ) {
    // Compiled when the configuration was loaded.
    this.keyOf = config.key.render;
  }

  /**
   * `scope` is the delivery job's id: decisions are kept per job and uuid, so
   * a retry of the job decides as before, while another alert that reuses the
   * uuid (the sender chooses it) gets its own decision instead of inheriting
   * the first one's for a day, and counts in the suppressed set.
   */
  async filter(alerts: readonly Alert[], scope?: string): Promise<ThrottleOutcome> {
    const pipeline = this.redis.pipeline();
    const alertKeys = alerts.map((a) => this.keyOf(a));
    alerts.forEach((alert, i) => {
      const key = alertKeys[i];
      const identity = scope === undefined ? alert.uuid : `${scope}:${alert.uuid}`;
      pipeline.eval(
        ADMIT,
        3,
        this.keys.throttleWindow(this.destination, key),
        this.keys.throttleSuppressed(this.destination, key),
        this.keys.throttleDecision(this.destination, identity),
        identity,
        this.config.windowMs,
        RETENTION_MS,
      );
    });
    const results = (await pipeline.exec()) ?? [];
    const admitted: Alert[] = [];
    const admittedIndexes: number[] = [];
    const firstSuppressed: Array<{ key: string; alert: Alert; delayMs: number }> = [];
    let suppressed = 0;
    results.forEach(([error, value], i) => {
      if (error) throw error;
      const n = Number(value);
      if (n >= 0) {
        admitted.push(n === 0 ? alerts[i] : this.annotate(alerts[i], n));
        admittedIndexes.push(i);
      } else {
        suppressed++;
        if (n <= -2) firstSuppressed.push({ key: alertKeys[i], alert: alerts[i], delayMs: -n - 2 });
      }
    });
    return { admitted, admittedIndexes, suppressed, firstSuppressed };
  }

  /** Takes the suppressed count for a summary (0 if a delivered alert already reported it). */
  async take(key: string): Promise<number> {
    return Number(await this.redis.eval(TAKE, 1, this.keys.throttleSuppressed(this.destination, key)));
  }

  /** The summary alert: the sample's identity, with the count in output and output_fields. */
  summaryAlert(sample: Alert, uuid: string, count: number): Alert {
    return {
      ...sample,
      uuid,
      output: `${count} more "${sample.rule}" ${count === 1 ? 'alert' : 'alerts'} in the last ${formatWindow(this.config.windowMs)} (suppressed by throttle)`,
      output_fields: { ...sample.output_fields, 'peregrine.suppressed': count },
    };
  }

  private annotate(alert: Alert, n: number): Alert {
    return {
      ...alert,
      output: `${alert.output} (${n} more in the last ${formatWindow(this.config.windowMs)})`,
      output_fields: { ...alert.output_fields, 'peregrine.suppressed': n },
    };
  }
}

function formatWindow(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
