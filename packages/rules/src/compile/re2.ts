/**
 * The `regex` operator: RE2 as libs configures it (`re2::RE2::POSIX`, matched
 * with ANCHOR_BOTH), in linear time.
 *
 * libs builds the pattern with RE2's POSIX options: POSIX egrep syntax with
 * RE2's extensions that are always on (`{n,m}`, `\x..`, octal, C escapes, the
 * `[[:alpha:]]` classes), and none of the Perl ones (`\d \s \w \b`, `(?:…)`,
 * `(?i)`, lazy `*?`, `\pL`, `\A \z \Q…\E` are errors). `^`/`$` match at line
 * starts/ends (one_line is off), `.` does not match `\n`, a negated class
 * does. The whole value must match.
 *
 * A JS RegExp backtracks: `([a-z]+)*[0-9]` against 37 letters does not finish.
 * Here the pattern compiles to a Thompson NFA which is run as a lazily built
 * DFA: each input character costs one cached table lookup, or one pass over
 * the NFA the first time a (state, character) pair is seen, so a match is
 * O(text × pattern) at worst and usually O(text). The DFA cache is bounded;
 * when full it is dropped and rebuilt, as RE2 does.
 */

/** A pattern RE2 would refuse; the message is RE2's ("missing ): (a"). */
export class RegexSyntaxError extends Error {}

// ---- syntax tree -----------------------------------------------------------

type Node =
  | { readonly t: 'empty' }
  /** One code point in any of the inclusive ranges [lo0, hi0, lo1, hi1, …] (sorted, disjoint). */
  | { readonly t: 'chars'; readonly ranges: readonly number[] }
  | { readonly t: 'bol' }
  | { readonly t: 'eol' }
  | { readonly t: 'cat'; readonly items: readonly Node[] }
  | { readonly t: 'alt'; readonly items: readonly Node[] }
  /** max -1: unbounded. `counted`: written with braces (RE2 limits their nesting). */
  | { readonly t: 'rep'; readonly min: number; readonly max: number; readonly counted: boolean; readonly sub: Node };

const MAX_RUNE = 0x10ffff;
/** RE2's limit on one `{n,m}` count and on the product of nested counts. */
const MAX_REPEAT = 1000;
/** RE2's default maximum nesting depth of the parse. */
const MAX_NESTING = 1000;
/** Instructions in the compiled program (RE2 stops near this with its default 8 MiB budget). */
const MAX_PROGRAM = 100_000;

function normalise(ranges: number[]): number[] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < ranges.length; i += 2) pairs.push([ranges[i]!, ranges[i + 1]!]);
  pairs.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [lo, hi] of pairs) {
    const last = out.length - 1;
    if (out.length > 0 && lo <= out[last]! + 1) out[last] = Math.max(out[last]!, hi);
    else out.push(lo, hi);
  }
  return out;
}

function negate(ranges: readonly number[]): number[] {
  const out: number[] = [];
  let next = 0;
  for (let i = 0; i < ranges.length; i += 2) {
    if (ranges[i]! > next) out.push(next, ranges[i]! - 1);
    next = ranges[i + 1]! + 1;
  }
  if (next <= MAX_RUNE) out.push(next, MAX_RUNE);
  return out;
}

/** POSIX classes, ASCII only, as RE2 defines them (plus its `word`). */
const POSIX_CLASSES: Readonly<Record<string, readonly number[]>> = {
  alnum: [0x30, 0x39, 0x41, 0x5a, 0x61, 0x7a],
  alpha: [0x41, 0x5a, 0x61, 0x7a],
  ascii: [0x00, 0x7f],
  blank: [0x09, 0x09, 0x20, 0x20],
  cntrl: [0x00, 0x1f, 0x7f, 0x7f],
  digit: [0x30, 0x39],
  graph: [0x21, 0x7e],
  lower: [0x61, 0x7a],
  print: [0x20, 0x7e],
  punct: [0x21, 0x2f, 0x3a, 0x40, 0x5b, 0x60, 0x7b, 0x7e],
  space: [0x09, 0x0d, 0x20, 0x20],
  upper: [0x41, 0x5a],
  word: [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a],
  xdigit: [0x30, 0x39, 0x41, 0x46, 0x61, 0x66],
};

const isOctal = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '7';
const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9A-Fa-f]$/.test(c);
const isAlnum = (c: string): boolean => /^[0-9A-Za-z]$/.test(c);

class Parser {
  private i = 0;

  constructor(private readonly p: string) {}

