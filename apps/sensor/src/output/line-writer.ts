/**
 * Collects lines emitted in one turn of the event loop and hands them to a
 * writer as one chunk: one write per burst instead of one per alert, and an
 * alert is written within the same tick it was emitted in (no timer delay).
 * Writes run one at a time, in order.
 */
export class LineBatcher {
  private pending: string[] = [];
  private scheduled = false;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly write: (chunk: string, lines: number) => Promise<void>) {}

  push(line: string): void {
    this.pending.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  /** Resolves once every line pushed so far has been written (or its write failed). */
  flush(): Promise<void> {
    this.drain();
    return this.chain;
  }

  private drain(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    const chunk = `${lines.join('\n')}\n`;
    // The writer reports its own failures; the chain only keeps the order.
    this.chain = this.chain.then(() => this.write(chunk, lines.length)).catch(() => undefined);
  }
}
