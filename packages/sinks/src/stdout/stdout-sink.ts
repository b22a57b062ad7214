import type { Writable } from 'node:stream';
import type { Alert } from '@peregrine/alert';
import { formatFalcoJson, formatFalcoText } from '../falco/falco-text.ts';
import type { DeliveryContext, DeliveryResult, Sink } from '../sink.ts';
import { LineWriter } from './line-writer.ts';
import type { StdoutSettings } from './stdout-settings.ts';

/** One line per alert, exactly as Falco prints it (text) or its JSON line. */
export function formatAlertLine(alert: Alert, settings: StdoutSettings): string {
  return settings.format === 'json' ? formatFalcoJson(alert) : formatFalcoText(alert, settings);
}

/** Prints alerts to a stream (process.stdout unless given): the whole batch in one write. */
export class StdoutSink implements Sink {
  readonly type = 'stdout';
  private readonly writer: LineWriter;

  constructor(
    private readonly settings: StdoutSettings,
    stream: Writable = process.stdout,
  ) {
    this.writer = new LineWriter(stream);
  }

  async deliver(alerts: readonly Alert[], ctx: DeliveryContext): Promise<DeliveryResult> {
    if (ctx.signal.aborted) return { kind: 'retryable', reason: 'stdout: aborted before writing' };
    let chunk = '';
    try {
      for (const alert of alerts) chunk += `${formatAlertLine(alert, this.settings)}\n`;
    } catch (error) {
      return { kind: 'permanent', reason: `stdout: cannot format alert: ${(error as Error).message}` };
    }
    try {
      await this.writer.write(chunk);
      return { kind: 'delivered' };
    } catch (error) {
      // A closed stdout does not come back.
      return { kind: 'permanent', reason: `stdout: write failed: ${(error as Error).message}` };
    }
  }

  async close(): Promise<void> {}
}
