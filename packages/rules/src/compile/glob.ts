/**
 * fnmatch(3) patterns as libs uses them for `glob`/`iglob` and `pmatch`
 * components: flags 0 (no FNM_PATHNAME, so `*` also matches `/`; no
 * FNM_PERIOD), `?`, `[...]` / `[!...]` / `[^...]` with ranges and `[:class:]`,
 * backslash escapes (a trailing backslash matches nothing, as in glibc).
 * FNM_CASEFOLD for `iglob`.
 *
 * The text comes from the watched host, so matching must not backtrack: a
 * pattern is cut at its stars into fixed-length pieces; the first piece is
 * matched at the start, the last at the end, and each piece in between at its
 * leftmost place after the previous one (leftmost is always a safe choice when
 * only `*` separates pieces). That is O(text × pattern) at worst, and pure
 * literal pieces use indexOf.
 */

/** One pattern character: a code unit, any code unit (`?`), or a bracket expression. */
type CharTest = number | 'any' | BracketExpr;

interface BracketExpr {
  readonly negate: boolean;
  /** Inclusive code-unit ranges, flattened [lo0, hi0, lo1, hi1, …]. */
  readonly ranges: readonly number[];
  readonly classes: readonly ((c: number) => boolean)[];
}

/** A run of pattern characters between stars. */
interface Piece {
  readonly tests: readonly CharTest[];
  /** The piece as a string when it is all literal characters (indexOf applies). */
  readonly literal: string | undefined;
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isUpper = (c: number): boolean => c >= 0x41 && c <= 0x5a;
const isLower = (c: number): boolean => c >= 0x61 && c <= 0x7a;
const isAlpha = (c: number): boolean => isUpper(c) || isLower(c);
const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const isPrint = (c: number): boolean => c >= 0x20 && c < 0x7f;

/** POSIX character classes in the C locale, as glibc's fnmatch knows them. */
const CHAR_CLASSES: Readonly<Record<string, (c: number) => boolean>> = {
  alnum: (c) => isAlpha(c) || isDigit(c),
  alpha: isAlpha,
  blank: (c) => c === 0x20 || c === 0x09,
  cntrl: (c) => c < 0x20 || c === 0x7f,
  digit: isDigit,
  graph: (c) => c > 0x20 && c < 0x7f,
  lower: isLower,
  print: isPrint,
  punct: (c) => c > 0x20 && c < 0x7f && !isAlpha(c) && !isDigit(c),
  space: isSpace,
  upper: isUpper,
  xdigit: (c) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66),
};

function bracketHas(b: BracketExpr, c: number): boolean {
  const r = b.ranges;
  for (let i = 0; i < r.length; i += 2) if (c >= r[i]! && c <= r[i + 1]!) return true;
  for (const cls of b.classes) if (cls(c)) return true;
  return false;
}

/**
 * Parses the bracket expression opening at `start` (a `[`); undefined when it
 * is not closed, and then the `[` is an ordinary character (glibc).
 */
function parseBracket(p: string, start: number): { expr: BracketExpr; end: number } | undefined {
  let i = start + 1;
  let negate = false;
  if (p[i] === '!' || p[i] === '^') {
    negate = true;
    i++;
  }
  const ranges: number[] = [];
  const classes: ((c: number) => boolean)[] = [];
  let first = true;
  while (i < p.length) {
    const ch = p[i]!;
    if (ch === ']' && !first) return { expr: { negate, ranges, classes }, end: i };
    first = false;
    if (ch === '[' && p[i + 1] === ':') {
      const close = p.indexOf(':]', i + 2);
      const cls = close < 0 ? undefined : CHAR_CLASSES[p.slice(i + 2, close)];
      if (cls) {
        classes.push(cls);
        i = close + 2;
        continue;
      }
    }
    let lo: number;
    if (ch === '\\' && i + 1 < p.length) {
      lo = p.charCodeAt(i + 1);
      i += 2;
    } else {
      lo = p.charCodeAt(i);
      i++;
    }
    // `a-z` is a range unless the `-` is last (then it is a literal `-`).
    if (p[i] === '-' && i + 1 < p.length && p[i + 1] !== ']') {
      let hi: number;
      if (p[i + 1] === '\\' && i + 2 < p.length) {
        hi = p.charCodeAt(i + 2);
        i += 3;
      } else {
        hi = p.charCodeAt(i + 1);
        i += 2;
      }
      ranges.push(lo, hi);
    } else {
      ranges.push(lo, lo);
    }
  }
  return undefined;
}

interface ParsedGlob {
  /** Pieces between stars; one piece when there is no star. */
  readonly pieces: readonly Piece[];
  readonly hasStar: boolean;
  /** A trailing backslash: nothing matches (glibc: "Trailing \ loses"). */
  readonly never: boolean;
}

