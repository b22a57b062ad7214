import type { Alert } from '@peregrine/alert';
import { formatFalcoJson, formatFalcoText } from '@peregrine/sinks';
import { LineBatcher } from './line-writer.ts';
import { stderrLogger } from './types.ts';
import type { AlertOutput, OutputLogger } from './types.ts';

/** How an alert is printed: Falco's text line or Falco's JSON (`json_output: true`). */
export type AlertLineFormat = 'text' | 'json';

export interface StdoutOutputOptions {
  /** `text`: `HH:MM:SS.nnnnnnnnn: Priority output`, as Falco prints; `json`: one Falco JSON object per line. @defaultValue 'text' */
  readonly format?: AlertLineFormat;
  /** Falco's `time_format_iso_8601` for text lines. @defaultValue false */
  readonly timeFormatIso8601?: boolean;
  /** Where lines go. @defaultValue process.stdout */
  readonly stream?: NodeJS.WritableStream;
  readonly logger?: OutputLogger;
}

/** The line for one alert in the given format (exact big integers in JSON). */
export function formatAlertLine(alert: Alert, format: AlertLineFormat, timeFormatIso8601 = false): string {
  return format === 'json' ? formatFalcoJson(alert) : formatFalcoText(alert, { timeFormatIso8601 });
}

/** Alerts on stdout (or any writable stream), like Falco's `stdout_output`. */
export class StdoutOutput implements AlertOutput {
  private readonly format: AlertLineFormat;
  private readonly iso: boolean;
  private readonly stream: NodeJS.WritableStream;
  private readonly logger: OutputLogger;
  private readonly batcher: LineBatcher;
  private closed = false;
  private written = 0;
  private errors = 0;
  private lostAfterClose = 0;

  constructor(options: StdoutOutputOptions = {}) {
    const format = options.format ?? 'text';
    if (format !== 'text' && format !== 'json') throw new Error(`stdout output: format must be "text" or "json", got ${JSON.stringify(format)}`);
    this.format = format;
    this.iso = options.timeFormatIso8601 ?? false;
    this.stream = options.stream ?? process.stdout;
    this.logger = options.logger ?? stderrLogger;
    this.batcher = new LineBatcher((chunk, lines) => this.write(chunk, lines));
  }

  emit(alert: Alert): void {
    if (this.closed) {
      this.lostAfterClose++;
      return;
    }
    this.batcher.push(formatAlertLine(alert, this.format, this.iso));
  }

  flush(): Promise<void> {
    return this.batcher.flush();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    // The stream is not ours to end (process.stdout stays open for logs).
    this.closed = true;
  }

  stats(): Record<string, number> {
    return { written: this.written, errors: this.errors, lostAfterClose: this.lostAfterClose };
  }

  private write(chunk: string, lines: number): Promise<void> {
    return new Promise((resolve) => {
      this.stream.write(chunk, (error?: Error | null) => {
        if (error) {
          // A closed pipe (e.g. `| head`) must not stop the sensor; say it once per failure burst.
          if (this.errors === 0) this.logger.error(`stdout output: cannot write alerts: ${error.message}`);
          this.errors += lines;
        } else {
          this.written += lines;
        }
        resolve();
      });
    });
  }
}
