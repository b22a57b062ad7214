import { setTimeout as sleep } from 'node:timers/promises';
import { alertToJson } from '@peregrine/alert';
import type { Alert } from '@peregrine/alert';
import { HubClient } from './hub-client.ts';
import type { HubClientOptions } from './hub-client.ts';
import { Spool } from './spool.ts';
import type { SpoolEntry } from './spool.ts';
import { stderrLogger } from './types.ts';
import type { AlertOutput, OutputLogger } from './types.ts';

export interface HubOutputOptions extends HubClientOptions {
  /** Folder of the on-disk spool (one per sensor; created if missing). */
  readonly spoolDir: string;
  /** Most bytes the spool keeps on disk; past it the oldest alerts are dropped (counted, logged). @defaultValue 256 MiB */
  readonly spoolMaxBytes?: number;
  /** Size of one spool segment file. @defaultValue spoolMaxBytes/8, between 4 KiB and 16 MiB */
  readonly spoolSegmentBytes?: number;
  /** Most alerts in one request. @defaultValue 1000 */
  readonly maxBatchAlerts?: number;
  /** A batch is closed once its alerts' JSON reaches this many bytes (before gzip; the hub's default body limit is 10 MiB). @defaultValue 4 MiB */
  readonly maxBatchBytes?: number;
  /** An alert waits at most this long for others to share its request. @defaultValue 50 */
  readonly lingerMs?: number;
  /** Alerts held in memory (while a request is in flight) before newer ones go to the spool instead. @defaultValue 20000 */
  readonly maxMemoryAlerts?: number;
  /** First retry delay after a failed request; doubles per failure, with equal jitter. @defaultValue 500 */
  readonly backoffInitialMs?: number;
  /** Upper bound of one retry delay without Retry-After. @defaultValue 30000 */
  readonly backoffMaxMs?: number;
  /** Upper bound of a delay asked for with Retry-After (a larger one is cut to this). @defaultValue 300000 */
  readonly retryAfterMaxMs?: number;
  /** While spooling, alerts emitted within this long share one spool write + fdatasync. @defaultValue 100 */
  readonly spoolWriteDelayMs?: number;
  readonly logger?: OutputLogger;
}

interface Retry {
  readonly reason: string;
  readonly retryAfterMs?: number;
}

/** Resolves `wait()` on the next `notify()` (or at once if one came since the last wait), or after `ms`. */
class Wakeup {
  private waiter: (() => void) | undefined;
  private notified = false;

  notify(): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w();
    } else this.notified = true;
  }

  wait(ms?: number): Promise<void> {
    if (this.notified) {
      this.notified = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(() => this.notify(), Math.max(0, ms));
      this.waiter = () => {
        clearTimeout(timer);
        this.notified = false;
        resolve();
      };
    });
  }
}

function positiveInt(name: string, value: number | undefined, fallback: number, min = 1): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min) throw new Error(`hub output: ${name} must be a whole number >= ${min}, got ${value}`);
  return v;
}

function describeAlert(json: string): string {
  try {
    const a = JSON.parse(json) as { rule?: unknown; uuid?: unknown };
    return `rule ${JSON.stringify(a.rule)}, uuid ${JSON.stringify(a.uuid)}`;
  } catch {
    return `${json.slice(0, 80)}…`;
  }
}

/**
 * Alerts to the hub's `POST /v1/alerts`: NDJSON batches (size and linger),
 * gzip, bearer token, TLS, one request at a time so the hub receives them
 * in order.
 *
 * While the hub answers, alerts wait in memory for at most `lingerMs` plus
 * one request. When it does not (connection refused, timeout, 408, 429, 5xx,
 * 401/403), the unsent alerts and every later one go to the on-disk spool,
 * and the spool is sent, oldest first, with exponential backoff and jitter
 * (or the hub's Retry-After) until it is empty; then alerts go through
 * memory again. The spool survives a restart: a new HubOutput over the same
 * folder sends what is left. A 4xx that is not 408/429/401/403 means the hub
 * refuses the batch: the alert it names is dropped (counted as `refused`,
 * logged with the hub's reason) and the others are sent again; a batch
 * above the hub's body limit (413) is split.
 *
 * Loss and duplicates: `close()` writes what is in memory to the spool, so
 * nothing is lost over a clean restart. A crash (SIGKILL) loses what was in
 * memory (at most `lingerMs` plus one request) and spooled alerts not yet
 * written (at most `spoolWriteDelayMs`). The hub does not de-duplicate, so a
 * crash between its 202 and the spool's cursor update (one fdatasync and a
 * rename) sends that batch again; the alert `uuid` identifies the copy.
 */
