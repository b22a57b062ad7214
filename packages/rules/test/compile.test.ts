import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCondition } from '../src/condition/parser.ts';
import { compileCondition } from '../src/compile/condition.ts';
import { checkCondition } from '../src/compile/check.ts';
import { eventTypesOf } from '../src/compile/event-types.ts';
import { ConditionCompileError, type CompileWarning } from '../src/compile/errors.ts';
import type { FieldExtractor, FieldValue } from '../src/extract.ts';

/** Test events: a map from canonical field text to value; absent = missing. */
type Ev = Record<string, FieldValue>;
const byText: FieldExtractor<Ev> = { accessor: (ref) => (ev) => ev[ref.text] };

function run(condition: string, ev: Ev): boolean {
  return compileCondition(parseCondition(condition), byText)(ev);
}
function compileError(condition: string): ConditionCompileError {
  try {
    compileCondition(parseCondition(condition), byText);
  } catch (e) {
    assert.ok(e instanceof ConditionCompileError, `expected ConditionCompileError, got ${String(e)}`);
    return e;
  }
  assert.fail(`expected '${condition}' to fail to compile`);
}

const ev: Ev = {
  'evt.type': 'openat',
  'proc.name': 'bash',
  'proc.cmdline': 'bash -c "curl http://x"',
  'proc.aname': ['sshd', 'systemd'],
  'proc.aname[1]': 'sshd',
  'proc.pid': 1234,
  'fd.name': '/var/run/docker.sock',
  'fd.num': 3,
  'fd.typechar': 'f',
  'evt.is_open_read': true,
  'evt.rawres': -2,
  'fd.sip': '10.1.2.3',
  'proc.args': '-n -t 5 --verbose',
  'evt.buffer': 'AB\u0001C',
  'proc.env': 'HOME=/root',
};

test('string operators', () => {
  assert.equal(run('proc.name = bash', ev), true);
  assert.equal(run('proc.name == bash', ev), true);
  assert.equal(run('proc.name = Bash', ev), false);
  assert.equal(run('proc.name != sh', ev), true);
  assert.equal(run('proc.cmdline contains curl', ev), true);
  assert.equal(run('proc.cmdline icontains CURL', ev), true);
  assert.equal(run('proc.name startswith ba', ev), true);
  assert.equal(run('proc.name endswith sh', ev), true);
  assert.equal(run('proc.name in (sh, bash)', ev), true);
  assert.equal(run('proc.name intersects (sh, zsh)', ev), false);
});

test('glob: * matches /, ? and classes; iglob folds case', () => {
  assert.equal(run('fd.name glob /var/*', ev), true);
  assert.equal(run('fd.name glob /var/run/docker.soc?', ev), true);
  assert.equal(run('fd.name glob /var/run/[cd]ocker.sock', ev), true);
  assert.equal(run('fd.name glob /var/run/[!d]ocker.sock', ev), false);
  assert.equal(run('fd.name iglob /VAR/*', ev), true);
  assert.equal(run('fd.name glob /etc/*', ev), false);
});

test('regex is a full match', () => {
  assert.equal(run('proc.name regex "ba.h"', ev), true);
  assert.equal(run('proc.name regex "ba"', ev), false);
  assert.equal(run('proc.name regex "b.*"', ev), true);
  assert.match(compileError('proc.name regex "("').message, /invalid regular expression/);
});

test('pmatch is a path-prefix match by components', () => {
  assert.equal(run('fd.name pmatch (/var/run)', ev), true);
  assert.equal(run('fd.name pmatch (/var/ru)', ev), false);
  assert.equal(run('fd.name pmatch (/var/run/docker.sock)', ev), true);
  assert.equal(run('fd.name pmatch (/etc, /var/*/docker.sock)', ev), true);
  assert.equal(run('fd.name pmatch (/var/run/docker.sock/x)', ev), false);
  assert.equal(run('fd.name pmatch (/var//run/)', ev), true);
});

test('numeric and boolean fields: constants parsed by type', () => {
  assert.equal(run('proc.pid = 1234', ev), true);
  assert.equal(run('proc.pid > 1000 and proc.pid <= 1234', ev), true);
  assert.equal(run('proc.pid in (1, 1234)', ev), true);
  assert.equal(run('evt.rawres < 0', ev), true);
  assert.equal(run('evt.is_open_read = true', ev), true);
  assert.equal(run('evt.is_open_read = false', ev), false);
  assert.throws(() => run('proc.pid = 0x10', ev), ConditionCompileError);
  assert.throws(() => run('evt.is_open_read = yes', ev), ConditionCompileError);
});

test('a missing field makes every comparison false, != included; exists tells', () => {
  const empty: Ev = { 'evt.type': 'openat' };
  for (const c of ['proc.pname = bash', 'proc.pname != bash', 'proc.pname contains b', 'proc.pname in (bash)', 'proc.pid > 0', 'fd.name pmatch (/)', 'proc.pname glob *']) {
    assert.equal(run(c, empty), false, c);
  }
  assert.equal(run('not proc.pname = bash', empty), true);
  assert.equal(run('proc.pname exists', empty), false);
  assert.equal(run('proc.name exists', ev), true);
});

test('proc.aname without index means any ancestor; with index a position', () => {
  assert.equal(run('proc.aname = sshd', ev), true);
  assert.equal(run('proc.aname = systemd', ev), true);
  assert.equal(run('proc.aname = bash', ev), false, 'self is not an ancestor');
  assert.equal(run('proc.aname in (init, systemd)', ev), true);
  assert.equal(run('proc.aname[1] = sshd', ev), true);
  assert.equal(run('proc.aname[3] = sshd', ev), false, 'missing ancestor is false');
});

