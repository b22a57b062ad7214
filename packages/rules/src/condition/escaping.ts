/**
 * String escaping as libs does it (`filter/escaping.cpp`): `unescapeQuoted`
 * turns a quoted token (quotes included) into its value, `escapeString`
 * renders a value for the canonical condition string.
 */

export class EscapeError extends Error {}

const SIMPLE_ESCAPES: Record<string, string> = {
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  '\\': '\\',
  '/': '/',
};

function isHex(c: string | undefined): boolean {
  return c !== undefined && /^[0-9a-fA-F]$/.test(c);
}

/** `token` starts and ends with the same quote character. */
export function unescapeQuoted(token: string): string {
  const quote = token[0];
  const body = token.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = body[i + 1];
    if (next === undefined) throw new EscapeError('unsupported string escape sequence');
    const simple = SIMPLE_ESCAPES[next];
    if (simple !== undefined) {
      out += simple;
      i++;
    } else if ((next === '"' || next === "'") && next === quote) {
      out += next;
      i++;
    } else if (next === 'x' && isHex(body[i + 2]) && isHex(body[i + 3])) {
      out += String.fromCharCode(parseInt(body.slice(i + 2, i + 4), 16));
      i += 3;
    } else if (next === ' ') {
      // Legacy: an old upstream rule wrote `\ `; libs keeps the backslash.
      out += '\\ ';
      i++;
    } else {
      throw new EscapeError('unsupported string escape sequence');
    }
  }
  return out;
}

// Characters that force quoting in the canonical form (libs escape_str).
const NEEDS_QUOTES = /[ ='\b\f\n\r\t\\"\0]/;

/** Renders a constant for `asString`: bare when safe, else double-quoted with escapes. */
export function escapeString(value: string): string {
  if (value !== '' && !NEEDS_QUOTES.test(value)) return value;
  return quoteString(value);
}

/** Always double-quoted, with escapes. */
export function quoteString(value: string): string {
  let out = '"';
  for (const c of value) {
    switch (c) {
      case '"':
        out += '\\"';
        break;
      case '\\':
        out += '\\\\';
        break;
      case '\b':
        out += '\\b';
        break;
      case '\f':
        out += '\\f';
        break;
      case '\n':
        out += '\\n';
        break;
      case '\r':
        out += '\\r';
        break;
      case '\t':
        out += '\\t';
        break;
      default: {
        const code = c.charCodeAt(0);
        out += code < 0x20 ? `\\x${code.toString(16).padStart(2, '0')}` : c;
      }
    }
  }
  return out + '"';
}