export class HubOutput implements AlertOutput {
  private readonly logger: OutputLogger;
  private readonly maxBatchAlerts: number;
  private readonly maxBatchBytes: number;
  private readonly lingerMs: number;
  private readonly maxMemoryAlerts: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly retryAfterMaxMs: number;
  private readonly spoolWriteDelayMs: number;

  private memory: string[] = [];
  private memoryAt: number[] = [];
  private memoryBytes = 0;
  private memoryInFlight = false;
  private lingerDeadline = 0;
  private spillWanted = false;
  private spooling: boolean;
  private spoolPending: SpoolEntry[] = [];
  private spoolWriting = 0;
  private spoolChain: Promise<void> = Promise.resolve();
  private spoolTimer: NodeJS.Timeout | undefined;
  private flushWanted = 0;
  private settledWaiters: Array<() => void> = [];
  private readonly work = new Wakeup();
  private readonly stopping = new AbortController();
  private closing = false;
  private closed: Promise<void> | undefined;
  private readonly pumpDone: Promise<void>;
  private consecutiveFailures = 0;
  private hubDown = false;

  private sent = 0;
  private refused = 0;
  private failedRequests = 0;
  private spoolWriteLost = 0;
  private lostAfterClose = 0;

  private constructor(
    private readonly client: HubClient,
    private readonly spool: Spool,
    options: HubOutputOptions,
  ) {
    this.logger = options.logger ?? stderrLogger;
    this.maxBatchAlerts = positiveInt('maxBatchAlerts', options.maxBatchAlerts, 1000);
    this.maxBatchBytes = positiveInt('maxBatchBytes', options.maxBatchBytes, 4 * 1024 * 1024);
    this.lingerMs = positiveInt('lingerMs', options.lingerMs, 50, 0);
    this.maxMemoryAlerts = positiveInt('maxMemoryAlerts', options.maxMemoryAlerts, 20_000);
    this.backoffInitialMs = positiveInt('backoffInitialMs', options.backoffInitialMs, 500);
    this.backoffMaxMs = positiveInt('backoffMaxMs', options.backoffMaxMs, 30_000);
    this.retryAfterMaxMs = positiveInt('retryAfterMaxMs', options.retryAfterMaxMs, 300_000, 0);
    this.spoolWriteDelayMs = positiveInt('spoolWriteDelayMs', options.spoolWriteDelayMs, 100, 0);
    // Alerts left from an earlier run go first: new ones queue behind them.
    this.spooling = !spool.isEmpty;
    this.pumpDone = this.pump().catch((e: Error) => {
      this.logger.error(`hub output stopped sending after an internal error: ${e.stack ?? e.message}`);
    });
  }

  /** Checks the options, opens the spool (resuming one left by an earlier run) and starts sending. */
  static async open(options: HubOutputOptions): Promise<HubOutput> {
    const client = new HubClient(options);
    let spool: Spool;
    try {
      spool = await Spool.open({ dir: options.spoolDir, maxBytes: options.spoolMaxBytes, segmentBytes: options.spoolSegmentBytes, logger: options.logger });
    } catch (e) {
      client.close();
      throw e;
    }
    try {
      return new HubOutput(client, spool, options);
    } catch (e) {
      client.close();
      await spool.close();
      throw e;
    }
  }

  /** The URL batches are posted to. */
  get endpoint(): string {
    return this.client.endpoint.href;
  }

  emit(alert: Alert): void {
    if (this.closing) {
      this.lostAfterClose++;
      return;
    }
    const json = alertToJson(alert);
    const now = Date.now();
    if (this.spooling) {
      this.spoolPending.push({ json, spooledAt: now });
      if (this.spoolPending.length >= this.maxBatchAlerts) void this.writeSpoolPending();
      else if (this.spoolTimer === undefined) this.spoolTimer = setTimeout(() => void this.writeSpoolPending(), this.spoolWriteDelayMs);
      return;
    }
    if (this.memory.length === 0) this.lingerDeadline = now + this.lingerMs;
    this.memory.push(json);
    this.memoryAt.push(now);
    this.memoryBytes += json.length;
    if (this.memory.length > this.maxMemoryAlerts) this.spillWanted = true;
    this.work.notify();
  }

  /**
   * Resolves when every alert emitted before the call is either acknowledged
   * by the hub (or refused by it) or written to the spool. It does not wait
   * for the spool to empty (the hub may be away for hours).
   */
  async flush(): Promise<void> {
    this.flushWanted++;
    this.work.notify();
    try {
      if (this.spooling) void this.writeSpoolPending();
      await new Promise<void>((resolve) => {
        this.settledWaiters.push(resolve);
        this.settle();
      });
    } finally {
      this.flushWanted--;
    }
  }