  parse(): Node {
    const node = this.alternation(0);
    if (this.i < this.p.length) throw new RegexSyntaxError(`unexpected ): ${this.p}`);
    this.checkRepeatProduct(node, 1);
    return node;
  }

  private alternation(depth: number): Node {
    if (depth > MAX_NESTING) throw new RegexSyntaxError('expression nests too deeply');
    const items = [this.concatenation(depth)];
    while (this.p[this.i] === '|') {
      this.i++;
      items.push(this.concatenation(depth));
    }
    return items.length === 1 ? items[0]! : { t: 'alt', items };
  }

  private concatenation(depth: number): Node {
    const items: Node[] = [];
    const p = this.p;
    while (this.i < p.length) {
      const start = this.i;
      const ch = p[this.i]!;
      if (ch === '|' || ch === ')') break;
      if (ch === '*' || ch === '+' || ch === '?') {
        this.i++;
        const sub = items.pop();
        if (sub === undefined) throw new RegexSyntaxError(`no argument for repetition operator: ${ch}`);
        const [min, max] = ch === '*' ? [0, -1] : ch === '+' ? [1, -1] : [0, 1];
        if (sub.t === 'rep' && !sub.counted) {
          // POSIX mode stacks operators; RE2 squashes them: x** = x*, x++ = x+,
          // x?? = x?, and any mix of two different ones is x*.
          const same = sub.min === min && sub.max === max;
          items.push(same ? sub : { t: 'rep', min: 0, max: -1, counted: false, sub: sub.sub });
          continue;
        }
        items.push({ t: 'rep', min, max, counted: false, sub });
        continue;
      }
      if (ch === '{') {
        const counts = this.braces();
        if (counts) {
          const text = p.slice(start, this.i);
          const sub = items.pop();
          if (sub === undefined) throw new RegexSyntaxError(`no argument for repetition operator: ${text}`);
          const [min, max] = counts;
          if (min > MAX_REPEAT || max > MAX_REPEAT || (max >= 0 && max < min)) {
            throw new RegexSyntaxError(`invalid repetition size: ${text}`);
          }
          items.push({ t: 'rep', min, max, counted: true, sub });
          continue;
        }
        // Not a valid repetition: a literal `{` (RE2).
        this.i++;
        items.push(literal(0x7b));
        continue;
      }
      if (ch === '(') {
        this.i++;
        const sub = this.alternation(depth + 1);
        if (p[this.i] !== ')') throw new RegexSyntaxError(`missing ): ${p}`);
        this.i++;
        items.push(sub);
        continue;
      }
      this.i++;
      if (ch === '^') items.push({ t: 'bol' });
      else if (ch === '$') items.push({ t: 'eol' });
      else if (ch === '.') items.push({ t: 'chars', ranges: [0, 9, 11, MAX_RUNE] });
      else if (ch === '[') items.push(this.charClass(start));
      else if (ch === '\\') items.push(literal(this.escape(start)));
      else {
        const cp = p.codePointAt(start)!;
        if (cp > 0xffff) this.i++;
        items.push(literal(cp));
      }
    }
    if (items.length === 0) return { t: 'empty' };
    return items.length === 1 ? items[0]! : { t: 'cat', items };
  }

  /** `{n}`, `{n,}`, `{n,m}` at the cursor (consumed), or undefined (nothing consumed). */
  private braces(): [number, number] | undefined {
    const m = /^\{([0-9]+)(,([0-9]*))?\}/.exec(this.p.slice(this.i, this.i + 32));
    if (!m) return undefined;
    this.i += m[0].length;
    // Counts past the limit only need to compare as "too big".
    const num = (s: string): number => (s.length > 5 ? MAX_REPEAT + 1 : Number(s));
    const min = num(m[1]!);
    const max = m[2] === undefined ? min : m[3] === '' ? -1 : num(m[3]!);
    return [min, max];
  }

