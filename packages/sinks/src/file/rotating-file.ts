import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface RotatingFileOptions {
  readonly path: string;
  /** Rotate before a write would pass this many bytes. */
  readonly maxSizeBytes: number;
  /** Rotated files kept as path.1 … path.N (path.1 newest). */
  readonly maxBackups: number;
  readonly fsync: boolean;
}

/**
 * An append-only file that rotates by size. Lines are never split across
 * files. Not safe for concurrent callers: the file sink serialises calls.
 */
export class RotatingFile {
  private handle: FileHandle | undefined;
  private size = 0;

  constructor(private readonly options: RotatingFileOptions) {}

  /** Appends whole lines (each already ending in '\n'), rotating between lines as needed. */
  async appendLines(lines: readonly string[]): Promise<void> {
    const { maxSizeBytes } = this.options;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for (const line of lines) {
      const bytes = Buffer.from(line, 'utf8');
      const handle = await this.ensureOpen();
      if (this.size + pendingBytes > 0 && this.size + pendingBytes + bytes.length > maxSizeBytes) {
        await this.writeAll(handle, pending);
        pending = [];
        pendingBytes = 0;
        await this.rotate();
      }
      pending.push(bytes);
      pendingBytes += bytes.length;
    }
    await this.writeAll(await this.ensureOpen(), pending);
    if (this.options.fsync && this.handle) await this.handle.sync();
  }

  /** Drops the open handle (after an error) so the next call reopens and re-reads the size. */
  async reset(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.reset();
  }

  private async writeAll(handle: FileHandle, chunks: Buffer[]): Promise<void> {
    if (chunks.length === 0) return;
    const data = Buffer.concat(chunks);
    await handle.appendFile(data);
    this.size += data.length;
  }

  private async ensureOpen(): Promise<FileHandle> {
    if (this.handle) return this.handle;
    await mkdir(dirname(this.options.path), { recursive: true });
    const handle = await open(this.options.path, 'a');
    this.size = (await handle.stat()).size;
    this.handle = handle;
    return handle;
  }

  private async rotate(): Promise<void> {
    const { path, maxBackups } = this.options;
    await this.reset();
    if (maxBackups === 0) {
      await rm(path, { force: true });
    } else {
      await rm(`${path}.${maxBackups}`, { force: true });
      for (let i = maxBackups - 1; i >= 1; i--) {
        if (await exists(`${path}.${i}`)) await rename(`${path}.${i}`, `${path}.${i + 1}`);
      }
      await rename(path, `${path}.1`);
    }
    await this.ensureOpen();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
