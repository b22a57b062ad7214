/**
 * `regex` and `glob`: Falco's semantics (RE2 with libs' POSIX options, full
 * match; fnmatch with flags 0) and no backtracking on values from the watched
 * host. The attack cases below did not finish before (a JS RegExp each).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCondition } from '../src/condition/parser.ts';
import { compileCondition } from '../src/compile/condition.ts';
import { ConditionCompileError } from '../src/compile/errors.ts';
import { compileGlob } from '../src/compile/glob.ts';
import { compileRegex, RegexSyntaxError } from '../src/compile/re2.ts';
import type { FieldExtractor, FieldValue } from '../src/extract.ts';
import { loadRuleSources } from '../src/index.ts';

type Ev = Record<string, FieldValue>;
const byText: FieldExtractor<Ev> = { accessor: (ref) => (ev) => ev[ref.text] };
const run = (condition: string, ev: Ev): boolean => compileCondition(parseCondition(condition), byText)(ev);
const re = (pattern: string, text: string): boolean => compileRegex(pattern).fullMatch(text);

describe('attacks that used to block the event loop', () => {
  it('proc.cmdline regex "([a-z]+)*[0-9]" against long non-matching command lines (37 letters hung > 60 s)', () => {
    const cond = 'proc.cmdline regex "([a-z]+)*[0-9]"';
    for (const n of [37, 1_000, 100_000]) {
      assert.equal(run(cond, { 'proc.cmdline': 'a'.repeat(n) }), false, `${n} letters`);
      assert.equal(run(cond, { 'proc.cmdline': `${'a'.repeat(n)}7` }), true, `${n} letters and a digit`);
    }
  });

  it('other classic exponential patterns: (a|a)*b, (a*)*b, (a|aa)+$ on 10,000 characters', () => {
    const text = 'a'.repeat(10_000);
    for (const p of ['(a|a)*b', '(a*)*b', '(a|aa)+c', '(.*a){20}x', '(a+)+b']) assert.equal(re(p, text), false, p);
    assert.equal(re('(a|aa)+', text), true);
    assert.equal(re('(.*a){20}', text), true);
  });

  it('glob with many * on a 200-segment path (3 s before) matches and misses correctly', () => {
    const path = `/${Array.from({ length: 200 }, (_, i) => `d${i}`).join('/')}`;
    const stars = `/${Array.from({ length: 60 }, () => '*').join('/')}`;
    assert.equal(run(`fd.name glob "${stars}/x"`, { 'fd.name': path }), false);
    assert.equal(run(`fd.name glob "${stars}/d199"`, { 'fd.name': path }), true);
    assert.equal(run(`fd.name glob "${'*d1'.repeat(60)}*z"`, { 'fd.name': path }), false);
    assert.equal(run(`fd.name glob "${'*d1'.repeat(60)}*"`, { 'fd.name': path }), true);
    assert.equal(run(`fd.name iglob "${'*D1?'.repeat(50)}*Q"`, { 'fd.name': path }), false);
    // The upstream rule's pattern against a long traversal.
    assert.equal(run(`fd.name glob '*../*../*'`, { 'fd.name': '../'.repeat(5_000) }), true);
    assert.equal(run(`fd.name glob '*../*../*x'`, { 'fd.name': '../'.repeat(5_000) }), false);
  });
});

describe('regex: RE2 with libs options (POSIX syntax, full match)', () => {
  it('matches the whole value', () => {
    assert.equal(re('ba.h', 'bash'), true);
    assert.equal(re('ba', 'bash'), false);
    assert.equal(re('ash', 'bash'), false);
    assert.equal(re('b.*', 'bash'), true);
    assert.equal(re('', ''), true);
    assert.equal(re('', 'x'), false);
  });

  it('ERE syntax: alternation, groups, * + ? {n,m}, classes, POSIX classes, escapes', () => {
    assert.equal(re('research[0-9]+', 'research42'), true);
    assert.equal(re('pentest-[0-9]{2,4}', 'pentest-123'), true);
    assert.equal(re('pentest-[0-9]{2,4}', 'pentest-12345'), false);
    assert.equal(re('pentest-[0-9]{2,4}', 'pentest-1'), false);
    assert.equal(re('x{2,}', 'xxxxx'), true);
    assert.equal(re('x{3}', 'xx'), false);
    assert.equal(re('(curl|wget) .*', 'wget http://a'), true);
    assert.equal(re('a|b|', ''), true);
    assert.equal(re('[[:alpha:]_][[:alnum:]_]*', '_x9'), true);
    assert.equal(re('[[:digit:]]+', '12a'), false);
    assert.equal(re('[^/]+', 'a/b'), false);
    assert.equal(re('[]a]+', ']a'), true);
    assert.equal(re('[a-]+', 'a-a'), true);
    assert.equal(re('\\.\\*\\x41\\101\\t', '.*AA\t'), true);
    assert.equal(re('x{', 'x{'), true, 'a { that starts no repetition is a literal');
    assert.equal(re('a**', 'aaa'), true, 'stacked operators are allowed in POSIX mode');
  });

  it('. is any character but newline; a negated class includes newline; ^ and $ work per line', () => {
    assert.equal(re('a.b', 'a\nb'), false);
    assert.equal(re('a[^x]b', 'a\nb'), true);
    assert.equal(re('a$\n^b', 'a\nb'), true);
    assert.equal(re('a^b', 'ab'), false);
    assert.equal(re('^abc$', 'abc'), true);
  });

  it('matches code points, not UTF-16 units', () => {
    assert.equal(re('caf.', 'café'), true);
    assert.equal(re('.', '😀'), true);
    assert.equal(re('[😀-😂]x', '😁x'), true);
  });

  it('refuses what RE2 refuses with these options, with RE2\'s reason', () => {
    const cases: [string, RegExp][] = [
      ['(', /missing \): \(/],
      ['a)', /unexpected \)/],
      ['*a', /no argument for repetition operator: \*/],
      ['\\d+', /invalid escape sequence: \\d/],
      ['\\w', /invalid escape sequence: \\w/],
      ['\\s', /invalid escape sequence: \\s/],
      ['a\\b', /invalid escape sequence: \\b/],
      ['(?:a)', /no argument for repetition operator: \?/],
      ['(?i)a', /no argument for repetition operator: \?/],
      ['\\pL', /invalid escape sequence: \\p/],
      ['\\1', /invalid escape sequence: \\1/],
      ['a{1001}', /invalid repetition size: \{1001\}/],
      ['(a{100}){100}', /invalid repetition size/],
      ['[a', /missing \]: \[a/],
      ['[z-a]', /invalid character class range: z-a/],
      ['[[:foo:]]', /invalid character class range: \[:foo:\]/],
      ['a\\', /trailing \\/],
      ['('.repeat(2000) + ')'.repeat(2000), /expression nests too deeply/],
      ['a' + '{1}'.repeat(5000), /expression nests too deeply/],
      ['(x{1000}){1}' + 'y{1000}'.repeat(200), /pattern too large/],
    ];
    for (const [pattern, reason] of cases) {
      assert.throws(() => compileRegex(pattern), (e: unknown) => e instanceof RegexSyntaxError && reason.test(e.message), pattern.slice(0, 40));
    }
  });

  it('an invalid pattern is a compile error naming the pattern', () => {
    const err = (() => {
      try {
        run('proc.name regex \\d+', {});
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof ConditionCompileError, `expected a ConditionCompileError, got ${String(err)}`);
    assert.match(err.message, /invalid regular expression '\\d\+': invalid escape sequence: \\d/);
  });

  it('in a rules file an invalid pattern is a positioned LOAD_ERR_COMPILE_CONDITION', () => {
    const yaml = [
      '- rule: r',
      '  desc: d',
      '  condition: evt.type = execve and proc.cmdline regex "(?i)curl"',
      '  output: o',
      '  priority: INFO',
      '',
    ].join('\n');
    const result = loadRuleSources([{ name: 'bad-regex.yaml', content: yaml }]);
    assert.equal(result.ok, false);
    const [e] = result.errors;
    assert.equal(e?.code, 'LOAD_ERR_COMPILE_CONDITION');
    assert.match(e!.message, /invalid regular expression '\(\?i\)curl': no argument for repetition operator: \?/);
    assert.equal(e!.line, 3);
  });

  it('modifiers work over regex', () => {
    assert.equal(run('proc.name regex oneof (ba.*, b.sh)', { 'proc.name': 'bash' }), false);
    assert.equal(run('proc.name regex anyof (zsh, b.sh)', { 'proc.name': 'bash' }), true);
  });
});

