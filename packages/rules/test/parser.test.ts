import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCondition, ConditionSyntaxError, parseOperand } from '../src/condition/parser.ts';
import { asString } from '../src/condition/as-string.ts';
import { escapeString, unescapeQuoted } from '../src/condition/escaping.ts';

const canon = (s: string) => asString(parseCondition(s));

function rejects(input: string, message?: string | RegExp): ConditionSyntaxError {
  try {
    parseCondition(input);
  } catch (e) {
    assert.ok(e instanceof ConditionSyntaxError, `expected a ConditionSyntaxError for ${input}`);
    if (message) assert.match(e.message, typeof message === 'string' ? new RegExp(escapeRe(message)) : message);
    return e;
  }
  assert.fail(`expected '${input}' to be rejected`);
}
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('precedence: not > and > or, chains flattened', () => {
  assert.equal(canon('a.a=1 or b.b=2 and c'), '(a.a = 1 or (b.b = 2 and c))');
  assert.equal(canon('evt.name exists and evt.type in (a, b) or proc.name=cat'), '((evt.name exists and evt.type in (a, b)) or proc.name = cat)');
  assert.equal(canon('a and b and c or d'), '((a and b and c) or d)');
  assert.equal(canon('not a and b'), '(not a and b)');
  assert.equal(canon('not (a and b)'), 'not (a and b)');
});

test('runs of not collapse by parity', () => {
  const ast = parseCondition('not not not not not(not not(not not_macro))');
  assert.equal(ast.kind, 'not');
  assert.equal(ast.kind === 'not' && ast.child.kind, 'not');
  assert.equal(canon('not not a'), 'a');
});

test('keywords need a blank or a parenthesis after them', () => {
  for (const bad of ['a andb', 'aand b', 'a orb', '(a)andnot(b)', 'a not b']) rejects(bad);
  assert.equal(canon('(a)and(b)'), '(a and b)');
  assert.equal(canon('notz'), 'notz');
  assert.equal(canon('not_macro and and_macro'), '(not_macro and and_macro)');
  assert.equal(canon('a.b = not'), 'a.b = not');
});

