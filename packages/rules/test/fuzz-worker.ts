/**
 * Runs one fuzz suite in a worker thread so the test can notice a hang: the
 * worker posts each case before running it, and the test terminates the
 * worker and reports the last case if the suite does not finish in time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { prng } from '@peregrine/testkit/seeded-random';
import { ConditionSyntaxError, parseCondition } from '../src/condition/parser.ts';
import { checkCondition } from '../src/compile/check.ts';
import { compileCondition } from '../src/compile/condition.ts';
import { ConditionCompileError } from '../src/compile/errors.ts';
import { compileGlob } from '../src/compile/glob.ts';
import { compileRegex, RegexSyntaxError } from '../src/compile/re2.ts';
import type { FieldExtractor, FieldValue } from '../src/extract.ts';
import { ERROR_CODES, loadRuleSources } from '../src/index.ts';

export interface FuzzJob {
  readonly suite: 'rules-files' | 'conditions' | 'regex-glob';
  readonly seed: number;
  readonly cases: number;
}

export type FuzzMessage =
  | { readonly kind: 'case'; readonly index: number; readonly input: string }
  | { readonly kind: 'failure'; readonly index: number; readonly input: string; readonly problem: string }
  | { readonly kind: 'done'; readonly ran: number };

type Rand = () => number;
const int = (r: Rand, n: number): number => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)]!;

/** Messages of JS engine errors: a crash caught and reported as if it were a load error. */
const INTERNAL_ERROR =
  /Maximum call stack|Cannot read propert|Cannot set propert|Cannot destructure|is not a function|is not iterable|^\w+ is not defined$|Invalid array length|\bundefined\b|\[object Object\]/;

// ---- rules files --------------------------------------------------------------

const CONDITIONS = [
  'evt.type = execve and proc.name = bash',
  'spawned_process and proc.cmdline regex "([a-z]+)*[0-9]"',
  'open_write and fd.name glob "/etc/*"',
  'evt.type in (open, openat) and fd.name pmatch (/etc, /var/*/x)',
  'proc.name in (shell_binaries) or not proc.pname exists',
  'fd.name iglob "*.SO*" and proc.args icontains "-c"',
  'proc.aname[2] startswith sh and evt.num > 3',
  '(a or (b and not c)',
  'proc.name = ',
  'proc.cmdline regex "(?i)x"',
];
const ITEMS = [
  (c: string) => `- macro: spawned_process\n  condition: evt.type = execve\n`,
  (c: string) => `- macro: open_write\n  condition: ${c}\n`,
  (c: string) => `- list: shell_binaries\n  items: [bash, sh, "zsh", '']\n`,
  (c: string) => `- rule: R${c.length}\n  desc: d\n  condition: ${c}\n  output: "%proc.name %fd.name"\n  priority: WARNING\n`,
  (c: string) => `- rule: E\n  desc: d\n  condition: ${c}\n  output: o\n  priority: INFO\n  exceptions:\n    - name: ex\n      fields: [proc.name, fd.name]\n      comps: [=, glob]\n      values:\n        - [bash, "/tmp/*"]\n`,
  (c: string) => `- macro: m\n  condition: m\n`,
  (c: string) => `- required_engine_version: 0.26.0\n`,
  (c: string) => `- rule: R${c.length}\n  ${pick(prng(c.length), ['append: true', 'override:\n    condition: append', 'enabled: false'])}\n  condition: and ${c}\n`,
];
const JUNK = ['\n', ' ', '  ', '- ', ':', '"', "'", '[', ']', '{', '}', '(', ')', ',', '#', '&a', '*a', '!!str', '\t', '|', '>', '%', '\\', '\u0000', 'é', '😀', 'macro', 'rule', 'condition', 'and', 'or', 'not', 'regex', 'glob'];

function mutate(r: Rand, text: string): string {
  let s = text;
  const edits = 1 + int(r, 4);
  for (let k = 0; k < edits; k++) {
    const at = int(r, s.length + 1);
    switch (int(r, 4)) {
      case 0:
        s = s.slice(0, at) + pick(r, JUNK) + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1 + int(r, 8));
        break;
      case 2: {
        const from = int(r, s.length + 1);
        s = s.slice(0, at) + s.slice(from, from + int(r, 40)) + s.slice(at);
        break;
      }
      default: {
        const lines = s.split('\n');
        const i = int(r, lines.length);
        lines.splice(i, 0, lines[int(r, lines.length)] ?? '');
        s = lines.join('\n');
      }
    }
  }
  return s;
}