  /** The code point of the escape starting at `start` (a backslash); the cursor is after the backslash. */
  private escape(start: number): number {
    const p = this.p;
    if (this.i >= p.length) throw new RegexSyntaxError('trailing \\');
    const c = p[this.i]!;
    this.i++;
    const bad = (): never => {
      throw new RegexSyntaxError(`invalid escape sequence: ${p.slice(start, this.i)}`);
    };
    if (c >= '1' && c <= '7') {
      // A lone digit would be a backreference, which RE2 does not have.
      if (!isOctal(p[this.i])) bad();
    }
    if (c >= '0' && c <= '7') {
      let v = c.charCodeAt(0) - 0x30;
      for (let k = 0; k < 2 && isOctal(p[this.i]); k++) v = v * 8 + (p.charCodeAt(this.i++) - 0x30);
      return v;
    }
    switch (c) {
      case 'x': {
        if (p[this.i] === '{') {
          const close = p.indexOf('}', this.i);
          const hex = close < 0 ? '' : p.slice(this.i + 1, close);
          if (!/^[0-9A-Fa-f]+$/.test(hex) || parseInt(hex, 16) > MAX_RUNE) {
            this.i = close < 0 ? p.length : close + 1;
            bad();
          }
          this.i = close + 1;
          return parseInt(hex, 16);
        }
        if (!isHex(p[this.i]) || !isHex(p[this.i + 1])) {
          this.i = Math.min(p.length, this.i + 2);
          bad();
        }
        this.i += 2;
        return parseInt(p.slice(this.i - 2, this.i), 16);
      }
      case 'a':
        return 7;
      case 'f':
        return 12;
      case 'n':
        return 10;
      case 'r':
        return 13;
      case 't':
        return 9;
      case 'v':
        return 11;
    }
    // Escaped ASCII punctuation stands for itself; letters, digits and
    // non-ASCII do not (so \d, \w, \s, \b, \pL are errors in POSIX mode).
    const code = c.charCodeAt(0);
    if (code < 0x80 && (!isAlnum(c) || c === '_')) return code;
    if (code >= 0xd800 && code <= 0xdbff) this.i++;
    return bad();
  }

  private charClass(start: number): Node {
    const p = this.p;
    let negated = false;
    if (p[this.i] === '^') {
      negated = true;
      this.i++;
    }
    const ranges: number[] = [];
    let first = true;
    for (;;) {
      if (this.i >= p.length) throw new RegexSyntaxError(`missing ]: ${p.slice(start)}`);
      const ch = p[this.i]!;
      if (ch === ']' && !first) {
        this.i++;
        break;
      }
      // POSIX mode: a `-` that does not make a range must come first or last.
      if (ch === '-' && !first && p[this.i + 1] !== ']') {
        const rest = p.slice(this.i);
        throw new RegexSyntaxError(`invalid character class range: ${rest.slice(0, 2)}`);
      }
      first = false;
      if (ch === '[' && p[this.i + 1] === ':') {
        const close = p.indexOf(':]', this.i + 2);
        if (close >= 0) {
          let name = p.slice(this.i + 2, close);
          const neg = name.startsWith('^');
          if (neg) name = name.slice(1);
          const cls = POSIX_CLASSES[name];
          if (!cls) throw new RegexSyntaxError(`invalid character class range: ${p.slice(this.i, close + 2)}`);
          ranges.push(...(neg ? negate(cls) : cls));
          this.i = close + 2;
          continue;
        }
      }
      const rangeStart = this.i;
      const lo = this.classChar(start);
      if (p[this.i] === '-' && this.i + 1 < p.length && p[this.i + 1] !== ']') {
        this.i++;
        const hi = this.classChar(start);
        if (hi < lo) throw new RegexSyntaxError(`invalid character class range: ${p.slice(rangeStart, this.i)}`);
        ranges.push(lo, hi);
      } else ranges.push(lo, lo);
    }
    const set = normalise(ranges);
    return { t: 'chars', ranges: negated ? negate(set) : set };
  }

  private classChar(classStart: number): number {
    const p = this.p;
    if (this.i >= p.length) throw new RegexSyntaxError(`missing ]: ${p.slice(classStart)}`);
    const at = this.i;
    if (p[at] === '\\') {
      this.i++;
      return this.escape(at);
    }
    const cp = p.codePointAt(at)!;
    this.i += cp > 0xffff ? 2 : 1;
    return cp;
  }

  /**
   * RE2 refuses counted repetitions whose nested counts multiply past 1000,
   * and trees nesting deeper than its limit (stacked `{1}{1}{1}…` included,
   * which keeps the compiler's recursion bounded).
   */
  private checkRepeatProduct(root: Node, factor: number): void {
    const stack: [Node, number, number][] = [[root, factor, 0]];
    while (stack.length > 0) {
      const [node, f, depth] = stack.pop()!;
      if (depth > MAX_NESTING) throw new RegexSyntaxError('expression nests too deeply');
      switch (node.t) {
        case 'cat':
        case 'alt':
          for (const it of node.items) stack.push([it, f, depth + 1]);
          break;
        case 'rep': {
          let g = f;
          if (node.counted) {
            const n = node.max >= 0 ? node.max : node.min;
            if (n > 0) g = f * n;
            if (g > MAX_REPEAT) throw new RegexSyntaxError(`invalid repetition size: nested counts multiply past ${MAX_REPEAT}`);
          }
          stack.push([node.sub, g, depth + 1]);
          break;
        }
        default:
          break;
      }
    }
  }
}

