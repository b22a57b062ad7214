/**
 * Rules → alerts: each syscall event is evaluated once and every resulting
 * Falco alert is handed to every configured output, in order.
 */
import type { Alert } from '@peregrine/alert';
import type { SyscallEvent } from '../extract/syscall-event.ts';
import { ContainerAlertHold, type ContainerHoldOptions, type ContainerWait } from './container-hold.ts';
import type { SyscallRules } from './rules.ts';

/** Anything that takes alerts (the outputs' AlertOutput satisfies this). */
export interface AlertEmitter {
  emit(alert: Alert): void;
}

export interface EvaluationStats {
  events: number;
  alerts: number;
}

export interface EvaluatorOptions {
  /** Alerts of containers whose metadata is being looked up wait for it (see container-hold.ts). */
  readonly containers?: ContainerWait;
  readonly hold?: ContainerHoldOptions;
  /** Called for each alert as it is raised, with its event (before any wait for container metadata). */
  readonly onRaised?: (alert: Alert, event: SyscallEvent) => void;
}

/**
 * An event handler that evaluates rules and emits alerts; `stats` counts both
 * (`alerts` when emitted). `drain()` emits alerts still waiting for container
 * metadata.
 */
export function createEvaluator(
  rules: SyscallRules,
  outputs: readonly AlertEmitter[],
  opts: EvaluatorOptions = {},
): { readonly onEvent: (event: SyscallEvent) => void; readonly stats: EvaluationStats; readonly hold: ContainerAlertHold | undefined; drain(): void } {
  const stats: EvaluationStats = { events: 0, alerts: 0 };
  const emit = (alert: Alert): void => {
    stats.alerts++;
    for (let j = 0; j < outputs.length; j++) outputs[j]!.emit(alert);
  };
  const hold = opts.containers && (opts.hold?.maxWaitMs ?? 1) > 0 ? new ContainerAlertHold(opts.containers, emit, opts.hold) : undefined;
  const onRaised = opts.onRaised;
  const onEvent = (event: SyscallEvent): void => {
    stats.events++;
    const alerts = rules.evaluate(event);
    for (let i = 0; i < alerts.length; i++) {
      onRaised?.(alerts[i]!, event);
      if (hold) hold.offer(alerts[i]!, event, rules.rerenderer);
      else emit(alerts[i]!);
    }
  };
  return { onEvent, stats, hold, drain: () => hold?.drain() };
}