function makePiece(tests: CharTest[]): Piece {
  const literal = tests.every((t) => typeof t === 'number') ? String.fromCharCode(...(tests as number[])) : undefined;
  return { tests, literal };
}

function parseGlob(pattern: string, fold: (c: number) => number): ParsedGlob {
  const pieces: Piece[] = [];
  let tests: CharTest[] = [];
  let hasStar = false;
  let lastWasStar = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    const star = ch === '*';
    if (star) {
      hasStar = true;
      // Consecutive stars are one star.
      if (!lastWasStar) {
        pieces.push(makePiece(tests));
        tests = [];
      }
    } else if (ch === '?') tests.push('any');
    else if (ch === '\\') {
      if (i + 1 >= pattern.length) return { pieces: [], hasStar: false, never: true };
      tests.push(fold(pattern.charCodeAt(++i)));
    } else if (ch === '[') {
      const bracket = parseBracket(pattern, i);
      if (bracket) {
        tests.push(bracket.expr);
        i = bracket.end;
      } else tests.push(fold(0x5b));
    } else tests.push(fold(pattern.charCodeAt(i)));
    lastWasStar = star;
  }
  pieces.push(makePiece(tests));
  return { pieces, hasStar, never: false };
}

function asciiLower(c: number): number {
  return isUpper(c) ? c + 0x20 : c;
}

/** Lower-cases one code unit the way String#toLowerCase does when that keeps it one unit. */
function foldUnit(c: number): number {
  if (c < 0x80) return asciiLower(c);
  const l = String.fromCharCode(c).toLowerCase();
  return l.length === 1 ? l.charCodeAt(0) : c;
}

function foldText(s: string): string {
  const l = s.toLowerCase();
  if (l.length === s.length) return l;
  // A few characters lower-case to two units; fold unit by unit so positions stay.
  let out = '';
  for (let i = 0; i < s.length; i++) out += String.fromCharCode(foldUnit(s.charCodeAt(i)));
  return out;
}

function upperUnit(c: number): number {
  if (c < 0x80) return isLower(c) ? c - 0x20 : c;
  const u = String.fromCharCode(c).toUpperCase();
  return u.length === 1 ? u.charCodeAt(0) : c;
}

/**
 * A matcher for `pattern` (the whole text must match, as fnmatch).
 * `caseInsensitive`: FNM_CASEFOLD (`iglob`).
 */
export function compileGlob(pattern: string, caseInsensitive = false): (text: string) => boolean {
  const fold = caseInsensitive ? foldUnit : (c: number): number => c;
  const { pieces, hasStar, never } = parseGlob(pattern, fold);
  if (never) return () => false;

  // The text is folded (lower case); a bracket matches either case of a letter.
  const testAt = (t: CharTest, c: number): boolean => {
    if (typeof t === 'number') return t === c;
    if (t === 'any') return true;
    const has = bracketHas(t, c) || (caseInsensitive && bracketHas(t, upperUnit(c)));
    return has !== t.negate;
  };
  const pieceAt = (piece: Piece, text: string, at: number): boolean => {
    if (piece.literal !== undefined) return text.startsWith(piece.literal, at);
    const tests = piece.tests;
    for (let k = 0; k < tests.length; k++) if (!testAt(tests[k]!, text.charCodeAt(at + k))) return false;
    return true;
  };
  /** Leftmost place ≥ from where `piece` matches and ends by `limit`, or -1. */
  const findPiece = (piece: Piece, text: string, from: number, limit: number): number => {
    const len = piece.tests.length;
    if (piece.literal !== undefined) {
      const at = text.indexOf(piece.literal, from);
      return at >= 0 && at + len <= limit ? at : -1;
    }
    for (let at = from; at + len <= limit; at++) if (pieceAt(piece, text, at)) return at;
    return -1;
  };

  const prepare = caseInsensitive ? foldText : (s: string): string => s;

  if (!hasStar) {
    const only = pieces[0]!;
    if (only.literal !== undefined) {
      const literal = only.literal;
      return caseInsensitive ? (text) => foldText(text) === literal : (text) => text === literal;
    }
    return (raw) => {
      const text = prepare(raw);
      return text.length === only.tests.length && pieceAt(only, text, 0);
    };
  }

  const head = pieces[0]!;
  const tail = pieces[pieces.length - 1]!;
  const middle = pieces.slice(1, -1);
  const fixed = head.tests.length + tail.tests.length;
  return (raw) => {
    const text = prepare(raw);
    if (text.length < fixed) return false;
    if (!pieceAt(head, text, 0)) return false;
    const tailAt = text.length - tail.tests.length;
    if (!pieceAt(tail, text, tailAt)) return false;
    let pos = head.tests.length;
    for (const piece of middle) {
      const at = findPiece(piece, text, pos, tailAt);
      if (at < 0) return false;
      pos = at + piece.tests.length;
    }
    return true;
  };
}

export function hasGlobMeta(s: string): boolean {
  return /[*?[\\]/.test(s);
}