function randomRulesFile(r: Rand): string {
  let yaml = '';
  const n = 1 + int(r, 6);
  for (let i = 0; i < n; i++) yaml += pick(r, ITEMS)(pick(r, CONDITIONS));
  return r() < 0.7 ? mutate(r, yaml) : yaml;
}

function checkRulesFile(yaml: string): string | undefined {
  const result = loadRuleSources([{ name: 'fuzz.yaml', content: yaml }]);
  if (result.ok !== (result.errors.length === 0)) return `ok=${result.ok} with ${result.errors.length} errors`;
  for (const d of [...result.errors, ...result.warnings]) {
    if (d.severity === 'error' && !(ERROR_CODES as readonly string[]).includes(d.code)) return `unknown error code ${d.code}`;
    if (d.file !== 'fuzz.yaml' || !(d.line >= 1) || !(d.col >= 1)) return `bad position ${d.file}:${d.line}:${d.col} for ${d.message}`;
    if (INTERNAL_ERROR.test(d.message)) return `internal error reported as ${d.code}: ${d.message}`;
  }
  return undefined;
}

// ---- conditions ---------------------------------------------------------------

type Ev = Record<string, FieldValue>;
const byText: FieldExtractor<Ev> = { accessor: (ref) => (ev) => ev[ref.text] };

