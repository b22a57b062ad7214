/**
 * A condition string that remembers where each character came from.
 *
 * Falco builds a rule's condition text by concatenating appends, wrapping it
 * for exceptions and substituting list names textually before parsing. A
 * parse or compile position is an offset into that final text; this maps it
 * back to the file, line and column the user wrote.
 */
import type { Location } from './diagnostics.ts';

/** Something that can place an offset of its own text in a file. */
export interface TextOrigin {
  map(offset: number): Location;
  location(): Location;
}

interface Segment {
  readonly start: number;
  readonly end: number;
  readonly origin: TextOrigin | undefined;
  /** Offset in the origin's text of `start` (or of every char, when `fixed`). */
  readonly originOffset: number;
  /** Synthesised text (list items, exception clauses): every char maps to one place. */
  readonly fixed: boolean;
}

export class MappedText {
  private constructor(
    readonly text: string,
    private readonly segments: readonly Segment[],
  ) {}

  static of(text: string, origin?: TextOrigin): MappedText {
    return new MappedText(text, text.length === 0 ? [] : [{ start: 0, end: text.length, origin, originOffset: 0, fixed: false }]);
  }

  /** Synthesised text whose every character points at `origin`'s start. */
  static fixedAt(text: string, origin: TextOrigin | undefined, originOffset = 0): MappedText {
    return new MappedText(text, text.length === 0 ? [] : [{ start: 0, end: text.length, origin, originOffset, fixed: true }]);
  }

  concat(...parts: Array<MappedText | string>): MappedText {
    let text = this.text;
    const segs: Segment[] = [...this.segments];
    for (const part of parts) {
      const p = typeof part === 'string' ? MappedText.of(part) : part;
      const shift = text.length;
      for (const s of p.segments) segs.push({ ...s, start: s.start + shift, end: s.end + shift });
      text += p.text;
    }
    return new MappedText(text, segs);
  }

  /** Replaces [start, end) by `insert`; the inserted text maps to where `start` was. */
  replace(start: number, end: number, insert: string): MappedText {
    const anchor = this.anchorAt(start);
    const delta = insert.length - (end - start);
    const segs: Segment[] = [];
    for (const s of this.segments) {
      if (s.end <= start) {
        segs.push(s);
      } else if (s.start >= end) {
        segs.push({ ...s, start: s.start + delta, end: s.end + delta });
      } else {
        if (s.start < start) segs.push({ ...s, end: start });
        if (s.end > end) {
          const cut = end - s.start;
          segs.push({
            ...s,
            start: end + delta,
            end: s.end + delta,
            originOffset: s.fixed ? s.originOffset : s.originOffset + cut,
          });
        }
      }
    }
    if (insert.length > 0) {
      segs.push({ start, end: start + insert.length, origin: anchor?.origin, originOffset: anchor?.offset ?? 0, fixed: true });
    }
    segs.sort((a, b) => a.start - b.start);
    return new MappedText(this.text.slice(0, start) + insert + this.text.slice(end), segs);
  }

  private anchorAt(offset: number): { origin: TextOrigin | undefined; offset: number } | undefined {
    let best: Segment | undefined;
    for (const s of this.segments) {
      if (offset >= s.start && offset < s.end) {
        best = s;
        break;
      }
      if (s.start <= offset) best = s;
    }
    if (!best) return undefined;
    const inside = Math.min(offset, best.end - 1) - best.start;
    return { origin: best.origin, offset: best.fixed ? best.originOffset : best.originOffset + inside };
  }

  /** Where offset `idx` of this text was written, when known. */
  locate(idx: number): Location | undefined {
    const a = this.anchorAt(idx);
    if (!a || !a.origin) return undefined;
    return a.origin.map(a.offset);
  }
}
