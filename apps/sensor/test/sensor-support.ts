/** Helpers for the sensor runtime tests: an alert collector, a quiet logger, polling. */
import pino from 'pino';
import type { Logger } from 'pino';
import type { Alert } from '@peregrine/alert';
import type { AlertOutput } from '../src/output/types.ts';

export function collectingOutput(): AlertOutput & { readonly alerts: Alert[] } {
  const alerts: Alert[] = [];
  return {
    alerts,
    emit: (a) => void alerts.push(a),
    flush: async () => {},
    close: async () => {},
    stats: () => ({ written: alerts.length }),
  };
}

/** Warnings and errors only, on stderr (a failing test shows them). */
export function quietLogger(): Logger {
  return pino({ level: 'warn' }, pino.destination(2));
}

/** Polls `cond` every 20 ms until it holds, failing with `what` after a generous deadline. */
export async function waitFor(cond: () => boolean, what: string, deadlineMs = 30_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
