/**
 * JSON text ⇄ values without losing integers beyond 2^53.
 *
 * Falco prints int64/uint64 fields (evt.time in nanoseconds, inodes,
 * capability masks) as exact JSON integers; JSON.parse would round them to
 * the nearest double (…609046 → …609200). Node 20 has neither JSON.rawJSON
 * nor source access in revivers, so integers outside the safe range are
 * parsed here into `bigint` and written back with all their digits.
 * Every other value is exactly what JSON.parse / JSON.stringify give.
 */

/**
 * An integer token outside ±(2^53 − 1) has at least 16 digits. Text without
 * such a digit run (most alerts) takes the native JSON.parse.
 */
const LONG_DIGIT_RUN = /\d{16}/;

/** Deeper nesting is refused with a SyntaxError instead of exhausting the stack (alerts nest 3 levels). */
const MAX_DEPTH = 512;

/**
 * JSON.parse, except that integer tokens beyond Number.MAX_SAFE_INTEGER
 * (either sign) become `bigint` with every digit. Floats and safe integers
 * are numbers, as with JSON.parse. Throws JSON.parse's SyntaxError on bad text.
 */
export function parseJsonExact(text: string): unknown {
  if (!LONG_DIGIT_RUN.test(text)) return JSON.parse(text);
  return new ExactParser(text).document();
}

/** True when `text` may hold an integer that JSON.parse would round (a cheap pre-check). */
export function mayHoldUnsafeInteger(text: string): boolean {
  return LONG_DIGIT_RUN.test(text);
}

class ExactParser {
  private pos = 0;
  private depth = 0;

  constructor(private readonly text: string) {}

  document(): unknown {
    this.skipSpace();
    const value = this.value();
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail();
    return value;
  }

