import type { Writable } from 'node:stream';

/**
 * Writes whole chunks to a stream, one write at a time, waiting for 'drain'
 * when the stream buffers too much, and rejecting on a stream error (EPIPE
 * when stdout is closed) instead of letting it crash the process.
 */
export class LineWriter {
  private tail: Promise<void> = Promise.resolve();
  private failed: Error | undefined;

  constructor(private readonly stream: Writable) {
    stream.on('error', (err: Error) => {
      this.failed = err;
    });
  }

  /** Queues `chunk`; resolves once the stream accepted it (or rejects with the stream's error). */
  write(chunk: string): Promise<void> {
    const next = this.tail.then(() => this.writeNow(chunk));
    // Keep the chain alive after a failure; the caller sees the rejection.
    this.tail = next.catch(() => undefined);
    return next;
  }

  private writeNow(chunk: string): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.stream.once('error', onError);
      const flushed = this.stream.write(chunk, (err) => {
        this.stream.off('error', onError);
        if (err) reject(err);
        else if (flushed) resolve();
      });
      if (!flushed) this.stream.once('drain', () => resolve());
    });
  }
}