function literal(cp: number): Node {
  return { t: 'chars', ranges: [cp, cp] };
}

// ---- program ---------------------------------------------------------------

const CHARS = 0;
const SPLIT = 1;
const BOL = 2;
const EOL = 3;
const MATCH = 4;

class Program {
  readonly op: number[] = [];
  readonly out: number[] = [];
  readonly out1: number[] = [];
  readonly ranges: (readonly number[] | undefined)[] = [];
  hasBol = false;
  hasEol = false;

  add(op: number, out: number, out1 = -1, ranges?: readonly number[]): number {
    if (this.op.length >= MAX_PROGRAM) throw new RegexSyntaxError('pattern too large - compile failed');
    this.op.push(op);
    this.out.push(out);
    this.out1.push(out1);
    this.ranges.push(ranges);
    if (op === BOL) this.hasBol = true;
    if (op === EOL) this.hasEol = true;
    return this.op.length - 1;
  }

  /** Instructions for `node` continuing at `next`; returns the entry (built back to front). */
  emit(node: Node, next: number): number {
    switch (node.t) {
      case 'empty':
        return next;
      case 'chars':
        return this.add(CHARS, next, -1, node.ranges);
      case 'bol':
        return this.add(BOL, next);
      case 'eol':
        return this.add(EOL, next);
      case 'cat': {
        let pc = next;
        for (let k = node.items.length - 1; k >= 0; k--) pc = this.emit(node.items[k]!, pc);
        return pc;
      }
      case 'alt': {
        const entries = node.items.map((it) => this.emit(it, next));
        let pc = entries[entries.length - 1]!;
        for (let k = entries.length - 2; k >= 0; k--) pc = this.add(SPLIT, entries[k]!, pc);
        return pc;
      }
      case 'rep': {
        const { min, max, sub } = node;
        let pc = next;
        if (max < 0) {
          // sub* looping back through a split.
          const loop = this.add(SPLIT, -1, next);
          this.out[loop] = this.emit(sub, loop);
          pc = loop;
        } else {
          // (sub(sub(…)?)?)? for the optional copies.
          for (let k = 0; k < max - min; k++) pc = this.add(SPLIT, this.emit(sub, pc), next);
        }
        for (let k = 0; k < min; k++) pc = this.emit(sub, pc);
        return pc;
      }
    }
  }
}

// ---- lazy DFA --------------------------------------------------------------

interface DfaState {
  /** NFA instructions reached after the last character (before following empty moves). */
  readonly kernel: readonly number[];
  /** The previous character was `\n` (or there was none): `^` holds here. */
  readonly afterNewline: boolean;
  /** No kernel: nothing can match any more. */
  readonly dead: boolean;
  /** Next state by ASCII code, filled on first use. */
  ascii: (DfaState | undefined)[] | undefined;
  other: Map<number, DfaState> | undefined;
  /** Matches if the text ends here: undefined until computed. */
  acceptsAtEnd: boolean | undefined;
}

/** DFA states kept per pattern before the cache is dropped and rebuilt. */
const MAX_DFA_STATES = 2000;

class LazyDfa {
  private states = new Map<string, DfaState>();
  private start: DfaState;
  /** Visit marks for the closure walk: mark[pc] === generation means visited. */
  private readonly mark: Uint32Array;
  private readonly stepMark: Uint32Array;
  private generation = 0;
  private readonly stack: number[] = [];

  constructor(
    private readonly prog: Program,
    private readonly entry: number,
  ) {
    this.mark = new Uint32Array(prog.op.length);
    this.stepMark = new Uint32Array(prog.op.length);
    this.start = this.intern([entry], true);
  }

  /** Statistics for tests: how many states exist now. */
  get stateCount(): number {
    return this.states.size;
  }

