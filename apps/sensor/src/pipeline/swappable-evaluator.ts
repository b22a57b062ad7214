/**
 * Evaluation for a live sensor: the rules in force are read once per batch
 * (a reload swaps them between batches, never inside one), each batch's
 * evaluation time is measured, and alerts go to every output and to a hook
 * (metrics).
 */
import type { Alert } from '@peregrine/alert';
import type { SyscallEvent } from '../extract/syscall-event.ts';
import { ContainerAlertHold, type ContainerHoldOptions, type ContainerHoldStats, type ContainerWait } from './container-hold.ts';
import type { AlertEmitter } from './evaluate.ts';
import type { SyscallRules } from './rules.ts';

export interface BatchTiming {
  /** Events of the batch. */
  readonly events: number;
  /** Wall time from its first event to the end of its walk (state + rules), in seconds. */
  readonly seconds: number;
}

export interface SwappableEvaluatorHooks {
  onAlert?(alert: Alert): void;
  onBatch?(timing: BatchTiming): void;
}

export interface SwappableEvaluatorOptions {
  /** Alerts of containers whose metadata is being looked up wait for it, up to hold.maxWaitMs (0: never). */
  readonly containers?: ContainerWait;
  readonly hold?: ContainerHoldOptions;
}

export class SwappableEvaluator {
  #rules: SyscallRules;
  #inBatch: SyscallRules | undefined;
  #batchStart = 0;
  #batchEvents = 0;
  #events = 0;
  #alerts = 0;
  readonly #outputs: readonly AlertEmitter[];
  readonly #hooks: SwappableEvaluatorHooks;
  readonly #hold: ContainerAlertHold | undefined;

  constructor(rules: SyscallRules, outputs: readonly AlertEmitter[], hooks: SwappableEvaluatorHooks = {}, opts: SwappableEvaluatorOptions = {}) {
    this.#rules = rules;
    this.#outputs = outputs;
    this.#hooks = hooks;
    this.#hold = opts.containers && (opts.hold?.maxWaitMs ?? 1) > 0 ? new ContainerAlertHold(opts.containers, (a) => this.emit(a), opts.hold) : undefined;
  }

  /** Alerts waiting for their container's metadata, and what became of those that waited. */
  get holdStats(): ContainerHoldStats | undefined {
    return this.#hold?.stats();
  }

  /** Emits every alert still waiting for container metadata, as it is (the sensor is stopping). */
  drainHeld(): void {
    this.#hold?.drain();
  }

  /** The rules the next batch will use. A batch being walked keeps the set it started with. */
  swap(rules: SyscallRules): void {
    this.#rules = rules;
  }

  get rules(): SyscallRules {
    return this.#rules;
  }

  get stats(): { events: number; alerts: number } {
    return { events: this.#events, alerts: this.#alerts };
  }

  /** Emits an alert that does not come from a rule (the drop alert) to the same outputs. */
  emit(alert: Alert): void {
    this.#alerts++;
    this.#hooks.onAlert?.(alert);
    for (let j = 0; j < this.#outputs.length; j++) this.#outputs[j]!.emit(alert);
  }

  readonly onEvent = (event: SyscallEvent): void => {
    let rules = this.#inBatch;
    if (rules === undefined) {
      // First event of a batch: the walk of one batch is synchronous, so a
      // microtask queued now runs right after it ends.
      rules = this.#inBatch = this.#rules;
      this.#batchStart = performance.now();
      this.#batchEvents = 0;
      queueMicrotask(this.#endBatch);
    }
    this.#events++;
    this.#batchEvents++;
    const alerts = rules.evaluate(event);
    const hold = this.#hold;
    for (let i = 0; i < alerts.length; i++) {
      if (hold) hold.offer(alerts[i]!, event, rules.rerenderer);
      else this.emit(alerts[i]!);
    }
  };

  readonly #endBatch = (): void => {
    this.#inBatch = undefined;
    this.#hooks.onBatch?.({ events: this.#batchEvents, seconds: (performance.now() - this.#batchStart) / 1000 });
  };
}
