// One structured line per decision (pino JSON): what was decided, about which pod, and why.
import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';
import type { Decision } from './decision.ts';

export type AuditLog = Logger;

/** The audit logger: JSON lines on stdout (CloudWatch on Lambda), or on `destination` (tests). */
export function createAuditLog(options: { readonly level?: string; readonly destination?: DestinationStream } = {}): AuditLog {
  const settings = { name: 'peregrine-responder', level: options.level ?? process.env.PEREGRINE_RESPONDER_LOG_LEVEL ?? 'info', base: { service: 'peregrine-responder' } };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

/** Writes the decision's audit line: warn when a guard or the API refused, info otherwise. */
export function auditDecision(log: AuditLog, decision: Decision): void {
  const line = { audit: 'decision', ...decision };
  if (decision.outcome === 'refused') log.warn(line, `refused: ${decision.message}`);
  else log.info(line, `${decision.outcome}: ${decision.message}`);
}

/** Writes the audit line of an invocation that fails so that it is retried. */
export function auditRetry(log: AuditLog, alert: Decision['alert'], message: string): void {
  log.error({ audit: 'retry', outcome: 'failed-retryable', alert, error: message }, `failed, will be retried: ${message}`);
}