  /**
   * Stops: the alerts in memory are sent (or spooled if the hub does not
   * take them), a request in flight is awaited, and the spool is closed with
   * everything unsent in it, for the next start.
   */
  close(): Promise<void> {
    this.closed ??= this.closeNow();
    return this.closed;
  }

  stats(): Record<string, number> {
    const spool = this.spool.counters();
    const oldest = this.spool.oldestSpooledAt ?? this.spoolPending[0]?.spooledAt;
    return {
      sent: this.sent,
      refused: this.refused,
      spooled: spool.appended,
      spoolAlerts: this.spool.records + this.spoolPending.length + this.spoolWriting,
      spoolBytes: this.spool.bytes,
      spoolOldestAgeSeconds: oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest) / 1000),
      dropped: spool.dropped + this.spoolWriteLost,
      spoolWriteLost: this.spoolWriteLost,
      corrupt: spool.corrupt,
      queued: this.memory.length,
      failedRequests: this.failedRequests,
      lostAfterClose: this.lostAfterClose,
    };
  }

  private async closeNow(): Promise<void> {
    this.closing = true;
    this.work.notify();
    this.stopping.abort();
    await this.pumpDone;
    await this.writeSpoolPending();
    this.settle();
    const left = this.spool.records;
    await this.spool.close();
    this.client.close();
    if (left > 0) this.logger.info(`hub output closed with ${left} alert(s) in the spool ${this.spool.dir}; they are sent after the next start`);
  }

  /** The one sender: memory batches while the hub answers, the spool (oldest first) otherwise. */
  private async pump(): Promise<void> {
    for (;;) {
      this.settle();
      if (this.spooling) {
        if (this.closing) return;
        await this.writeSpoolPending();
        if (this.spool.isEmpty && this.spoolPending.length === 0 && this.spoolWriting === 0) {
          this.spooling = false;
          this.logger.info('hub output: spool sent; alerts go straight to the hub again');
          continue;
        }
        try {
          await this.sendFromSpool();
        } catch (e) {
          // A spool that cannot be read or advanced (disk error) must not stop the output: say so and try again later.
          this.logger.error(`hub output: spool ${this.spool.dir}: ${(e as Error).message}; retrying`);
          if (!this.closing) await sleep(this.backoffMaxMs, undefined, { signal: this.stopping.signal }).catch(() => undefined);
        }
        continue;
      }
      if (this.memory.length === 0) {
        if (this.closing) return;
        await this.work.wait();
        continue;
      }
      if (this.spillWanted) {
        this.spillWanted = false;
        this.logger.warn(`hub output: more than ${this.maxMemoryAlerts} alerts waiting for the hub (${this.client.endpoint.origin} is slow); newer alerts go to the spool`);
        await this.spill(this.takeMemory(this.memory.length));
        continue;
      }
      const due = this.memory.length >= this.maxBatchAlerts || this.memoryBytes >= this.maxBatchBytes || this.flushWanted > 0 || this.closing || Date.now() >= this.lingerDeadline;
      if (!due) {
        await this.work.wait(this.lingerDeadline - Date.now());
        continue;
      }
      await this.sendFromMemory();
    }
  }

  private async sendFromMemory(): Promise<void> {
    const batch = this.takeBatch();
    // Alerts emitted during this request have waited already: they go right after it.
    this.lingerDeadline = 0;
    this.memoryInFlight = true;
    try {
      const outcome = await this.deliver(batch.json);
      if (outcome.retry) {
        const unsent = this.takeMemory(this.memory.length);
        await this.spill({ json: [...batch.json.slice(outcome.done), ...unsent.json], at: [...batch.at.slice(outcome.done), ...unsent.at] });
        await this.backoff(outcome.retry);
      }
    } finally {
      this.memoryInFlight = false;
    }
  }

  private async sendFromSpool(): Promise<void> {
    const batch = await this.spool.read(this.maxBatchAlerts, this.maxBatchBytes);
    if (batch.records.length === 0) {
      await this.spool.commit(batch.end); // only damaged lines were read
      return;
    }
    const outcome = await this.deliver(batch.records.map((r) => r.json));
    if (outcome.done === batch.records.length) await this.spool.commit(batch.end);
    else if (outcome.done > 0) await this.spool.commit(batch.records[outcome.done - 1].end);
    if (outcome.retry) await this.backoff(outcome.retry);
  }

  private takeBatch(): { json: string[]; at: number[] } {
    let n = 0;
    let bytes = 0;
    while (n < this.memory.length && n < this.maxBatchAlerts && (n === 0 || bytes + this.memory[n].length <= this.maxBatchBytes)) {
      bytes += this.memory[n].length;
      n++;
    }
    return this.takeMemory(n);
  }

  private takeMemory(n: number): { json: string[]; at: number[] } {
    const json = this.memory.splice(0, n);
    const at = this.memoryAt.splice(0, n);
    for (const j of json) this.memoryBytes -= j.length;
    return { json, at };
  }

  /** From now on alerts go to the spool, these first (they are older than anything emitted later). */
  private async spill(alerts: { json: string[]; at: number[] }): Promise<void> {
    this.spooling = true;
    const entries = alerts.json.map((json, i) => ({ json, spooledAt: alerts.at[i] }));
    this.spoolPending = entries.concat(this.spoolPending);
    await this.writeSpoolPending();
  }

  /** Appends what emit() collected to the spool (writes run one at a time, in order). */
  private writeSpoolPending(): Promise<void> {
    clearTimeout(this.spoolTimer);
    this.spoolTimer = undefined;
    if (this.spoolPending.length === 0) return this.spoolChain;
    const entries = this.spoolPending;
    this.spoolPending = [];
    this.spoolWriting += entries.length;
    this.spoolChain = this.spoolChain.then(async () => {
      try {
        await this.spool.append(entries);
      } catch (e) {
        this.spoolWriteLost += entries.length;
        this.logger.error(`hub output: ${entries.length} alert(s) lost: ${(e as Error).message}`);
      } finally {
        this.spoolWriting -= entries.length;
        this.settle();
      }
    });
    return this.spoolChain;
  }

  /** Resolves flush() callers once nothing emitted is only in memory. */
  private settle(): void {
    if (this.settledWaiters.length === 0) return;
    if (this.memory.length > 0 || this.memoryInFlight || this.spoolPending.length > 0 || this.spoolWriting > 0) return;
    const waiters = this.settledWaiters;
    this.settledWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Sends alerts in order; returns how many from the start are done (sent
   * or refused by the hub) and, when the hub did not take the rest, why.
   */
  private async deliver(alerts: readonly string[]): Promise<{ done: number; retry?: Retry }> {
    const refused = new Set<number>();
    let start = 0;
    let end = alerts.length;
    while (start < alerts.length) {
      const indices: number[] = [];
      for (let i = start; i < end; i++) if (!refused.has(i)) indices.push(i);
      if (indices.length === 0) {
        start = end;
        end = alerts.length;
        continue;
      }
      const answer = await this.client.post(indices.map((i) => alerts[i]));
      if (answer.kind === 'retry') {
        this.failedRequests++;
        return { done: start, retry: answer };
      }
      this.hubIsUp();
      if (answer.kind === 'accepted') {
        this.sent += indices.length;
        start = end;
        end = alerts.length;
      } else if (answer.kind === 'too-large' && indices.length > 1) {
        end = indices[Math.floor(indices.length / 2)]; // the first half now, the rest after it
      } else if (answer.kind === 'refused' && answer.alertIndex !== undefined && indices.length > 1) {
        const i = indices[answer.alertIndex];
        refused.add(i);
        this.refused++;
        this.logger.error(`hub refused an alert (${describeAlert(alerts[i])}), dropped: ${answer.reason}`);
      } else {
        this.refused += indices.length;
        this.logger.error(`hub refused ${indices.length === 1 ? `an alert (${describeAlert(alerts[indices[0]])})` : `a batch of ${indices.length} alerts`}, dropped: ${answer.reason}`);
        start = end;
        end = alerts.length;
      }
    }
    return { done: alerts.length };
  }

  private hubIsUp(): void {
    this.consecutiveFailures = 0;
    if (this.hubDown) {
      this.hubDown = false;
      this.logger.info(`hub ${this.client.endpoint.origin} answers again; sending the ${this.spool.records} spooled alert(s)`);
    }
  }

  /** Waits before the next attempt: Retry-After (capped) when the hub gave one, else exponential backoff with equal jitter. */
  private async backoff(retry: Retry): Promise<void> {
    this.consecutiveFailures++;
    if (!this.hubDown) {
      this.hubDown = true;
      this.logger.warn(
        `hub ${this.client.endpoint.origin} does not take alerts (${retry.reason}); spooling them in ${this.spool.dir} until it does. ` +
          `Check that the hub runs and that this host reaches it (outputs.hub.url, --hub; curl ${this.client.endpoint.origin}/healthz)`,
      );
    }
    let waitMs: number;
    if (retry.retryAfterMs !== undefined) waitMs = Math.min(retry.retryAfterMs, this.retryAfterMaxMs);
    else {
      const ceiling = Math.min(this.backoffMaxMs, this.backoffInitialMs * 2 ** Math.min(this.consecutiveFailures - 1, 40));
      waitMs = ceiling / 2 + (Math.random() * ceiling) / 2;
    }
    if (this.closing) return;
    await sleep(waitMs, undefined, { signal: this.stopping.signal }).catch(() => undefined);
  }
}