  private intern(kernel: number[], afterNewline: boolean): DfaState {
    kernel.sort((a, b) => a - b);
    const nl = this.prog.hasBol && afterNewline;
    const key = `${nl ? 'n' : ''}${kernel.join(',')}`;
    let s = this.states.get(key);
    if (s === undefined) {
      if (this.states.size >= MAX_DFA_STATES) {
        // Bounded memory: start a new cache (states already handed out stay valid).
        this.states = new Map();
        this.start = this.makeStart();
      }
      s = { kernel, afterNewline: nl, dead: kernel.length === 0, ascii: undefined, other: undefined, acceptsAtEnd: undefined };
      this.states.set(key, s);
    }
    return s;
  }

  private makeStart(): DfaState {
    const kernel = [this.entry];
    const key = `${this.prog.hasBol ? 'n' : ''}${this.entry}`;
    const s: DfaState = { kernel, afterNewline: this.prog.hasBol, dead: false, ascii: undefined, other: undefined, acceptsAtEnd: undefined };
    this.states.set(key, s);
    return s;
  }

  /**
   * Follows empty moves from `s`'s kernel; calls `visitChar` for every
   * character instruction reached and returns whether MATCH was reached.
   */
  private closure(s: DfaState, atLineEnd: boolean, visitChar: ((pc: number) => void) | undefined): boolean {
    const { op, out, out1 } = this.prog;
    const mark = this.mark;
    const gen = this.nextGeneration();
    const stack = this.stack;
    let matched = false;
    for (let k = s.kernel.length - 1; k >= 0; k--) stack.push(s.kernel[k]!);
    while (stack.length > 0) {
      const pc = stack.pop()!;
      if (mark[pc] === gen) continue;
      mark[pc] = gen;
      switch (op[pc]) {
        case CHARS:
          visitChar?.(pc);
          break;
        case SPLIT:
          stack.push(out1[pc]!, out[pc]!);
          break;
        case BOL:
          if (s.afterNewline) stack.push(out[pc]!);
          break;
        case EOL:
          if (atLineEnd) stack.push(out[pc]!);
          break;
        case MATCH:
          matched = true;
          break;
      }
    }
    return matched;
  }

  private nextGeneration(): number {
    if (++this.generation === 0xffffffff) {
      this.mark.fill(0);
      this.stepMark.fill(0);
      this.generation = 1;
    }
    return this.generation;
  }

  private step(s: DfaState, c: number): DfaState {
    const { out, ranges } = this.prog;
    const next: number[] = [];
    const stepMark = this.stepMark;
    // The closure's generation is taken first; the step marks use the next one.
    this.closure(s, c === 10, (pc) => {
      const r = ranges[pc]!;
      for (let k = 0; k < r.length; k += 2) {
        if (c < r[k]!) return;
        if (c <= r[k + 1]!) {
          const to = out[pc]!;
          if (stepMark[to] !== this.generation) {
            stepMark[to] = this.generation;
            next.push(to);
          }
          return;
        }
      }
    });
    const t = this.intern(next, c === 10);
    if (c < 128) (s.ascii ??= new Array<DfaState | undefined>(128).fill(undefined))[c] = t;
    else (s.other ??= new Map()).set(c, t);
    return t;
  }

  private acceptsAtEnd(s: DfaState): boolean {
    s.acceptsAtEnd ??= this.closure(s, true, undefined);
    return s.acceptsAtEnd;
  }

  fullMatch(text: string): boolean {
    let s = this.start;
    const n = text.length;
    for (let i = 0; i < n; i++) {
      let c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
        const lo = text.charCodeAt(i + 1);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
          i++;
        }
      }
      const t = c < 128 ? s.ascii?.[c] : s.other?.get(c);
      s = t ?? this.step(s, c);
      if (s.dead) return false;
    }
    return this.acceptsAtEnd(s);
  }
}

// ---- public ----------------------------------------------------------------

export interface CompiledRegex {
  /** Whether the whole of `text` matches (RE2 ANCHOR_BOTH). */
  fullMatch(text: string): boolean;
}

/** Characters that make a pattern more than a literal string. */
const META = /[\\^$.|?*+()[\]{]/;

/** Compiles `pattern` with libs' RE2 options; throws RegexSyntaxError with RE2's reason. */
export function compileRegex(pattern: string): CompiledRegex {
  const tree = new Parser(pattern).parse();
  if (!META.test(pattern)) return { fullMatch: (text) => text === pattern };
  const prog = new Program();
  const match = prog.add(MATCH, -1);
  const entry = prog.emit(tree, match);
  const dfa = new LazyDfa(prog, entry);
  return { fullMatch: (text) => dfa.fullMatch(text) };
}
