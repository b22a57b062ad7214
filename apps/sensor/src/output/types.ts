import type { Alert } from '@peregrine/alert';

/**
 * Where alerts go: stdout, a JSONL file, the hub. The pipeline hands every
 * alert to each configured output; `emit` never blocks and never throws for
 * a delivery problem (outputs count and log those themselves).
 */
export interface AlertOutput {
  /** Takes one alert; delivery happens in the background. */
  emit(alert: Alert): void;
  /** Resolves when every alert emitted so far is written (stdout, file) or acknowledged by the hub or durably spooled (hub). */
  flush(): Promise<void>;
  /** flush(), then release files and connections. Alerts emitted afterwards are counted as lost. */
  close(): Promise<void>;
  /** Counters and gauges for metrics; keys are stable, values are numbers. */
  stats(): Record<string, number>;
}

/** The few log calls the outputs make; a pino logger fits. */
export interface OutputLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Log lines on stderr, for outputs created without a logger. */
export const stderrLogger: OutputLogger = {
  info: (message) => process.stderr.write(`peregrine sensor: ${message}\n`),
  warn: (message) => process.stderr.write(`peregrine sensor: warning: ${message}\n`),
  error: (message) => process.stderr.write(`peregrine sensor: error: ${message}\n`),
};