function checkConditionText(text: string): string | undefined {
  try {
    const expr = parseCondition(text);
    const issues = checkCondition(expr);
    if (issues.errors.length === 0) compileCondition(expr, byText)({ 'proc.name': 'bash', 'fd.name': '/etc/x' });
  } catch (e) {
    if (e instanceof ConditionSyntaxError || e instanceof ConditionCompileError) {
      return INTERNAL_ERROR.test(e.message) ? `internal error as ${e.name}: ${e.message}` : undefined;
    }
    return `threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
  }
  return undefined;
}

// ---- regex and glob -----------------------------------------------------------

const RE_ATOMS = ['a', 'b', '.', '[ab]', '[^a]', '[[:digit:]]', '\\.', 'x', '0', '\n', '^', '$', '()'];
const RE_POSTFIX = ['', '', '*', '+', '?', '{2}', '{1,3}', '{0,}', '**'];

/** A random pattern in the syntax RE2 (POSIX) and JS share, and its JS translation. */
function randomRegex(r: Rand, depth = 0): { re2: string; js: string } {
  const parts: { re2: string; js: string }[] = [];
  const n = 1 + int(r, 4);
  for (let i = 0; i < n; i++) {
    let atom: { re2: string; js: string };
    if (depth < 3 && r() < 0.25) {
      const inner = randomRegex(r, depth + 1);
      const alt = r() < 0.4 ? randomRegex(r, depth + 1) : undefined;
      atom = alt ? { re2: `(${inner.re2}|${alt.re2})`, js: `(?:${inner.js}|${alt.js})` } : { re2: `(${inner.re2})`, js: `(?:${inner.js})` };
    } else {
      const a = pick(r, RE_ATOMS);
      // JS `.` also stops at \r and \u2028; RE2 only at \n.
      const js: Record<string, string> = { '.': '[^\\n]', '()': '(?:)', '^': '(?:^)', $: '(?:$)', '[[:digit:]]': '[0-9]' };
      atom = { re2: a, js: js[a] ?? a };
    }
    const post = a0(atom.re2) ? '' : pick(r, RE_POSTFIX);
    // JS refuses stacked quantifiers; x** is x* in RE2.
    parts.push({ re2: atom.re2 + post, js: atom.js + (post === '**' ? '*' : post) });
  }
  return { re2: parts.map((p) => p.re2).join(''), js: parts.map((p) => p.js).join('') };
}
/** Anchors are not repeated in the generated patterns (JS refuses `^*`). */
const a0 = (atom: string): boolean => atom === '^' || atom === '$';

function randomText(r: Rand, alphabet: string, max: number): string {
  let s = '';
  const n = int(r, max + 1);
  for (let i = 0; i < n; i++) s += alphabet[int(r, alphabet.length)]!;
  return s;
}

/** fnmatch by plain recursion: the exponential reference the fast matcher must agree with. */
function referenceGlob(p: string, s: string): boolean {
  const go = (i: number, j: number): boolean => {
    if (i === p.length) return j === s.length;
    const c = p[i]!;
    if (c === '*') {
      for (let k = j; k <= s.length; k++) if (go(i + 1, k)) return true;
      return false;
    }
    if (j === s.length) return false;
    if (c === '?') return go(i + 1, j + 1);
    if (c === '[') {
      const close = p.indexOf(']', i + 2);
      if (close > 0) {
        let body = p.slice(i + 1, close);
        const neg = body.startsWith('!');
        if (neg) body = body.slice(1);
        let has = false;
        for (let k = 0; k < body.length; k++) {
          if (body[k + 1] === '-' && k + 2 < body.length) {
            if (s[j]! >= body[k]! && s[j]! <= body[k + 2]!) has = true;
            k += 2;
          } else if (body[k] === s[j]) has = true;
        }
        return has !== neg && go(close + 1, j + 1);
      }
    }
    return c === s[j] && go(i + 1, j + 1);
  };
  return go(0, 0);
}

const GLOB_ATOMS = ['a', 'b', '/', '*', '*', '?', '[ab]', '[!a]', '[a-b]', '.'];

function checkRegexGlob(r: Rand, index: number, post: (input: string) => void): string | undefined {
  if (index % 2 === 0) {
    const { re2, js } = randomRegex(r);
    const compiled = compileRegex(re2);
    const oracle = new RegExp(`(?<![\\s\\S])(?:${js})(?![\\s\\S])`, 'm');
    for (let k = 0; k < 12; k++) {
      const text = randomText(r, 'ab0x.\n', 8);
      post(`regex ${JSON.stringify(re2)} on ${JSON.stringify(text)}`);
      if (compiled.fullMatch(text) !== oracle.test(text)) return `regex ${JSON.stringify(re2)} on ${JSON.stringify(text)}: ours ${!oracle.test(text)}, JS ${oracle.test(text)}`;
    }
    // Long hostile values: must finish (the hang guard is the worker's timeout).
    const long = randomText(r, 'ab0x', 4000);
    post(`regex ${JSON.stringify(re2)} on ${long.length} chars`);
    compiled.fullMatch(long);
    return undefined;
  }
  let pattern = '';
  const n = 1 + int(r, 8);
  for (let i = 0; i < n; i++) pattern += pick(r, GLOB_ATOMS);
  const match = compileGlob(pattern);
  for (let k = 0; k < 12; k++) {
    const text = randomText(r, 'ab/.', 8);
    post(`glob ${JSON.stringify(pattern)} on ${JSON.stringify(text)}`);
    if (match(text) !== referenceGlob(pattern, text)) return `glob ${JSON.stringify(pattern)} on ${JSON.stringify(text)}: ours ${match(text)}`;
  }
  const long = `${'/a'.repeat(100 + int(r, 2000))}`;
  post(`glob ${JSON.stringify(pattern)} on ${long.length} chars`);
  compileGlob(`${pattern}${'*a'.repeat(int(r, 50))}*b`)(long);
  return undefined;
}

/** Random patterns, including invalid ones: compile either works or throws RegexSyntaxError. */
function checkRegexSyntax(r: Rand): string | undefined {
  let p = '';
  const n = int(r, 12);
  const pieces = ['(', ')', '[', ']', '{', '}', '{2,1}', '{1001}', '\\', '\\d', '\\x{41}', '\\x4', '|', '*', '+', '?', '^', '$', 'a', '-', '[:alpha:]', '[:x:]', '😀', ','];
  for (let i = 0; i < n; i++) p += pick(r, pieces);
  try {
    compileRegex(p).fullMatch(randomText(r, 'a-[]{}', 20));
  } catch (e) {
    if (e instanceof RegexSyntaxError) return undefined;
    return `pattern ${JSON.stringify(p)} threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
  }
  return undefined;
}

// ---- driver -------------------------------------------------------------------

function main(job: FuzzJob): void {
  const port = parentPort!;
  const r = prng(job.seed);
  const send = (m: FuzzMessage): void => port.postMessage(m);
  for (let i = 0; i < job.cases; i++) {
    let input = '';
    const post = (text: string): void => {
      input = text;
      send({ kind: 'case', index: i, input });
    };
    let problem: string | undefined;
    try {
      switch (job.suite) {
        case 'rules-files': {
          const yaml = randomRulesFile(r);
          post(yaml);
          problem = checkRulesFile(yaml);
          break;
        }
        case 'conditions': {
          const text = r() < 0.8 ? mutate(r, pick(r, CONDITIONS)) : pick(r, CONDITIONS);
          post(text);
          problem = checkConditionText(text);
          break;
        }
        case 'regex-glob':
          problem = checkRegexGlob(r, i, post) ?? checkRegexSyntax(r);
          break;
      }
    } catch (e) {
      problem = `threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
    }
    if (problem !== undefined) send({ kind: 'failure', index: i, input, problem });
  }
  send({ kind: 'done', ran: job.cases });
}

if (parentPort && workerData) main(workerData as FuzzJob);