describe('glob: fnmatch(3) with flags 0 (iglob: FNM_CASEFOLD)', () => {
  const g = (pattern: string, text: string, fold = false): boolean => compileGlob(pattern, fold)(text);

  it('* matches any run including / and a leading dot; ? one character', () => {
    assert.equal(g('/var/*', '/var/run/docker.sock'), true);
    assert.equal(g('/home/*/.ssh/*', '/home/u/.ssh/id_rsa'), true);
    assert.equal(g('/home/*/.ssh/*', '/home/u/ssh/id_rsa'), false);
    assert.equal(g('*', ''), true);
    assert.equal(g('*', '.hidden'), true);
    assert.equal(g('a*b*c', 'abc'), true);
    assert.equal(g('a*b*c', 'acb'), false);
    assert.equal(g('a*b*c', 'axxbyybzzc'), true);
    assert.equal(g('*ab', 'aab'), true);
    assert.equal(g('?', ''), false);
    assert.equal(g('??', 'ab'), true);
    assert.equal(g('/proc/*/environ', '/proc/1/environ'), true);
    assert.equal(g('/proc/*/environ', '/proc/1/environ/x'), false);
  });

  it('brackets: sets, ranges, negation with ! or ^, a leading ], [:classes:], unclosed [ literal', () => {
    assert.equal(g('[cd]ocker', 'docker'), true);
    assert.equal(g('[!d]ocker', 'docker'), false);
    assert.equal(g('[^d]ocker', 'rocker'), true);
    assert.equal(g('[a-c]x', 'bx'), true);
    assert.equal(g('[a-c]x', 'dx'), false);
    assert.equal(g('[]]', ']'), true);
    assert.equal(g('[!]]', 'a'), true);
    assert.equal(g('[[:digit:]][[:alpha:]]', '1a'), true);
    assert.equal(g('[[:digit:]]', 'a'), false);
    assert.equal(g('a[b', 'a[b'), true);
    assert.equal(g('[a-]', '-'), true);
    assert.equal(g('[\\]]', ']'), true);
  });

  it('backslash escapes the next character; a trailing backslash matches nothing', () => {
    assert.equal(g('a\\*', 'a*'), true);
    assert.equal(g('a\\*', 'ab'), false);
    assert.equal(g('\\**', '*xyz'), true);
    assert.equal(g('\\**', 'xyz'), false);
    assert.equal(g('a\\', 'a\\'), false);
  });

  it('iglob folds case, also inside brackets', () => {
    assert.equal(g('/VAR/*', '/var/run', true), true);
    assert.equal(g('*.EXE', 'A.exe', true), true);
    assert.equal(g('[A-C]x', 'bX', true), true);
    assert.equal(g('[a-c]x', 'BX', true), true);
    assert.equal(g('/VAR/*', '/var/run'), false);
  });

  it('pmatch components use the same matcher', () => {
    assert.equal(run('fd.name pmatch (/opt/*/subdir)', { 'fd.name': '/opt/a/subdir/f' }), true);
    assert.equal(run('fd.name pmatch (/opt/di?/x)', { 'fd.name': '/opt/dix/x' }), true);
    assert.equal(run('fd.name pmatch (/opt/di?/x)', { 'fd.name': '/opt/di/x' }), false);
  });
});
