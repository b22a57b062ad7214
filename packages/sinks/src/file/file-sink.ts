import type { Alert } from '@peregrine/alert';
import { formatFalcoJson, formatFalcoText } from '../falco/falco-text.ts';
import type { DeliveryContext, DeliveryResult, Sink } from '../sink.ts';
import type { SinkDeps } from '../sink-module.ts';
import type { FileSettings } from './file-settings.ts';
import { RotatingFile } from './rotating-file.ts';

// Errors a retry cannot fix without someone changing permissions or config.
const PERMANENT_CODES = new Set(['EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'EROFS', 'ENAMETOOLONG']);

/**
 * Appends alerts to a JSONL (or text) file with size-based rotation, one
 * batch at a time. A failed write may leave part of the batch on disk; the
 * hub's retry then appends it again, so readers should dedupe on `uuid`.
 */
export class FileSink implements Sink {
  readonly type = 'file';
  private readonly file: RotatingFile;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly settings: FileSettings,
    private readonly deps: SinkDeps,
  ) {
    this.file = new RotatingFile(settings);
  }

  deliver(alerts: readonly Alert[], ctx: DeliveryContext): Promise<DeliveryResult> {
    const run = this.queue.then(() => this.write(alerts, ctx));
    this.queue = run;
    return run;
  }

  async close(): Promise<void> {
    await this.queue;
    await this.file.close();
  }

  private async write(alerts: readonly Alert[], ctx: DeliveryContext): Promise<DeliveryResult> {
    if (ctx.signal.aborted) return { kind: 'retryable', reason: 'file: aborted before writing' };
    const format = this.settings.format === 'json' ? formatFalcoJson : (a: Alert) => formatFalcoText(a);
    let lines: string[];
    try {
      lines = alerts.map((a) => `${format(a)}\n`);
    } catch (error) {
      return { kind: 'permanent', reason: `file: cannot format alert: ${(error as Error).message}` };
    }
    try {
      await this.file.appendLines(lines);
      return { kind: 'delivered' };
    } catch (error) {
      await this.file.reset();
      const code = (error as NodeJS.ErrnoException).code ?? '';
      const reason = `file ${this.settings.path}: ${(error as Error).message}`;
      this.deps.logger.warn({ err: error, path: this.settings.path }, 'file sink write failed');
      return PERMANENT_CODES.has(code) ? { kind: 'permanent', reason } : { kind: 'retryable', reason };
    }
  }
}