test('ip and network comparisons', () => {
  assert.equal(run('fd.sip = 10.1.2.3', ev), true);
  assert.equal(run('fd.sip in (10.1.2.3, 10.1.2.4)', ev), true);
  assert.equal(run('fd.snet in ("10.0.0.0/8", "192.168.0.0/16")', { 'fd.snet': '10.1.2.3' }), true);
  assert.equal(run('fd.net = "127.0.0.0/8"', { 'fd.net': '10.1.2.3' }), false);
  assert.equal(run('fd.net != "127.0.0.0/8"', { 'fd.net': '10.1.2.3' }), true);
});

test('and/or/not short-circuit and combine', () => {
  assert.equal(run('proc.name = bash and (fd.num = 3 or fd.num = 4)', ev), true);
  assert.equal(run('proc.name = sh or not fd.num = 4', ev), true);
  assert.equal(run('proc.name = bash and fd.num = 4 and proc.pid = 1234', ev), false);
});

test('transformers', () => {
  assert.equal(run('toupper(proc.name) = BASH', ev), true);
  assert.equal(run('tolower(toupper(proc.name)) = bash', ev), true);
  assert.equal(run('basename(fd.name) = docker.sock', ev), true);
  assert.equal(run('len(proc.name) = 4', ev), true);
  assert.equal(run('b64(proc.env) exists', { 'proc.env': 'aGVsbG8=' }), true);
  assert.equal(run('b64(proc.env) = hello', { 'proc.env': 'aGVsbG8=' }), true);
  assert.equal(run('join("-", (proc.name, fd.typechar)) = bash-f', ev), true);
  assert.equal(run('concat(proc.name, "-", fd.typechar) = bash-f', ev), true);
  assert.equal(run('getopt(proc.args, "nt:")[t] = 5', ev), true);
  assert.equal(run('getopt(proc.args, "nt:")[n] = ""', ev), true);
  assert.equal(run('getopt(proc.args, "nt:")[x] exists', ev), false);
  assert.match(compileError('len(proc.name) = abc').message, /abc/);
});

test('val() compares two fields', () => {
  assert.equal(run('proc.name = val(proc.pname)', { 'proc.name': 'sshd', 'proc.pname': 'sshd' }), true);
  assert.equal(run('proc.name = val(proc.pname)', { 'proc.name': 'bash', 'proc.pname': 'sshd' }), false);
  assert.equal(run('proc.name != val(proc.pname)', { 'proc.name': 'bash' }), false, 'missing right side is false');
  assert.match(compileError('proc.name = val(proc.aname[1])').message, /right-hand side/);
  assert.match(compileError('fd.name pmatch val(proc.name)').message, /doesn't support right-hand side fields/);
});

test('modifiers oneof / anyof / allof', () => {
  assert.equal(run('proc.name contains oneof (ba, sh)', ev), false, 'two match, not exactly one');
  assert.equal(run('proc.name contains oneof (ba, zz)', ev), true);
  assert.equal(run('proc.name contains anyof (zz, sh)', ev), true);
  assert.equal(run('proc.name contains allof (ba, sh)', ev), true);
  assert.equal(run('proc.name contains allof (ba, zz)', ev), false);
  assert.equal(run('proc.name == anyof ()', ev), false);
});

test('bcontains / bstartswith take hex', () => {
  assert.equal(run('evt.buffer bcontains 4201', ev), true);
  assert.equal(run('evt.buffer bstartswith 4142', ev), true);
  assert.equal(run('evt.buffer bcontains 4143', ev), false);
  assert.match(compileError('evt.buffer bcontains xyz').message, /hex/);
});

test('compile errors: unknown field with suggestion, operator by type, event types, macros', () => {
  assert.match(compileError('proc.nme = bash').message, /proc\.nme/);
  assert.match(compileError('proc.nme = bash').message, /did you mean 'proc\.name'/);
  assert.match(compileError('proc.pid contains 1').message, /'contains' operator not supported/);
  assert.match(compileError('evt.type = opne').message, /unknown event type opne/);
  assert.match(compileError('some_macro').message, /Undefined macro 'some_macro' used in filter\./);
  const e = compileError('proc.name = a and\n  fd.nam = b');
  assert.equal(e.pos?.line, 2);
});

test('checkCondition reports errors and field-like constant warnings', () => {
  const bad = checkCondition(parseCondition('fd.mode = 0755'));
  assert.equal(bad.errors.length, 1);
  assert.match(bad.errors[0]!.message, /evt\.arg\.mode/);
  const warn = checkCondition(parseCondition('proc.name = proc.pname'));
  assert.equal(warn.errors.length, 0);
  assert.match(warn.warnings.map((w) => w.message).join('\n'), /may be a valid field misused as a const string value/);
});

test('event-type sets follow the ppm_codes algebra', () => {
  const types = (c: string) => {
    const t = eventTypesOf(parseCondition(c));
    return t === 'all' ? 'all' : [...t].sort();
  };
  assert.deepEqual(types('evt.type in (open, openat) and proc.name = x'), ['open', 'openat']);
  assert.deepEqual(types('evt.type = open or evt.type = connect'), ['connect', 'open']);
  assert.deepEqual(types('evt.type in (open, openat) and evt.type != open'), ['openat']);
  assert.equal(types('proc.name = bash'), 'all');
  assert.equal(types('evt.type != open'), 'all');
  assert.deepEqual(types('not evt.type != open'), ['open']);
  assert.deepEqual(types('evt.num = 0'), []);
  assert.deepEqual(types('evt.type = execve and not (proc.name = a or evt.type = open)'), ['execve']);
});

test('warnings slot collects deprecated fields', () => {
  const warnings: CompileWarning[] = [];
  compileCondition(parseCondition('evt.dir = <'), byText, warnings);
  assert.ok(warnings.some((w) => /deprecated/.test(w.message)));
});