  private value(): unknown {
    const text = this.text;
    const c = text.charCodeAt(this.pos);
    switch (c) {
      case 0x7b /* { */:
        return this.object();
      case 0x5b /* [ */:
        return this.array();
      case 0x22 /* " */:
        return this.string();
      case 0x74 /* t */:
        return this.word('true', true);
      case 0x66 /* f */:
        return this.word('false', false);
      case 0x6e /* n */:
        return this.word('null', null);
      default:
        if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) return this.number();
        return this.fail();
    }
  }

  private object(): Record<string, unknown> {
    this.enter();
    const out: Record<string, unknown> = {};
    this.pos++;
    this.skipSpace();
    if (this.text.charCodeAt(this.pos) === 0x7d /* } */) {
      this.pos++;
      this.depth--;
      return out;
    }
    for (;;) {
      if (this.text.charCodeAt(this.pos) !== 0x22) this.fail();
      const key = this.string();
      this.skipSpace();
      if (this.text.charCodeAt(this.pos) !== 0x3a /* : */) this.fail();
      this.pos++;
      this.skipSpace();
      const value = this.value();
      // A "__proto__" key is an own property, as JSON.parse makes it (plain assignment would set the prototype).
      if (key === '__proto__') Object.defineProperty(out, key, { value, writable: true, enumerable: true, configurable: true });
      else out[key] = value;
      this.skipSpace();
      const c = this.text.charCodeAt(this.pos);
      if (c === 0x2c /* , */) {
        this.pos++;
        this.skipSpace();
      } else if (c === 0x7d) {
        this.pos++;
        this.depth--;
        return out;
      } else this.fail();
    }
  }

  private array(): unknown[] {
    this.enter();
    const out: unknown[] = [];
    this.pos++;
    this.skipSpace();
    if (this.text.charCodeAt(this.pos) === 0x5d /* ] */) {
      this.pos++;
      this.depth--;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.skipSpace();
      const c = this.text.charCodeAt(this.pos);
      if (c === 0x2c) {
        this.pos++;
        this.skipSpace();
      } else if (c === 0x5d) {
        this.pos++;
        this.depth--;
        return out;
      } else this.fail();
    }
  }

  /** A string token at `pos` (its opening quote). Unescaping and validation of escapes are JSON.parse's. */
  private string(): string {
    const text = this.text;
    const start = this.pos;
    let end = text.indexOf('"', start + 1);
    const firstBackslash = text.indexOf('\\', start + 1);
    if (firstBackslash === -1 || (end !== -1 && firstBackslash > end)) {
      if (end === -1) this.fail();
      const raw = text.slice(start + 1, end);
      // eslint-disable-next-line no-control-regex
      if (/[\u0000-\u001f]/.test(raw)) this.fail();
      this.pos = end + 1;
      return raw;
    }
    // Escapes: the closing quote is the first one preceded by an even number of backslashes.
    for (;;) {
      if (end === -1) this.fail();
      let backslashes = 0;
      for (let i = end - 1; text.charCodeAt(i) === 0x5c; i--) backslashes++;
      if (backslashes % 2 === 0) break;
      end = text.indexOf('"', end + 1);
    }
    this.pos = end + 1;
    try {
      return JSON.parse(text.slice(start, end + 1)) as string;
    } catch {
      // A bad escape: the error (and its position) for the whole text.
      return this.fail(start);
    }
  }

  private number(): number | bigint {
    const text = this.text;
    const start = this.pos;
    let i = start;
    if (text.charCodeAt(i) === 0x2d) i++;
    const intStart = i;
    if (text.charCodeAt(i) === 0x30) i++;
    else {
      while (isDigit(text.charCodeAt(i))) i++;
      if (i === intStart) this.fail(i);
    }
    const intDigits = i - intStart;
    let integer = true;
    if (text.charCodeAt(i) === 0x2e /* . */) {
      integer = false;
      i++;
      const fracStart = i;
      while (isDigit(text.charCodeAt(i))) i++;
      if (i === fracStart) this.fail(i);
    }
    const e = text.charCodeAt(i);
    if (e === 0x65 || e === 0x45 /* e E */) {
      integer = false;
      i++;
      const sign = text.charCodeAt(i);
      if (sign === 0x2b || sign === 0x2d) i++;
      const expStart = i;
      while (isDigit(text.charCodeAt(i))) i++;
      if (i === expStart) this.fail(i);
    }
    this.pos = i;
    const token = text.slice(start, i);
    const n = Number(token);
    // Number() rounds a decimal token exactly as JSON.parse does; only unsafe integers need more.
    if (integer && intDigits >= 16 && !Number.isSafeInteger(n)) return BigInt(token);
    return n;
  }

  private word<T>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail();
    this.pos += word.length;
    return value;
  }

  private skipSpace(): void {
    const text = this.text;
    let i = this.pos;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.pos = i;
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) throw new SyntaxError(`JSON nested deeper than ${MAX_DEPTH} levels at position ${this.pos}`);
  }

  /** Throws JSON.parse's own error for this text (same wording as the fast path). */
  private fail(at = this.pos): never {
    JSON.parse(this.text);
    throw new SyntaxError(`Unexpected token in JSON at position ${at}`);
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * JSON.stringify (no indentation), except that `bigint` values are written
 * as JSON integers with all their digits (JSON.stringify throws on them).
 * `holdsBigInt`: false skips straight to JSON.stringify, true straight to the
 * exact writer; left out, JSON.stringify is tried first.
 */
export function stringifyJsonExact(value: unknown, holdsBigInt?: boolean): string {
  if (holdsBigInt === false || (holdsBigInt === undefined && !BIGINT_HAS_TO_JSON)) {
    try {
      return JSON.stringify(value);
    } catch (e) {
      if (holdsBigInt === false || !(e instanceof TypeError) || !/BigInt/.test(e.message)) throw e;
    }
  }
  return write(value, '') ?? 'null';
}

// A library may give BigInt a toJSON (it would turn values into strings); the exact writer ignores it.
const BIGINT_HAS_TO_JSON = typeof (BigInt.prototype as { toJSON?: unknown }).toJSON === 'function';

/** One value as JSON.stringify writes it (undefined: leave it out), bigint as its digits. */
function write(value: unknown, key: string): string | undefined {
  if (typeof value === 'object' && value !== null && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON(key: string): unknown }).toJSON(key);
  }
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          out += write(value[i], String(i)) ?? 'null';
        }
        return `${out}]`;
      }
      if (value instanceof Number || value instanceof String || value instanceof Boolean) return JSON.stringify(value);
      let out = '{';
      let first = true;
      for (const k of Object.keys(value)) {
        const text = write((value as Record<string, unknown>)[k], k);
        if (text === undefined) continue;
        out += `${first ? '' : ','}${JSON.stringify(k)}:${text}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      return undefined;
  }
}

/** True when some value of an alert's output_fields (or of an array there) is a bigint. */
export function fieldsHoldBigInt(fields: Readonly<Record<string, unknown>>): boolean {
  for (const key in fields) {
    const v = fields[key];
    if (typeof v === 'bigint') return true;
    if (Array.isArray(v)) for (const x of v) if (typeof x === 'bigint') return true;
  }
  return false;
}