test('every operator parses; word operators need a blank', () => {
  const ops = ['=', '==', '!=', '<', '<=', '>', '>=', 'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'glob', 'iglob', 'regex'];
  for (const op of ops) {
    const rhs = ['<', '<=', '>', '>='].includes(op) ? '1' : 'x';
    assert.equal(canon(`f.x ${op} ${rhs}`), `f.x ${op} ${rhs}`);
  }
  for (const op of ['in', 'intersects', 'pmatch']) assert.equal(canon(`f.x ${op} (a, b)`), `f.x ${op} (a, b)`);
  assert.equal(canon('f.x in()'), 'f.x in ()');
  assert.equal(canon('f.x exists'), 'f.x exists');
  assert.equal(canon('test.op existsand macro'), '(test.op exists and macro)');
  rejects('f.x containsvalue');
  rejects('f.x ExIsTs');
  rejects('f.x === a');
  rejects('f.x !== a');
});

test('values by operator class', () => {
  assert.equal(canon('test.num <= 0x12345'), 'test.num <= 0x12345');
  rejects('test.num > a');
  rejects('test.num < 0xAAA.1', "unexpected token after '0xAAA', expecting 'or', 'and'");
  assert.equal(canon('test.str = 0xAAA.1'), 'test.str = 0xAAA.1');
  assert.equal(canon('fd.name=*.log'), 'fd.name = *.log');
  assert.equal(canon('proc.pname = runc:[0:PARENT]'), 'proc.pname = runc:[0:PARENT]');
  rejects('test.list = (value)');
  rejects('test.list in (value,)');
  rejects('test.list in (,)');
  rejects('test.list > (value)');
});

test('quoted strings, escapes and canonical quoting', () => {
  assert.equal(canon('test.str = "test value"'), 'test.str = "test value"');
  assert.equal(canon("test.str = 'a'"), 'test.str = a');
  assert.equal(canon('test.str = "say \\"hi\\""'), 'test.str = "say \\"hi\\""');
  assert.equal(canon("test.str = 'it\\'s'"), 'test.str = "it\'s"');
  assert.equal(canon('test.str = "tab\\there"'), 'test.str = "tab\\there"');
  assert.equal(canon('test.str = "\\x41B"'), 'test.str = AB');
  assert.equal(canon('test.str = ""'), 'test.str = ""');
  rejects('test.str = "mixed \\\'"', 'unsupported string escape sequence');
  rejects('test.str = "unterminated');
  assert.equal(unescapeQuoted('"a\\/b"'), 'a/b');
  assert.equal(escapeString('a=b'), '"a=b"');
  assert.equal(escapeString('plain'), 'plain');
});

test('field arguments', () => {
  assert.equal(canon('proc.aname[2] = bash'), 'proc.aname[2] = bash');
  assert.equal(canon('evt.arg.flags contains O_WRONLY'), 'evt.arg.flags contains O_WRONLY');
  assert.equal(canon("k8s.pod.label['app name'] = x"), 'k8s.pod.label[app name] = x');
  rejects('evt.arg[] = value', 'expected a valid field argument: a quoted string or a bare string');
  rejects('evt.arg["x" = value', "expected a ']' token");
  rejects('b64(test.field [1]) = x');
});

test('transformers: nesting, lists, val() on the right only', () => {
  assert.equal(canon('tolower(proc.name) = bash'), 'tolower(proc.name) = bash');
  assert.equal(canon('b64(toupper(f.x)) exists'), 'b64(toupper(f.x)) exists');
  assert.equal(canon('join("-", (fd.name, fd.directory)) = /tmp'), 'join("-",(fd.name,fd.directory)) = /tmp');
  assert.equal(canon('getopt(proc.args, "nt:")[t] = 1'), 'getopt(proc.args,"nt:")[t] = 1');
  assert.equal(canon('proc.name = val(proc.pname)'), 'proc.name = val(proc.pname)');
  rejects('val(proc.name) exists');
  rejects('x.y = b64(foo)');
  rejects('b64 (x.y) = a');
  rejects('join("-", (macro)) = /tmp');
  rejects('join("-", ((fd.name))) = /tmp');
});

test('modifiers oneof/anyof/allof', () => {
  assert.equal(canon('proc.name == oneof (cat, nginx)'), 'proc.name == oneof (cat, nginx)');
  assert.equal(canon('proc.name == oneof'), 'proc.name == oneof');
  assert.equal(canon('proc.name == oneof and fd.name exists'), '(proc.name == oneof and fd.name exists)');
  rejects('proc.name ==oneof (cat)');
  rejects('proc.name == oneof(cat)');
  rejects('proc.name == ONEOF (cat)');
  rejects('proc.num > oneof (1, 2)');
  rejects('proc.name in oneof (cat)');
});

test('errors carry positions; end of input and empty input', () => {
  const e = rejects('proc.name = a and\n  proc.pname = (x)');
  assert.deepEqual([e.pos.line, e.pos.col], [2, 16]);
  rejects('', 'filter input string is empty');
  rejects('a b', "unexpected token after 'a', expecting 'or', 'and'");
});

test('positions of nodes', () => {
  const ast = parseCondition('a.b = 1 and\nc.d exists');
  assert.equal(ast.kind, 'and');
  if (ast.kind !== 'and') return;
  assert.deepEqual(ast.children[1]!.pos, { idx: 12, line: 2, col: 1 });
});

test('depth cap', () => {
  const deep = '('.repeat(30) + 'a' + ')'.repeat(30);
  assert.equal(canon(deep), 'a');
  assert.throws(() => parseCondition(deep, { maxDepth: 50 }), /exceeded max depth limit of 50/);
});

test('parseOperand takes exactly one field or transformer', () => {
  assert.equal(parseOperand('proc.aname[2]').kind, 'field');
  assert.equal(parseOperand('tolower(proc.name)').kind, 'transformer');
  assert.throws(() => parseOperand('proc.name)'));
});
