import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { Alert } from '@peregrine/alert';
import { LineBatcher } from './line-writer.ts';
import { formatAlertLine } from './stdout-output.ts';
import type { AlertLineFormat } from './stdout-output.ts';
import { stderrLogger } from './types.ts';
import type { AlertOutput, OutputLogger } from './types.ts';

export interface FileOutputOptions {
  /** The file alerts are appended to (created if missing, mode 0640; its folder must exist). */
  readonly path: string;
  /** `json`: one Falco JSON object per line (JSONL); `text`: Falco's text lines. @defaultValue 'json' */
  readonly format?: AlertLineFormat;
  /**
   * Data reaches the disk (fdatasync) at most this long after it was written,
   * and on flush/close. 0: after every write (slower; for tiny alert rates).
   * @defaultValue 1000
   */
  readonly fsyncIntervalMs?: number;
  readonly logger?: OutputLogger;
}

/**
 * Alerts appended to a file, one per line (Falco's `file_output` with
 * `json_output: true`). `reopen()` starts a new file at the same path after
 * a log rotation moved the old one away.
 */
export class FileOutput implements AlertOutput {
  private readonly batcher: LineBatcher;
  private readonly format: AlertLineFormat;
  private readonly fsyncIntervalMs: number;
  private readonly logger: OutputLogger;
  private fsyncTimer: NodeJS.Timeout | undefined;
  private unsynced = false;
  private closed = false;
  private written = 0;
  private bytes = 0;
  private errors = 0;
  private lostAfterClose = 0;

  private constructor(
    private readonly path: string,
    private handle: FileHandle,
    options: FileOutputOptions,
  ) {
    this.format = options.format ?? 'json';
    this.fsyncIntervalMs = options.fsyncIntervalMs ?? 1000;
    this.logger = options.logger ?? stderrLogger;
    this.batcher = new LineBatcher((chunk, lines) => this.write(chunk, lines));
  }

  /** Opens (creates) the file for appending; a path that cannot be opened is a clear error. */
  static async open(options: FileOutputOptions): Promise<FileOutput> {
    if (options.format !== undefined && options.format !== 'json' && options.format !== 'text') {
      throw new Error(`file output: format must be "json" or "text", got ${JSON.stringify(options.format)}`);
    }
    if (options.fsyncIntervalMs !== undefined && !(Number.isInteger(options.fsyncIntervalMs) && options.fsyncIntervalMs >= 0)) {
      throw new Error(`file output: fsyncIntervalMs must be a whole number of ms >= 0, got ${options.fsyncIntervalMs}`);
    }
    return new FileOutput(options.path, await openForAppend(options.path), options);
  }

  emit(alert: Alert): void {
    if (this.closed) {
      this.lostAfterClose++;
      return;
    }
    this.batcher.push(formatAlertLine(alert, this.format));
  }

  async flush(): Promise<void> {
    await this.batcher.flush();
    await this.sync();
  }

  /** After logrotate moved the file: flush, close it, and append to a new file at the same path. */
  async reopen(): Promise<void> {
    const next = await openForAppend(this.path);
    const old = this.handle;
    // Writes not started yet go to the new file; the one in progress finishes on the old.
    this.handle = next;
    await this.batcher.flush();
    try {
      await old.datasync();
    } finally {
      await old.close();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    clearTimeout(this.fsyncTimer);
    await this.handle.close();
  }

  stats(): Record<string, number> {
    return { written: this.written, bytes: this.bytes, errors: this.errors, lostAfterClose: this.lostAfterClose };
  }

  private async write(chunk: string, lines: number): Promise<void> {
    try {
      const { bytesWritten } = await this.handle.write(chunk);
      this.written += lines;
      this.bytes += bytesWritten;
      this.unsynced = true;
      if (this.fsyncIntervalMs === 0) await this.sync();
      else if (this.fsyncTimer === undefined) {
        this.fsyncTimer = setTimeout(() => {
          this.fsyncTimer = undefined;
          void this.sync();
        }, this.fsyncIntervalMs);
        this.fsyncTimer.unref();
      }
    } catch (e) {
      this.errors += lines;
      this.logger.error(`file output: cannot append ${lines} alert(s) to ${this.path}: ${(e as Error).message}`);
    }
  }

  private async sync(): Promise<void> {
    if (!this.unsynced) return;
    this.unsynced = false;
    try {
      await this.handle.datasync();
    } catch (e) {
      this.logger.error(`file output: fdatasync of ${this.path} failed: ${(e as Error).message}`);
    }
  }
}

async function openForAppend(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'a', 0o640);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const hint = code === 'ENOENT' ? ' (create its folder first)' : code === 'EACCES' ? ' (check the permissions, or choose another path)' : '';
    throw new Error(`file output: cannot open ${path} for appending: ${code ?? (e as Error).message}${hint}`);
  }
}
