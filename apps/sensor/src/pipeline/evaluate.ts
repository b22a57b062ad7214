/**
 * Rules → alerts: each syscall event is evaluated once and every resulting
 * Falco alert is handed to every configured output, in order.
 */
import type { Alert } from '@peregrine/alert';
import type { SyscallEvent } from '../extract/syscall-event.ts';
import type { SyscallRules } from './rules.ts';

/** Anything that takes alerts (the outputs' AlertOutput satisfies this). */
export interface AlertEmitter {
  emit(alert: Alert): void;
}

export interface EvaluationStats {
  events: number;
  alerts: number;
}

/** An event handler that evaluates rules and emits alerts; `stats` counts both. */
export function createEvaluator(
  rules: SyscallRules,
  outputs: readonly AlertEmitter[],
): { readonly onEvent: (event: SyscallEvent) => void; readonly stats: EvaluationStats } {
  const stats: EvaluationStats = { events: 0, alerts: 0 };
  const onEvent = (event: SyscallEvent): void => {
    stats.events++;
    const alerts = rules.evaluate(event);
    for (let i = 0; i < alerts.length; i++) {
      stats.alerts++;
      for (let j = 0; j < outputs.length; j++) outputs[j].emit(alerts[i]);
    }
  };
  return { onEvent, stats };
}
