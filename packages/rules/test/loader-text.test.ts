/**
 * The loader's text-level pieces: yaml-cpp scalar decoding, Falco's textual
 * list substitution, exception clause text, position mapping.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExceptionEntry, ListInfo } from '../src/loader/collector.ts';
import type { Location } from '../src/loader/diagnostics.ts';
import { exceptionClause } from '../src/loader/exceptions.ts';
import { compileLists, quoteItem, substituteLists, type CompiledList } from '../src/loader/lists.ts';
import { MappedText, type TextOrigin } from '../src/loader/mapped-text.ts';
import { decodeYamlBool, decodeYamlUnsigned } from '../src/loader/yaml-source.ts';

const here: Location = { file: 'f', line: 1, col: 1 };

function lists(entries: Record<string, string[]>): Map<string, CompiledList> {
  return new Map(Object.entries(entries).map(([name, items]) => [name, { name, items, used: false }]));
}

function subst(cond: string, entries: Record<string, string[]>): string {
  return substituteLists(MappedText.of(cond), lists(entries)).text;
}

describe('yaml-cpp scalar decoding', () => {
  it('booleans: y/yes/true/on and n/no/false/off in lower, UPPER or Capitalised case', () => {
    for (const t of ['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']) assert.equal(decodeYamlBool(t), true, t);
    for (const t of ['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']) assert.equal(decodeYamlBool(t), false, t);
    for (const t of ['', 'tRue', 'yES', '1', '0', 'enabled', ' true']) assert.equal(decodeYamlBool(t), undefined, JSON.stringify(t));
  });

  it('unsigned integers: decimal, 0x hex, leading-zero octal, trailing blanks; no sign, no junk', () => {
    assert.equal(decodeYamlUnsigned('26', 0xffffffff), 26);
    assert.equal(decodeYamlUnsigned('0x1A', 0xffffffff), 26);
    assert.equal(decodeYamlUnsigned('010', 0xffffffff), 8);
    assert.equal(decodeYamlUnsigned('0', 0xffffffff), 0);
    assert.equal(decodeYamlUnsigned('17  ', 0xffffffff), 17);
    for (const t of ['-1', '0.26.0', 'seven', '12abc', '', '4294967296']) assert.equal(decodeYamlUnsigned(t, 0xffffffff), undefined, t);
  });
});

describe('list substitution (Falco resolve_list)', () => {
  it('replaces names bounded by delimiters, swallowing blanks around them', () => {
    assert.equal(subst('proc.name in (shells)', { shells: ['bash', 'sh'] }), 'proc.name in ( bash, sh )');
    assert.equal(subst('proc.name=cat_binaries', { cat_binaries: ['cat'] }), 'proc.name= cat ');
    assert.equal(subst('shells', { shells: ['a'] }), 'a ');
  });

  it('does not replace a name that is part of a longer word or quoted', () => {
    assert.equal(subst('proc.name in (my_shells, shells_x)', { shells: ['a'] }), 'proc.name in (my_shells, shells_x)');
    assert.equal(subst('proc.name = "shells"', { shells: ['a'] }), 'proc.name = "shells"');
    // A delimited word inside a quoted string is replaced: the scan ignores quoting, as in Falco.
    assert.equal(subst('proc.cmdline = "x shells y"', { shells: ['a'] }), 'proc.cmdline = "x a y"');
  });

  it('quotes items that contain spaces unless already quoted', () => {
    assert.equal(quoteItem('a b'), '"a b"');
    assert.equal(quoteItem('"a b"'), '"a b"');
    assert.equal(quoteItem("'a b'"), "'a b'");
    assert.equal(quoteItem('ab'), 'ab');
  });

  it('an empty list removes one adjacent comma', () => {
    assert.equal(subst('x.y in (a, empty)', { empty: [] }), 'x.y in (a  )');
    assert.equal(subst('x.y in (empty, b)', { empty: [] }), 'x.y in (   b)');
  });

  it('applies lists in definition order on the evolving text and marks them used', () => {
    const l = lists({ outer: ['inner'], inner: ['x'], unused: ['z'] });
    assert.equal(substituteLists(MappedText.of('a.b in (outer)'), l).text, 'a.b in ( x )');
    assert.deepEqual([...l.values()].map((x) => x.used), [true, true, false]);
  });

  it('expands list-in-list one level, only for lists defined earlier', () => {
    const info = (name: string, items: string[], index: number, visibility = index): ListInfo => ({ name, items, index, visibility, ctx: here });
    const compiled = compileLists(
      new Map([
        ['a', info('a', ['x', 'b'], 0)],
        ['b', info('b', ['y'], 1)],
        ['c', info('c', ['a', 'b'], 2)],
      ]),
    );
    assert.deepEqual(compiled.get('a')?.items, ['x', 'b']);
    assert.deepEqual(compiled.get('c')?.items, ['x', 'b', 'y']);
    assert.equal(compiled.get('a')?.used, true);
  });
});

describe('exception clause text (Falco build_rule_exception_infos)', () => {
  const entry = (item: string): ExceptionEntry => ({ isList: false, item, items: [] });
  const list = (...items: ExceptionEntry[]): ExceptionEntry => ({ isList: true, item: '', items });

  it('single field: (F C (v1, v2)) with quoted items', () => {
    assert.equal(
      exceptionClause({ name: 'e', fields: entry('proc.name'), comps: entry('in'), values: [entry('a'), entry('b c')], ctx: here }),
      '(proc.name in (a, "b c"))',
    );
  });

  it('field list: tuples joined with or, elements with and, single spaces between parts', () => {
    assert.equal(
      exceptionClause({
        name: 'e',
        fields: list(entry('proc.name'), entry('fd.name')),
        comps: list(entry('='), entry('startswith oneof')),
        values: [list(entry('a'), list(entry('/x'), entry('/y'))), list(entry('b c'), entry('/z'))],
        ctx: here,
      }),
      '(( proc.name = a and  fd.name startswith oneof (/x, /y)) or ( proc.name = "b c" and  fd.name startswith oneof (/z)))',
    );
  });

  it('no values adds nothing', () => {
    assert.equal(exceptionClause({ name: 'e', fields: list(entry('proc.name')), comps: list(entry('=')), values: [], ctx: here }), '');
  });
});

describe('MappedText', () => {
  const origin: TextOrigin = {
    map: (offset) => ({ file: 'f', line: 1, col: 11 + offset }),
    location: () => ({ file: 'f', line: 1, col: 11 }),
  };

  it('maps offsets through concatenation, wrapping and replacement', () => {
    const t = MappedText.of('(').concat(MappedText.of('a.b in (l) and c.d = 1', origin), ')');
    assert.equal(t.locate(1)?.col, 11);
    const r = t.replace(9, 10, ' x, y ');
    assert.equal(r.text, '(a.b in ( x, y ) and c.d = 1)');
    // Inserted text maps to where the list name was; text after it keeps its own columns.
    assert.equal(r.locate(11)?.col, 19);
    assert.equal(r.locate(r.text.indexOf('c.d'))?.col, 11 + 'a.b in (l) and '.length);
    assert.equal(r.locate(0), undefined);
  });
});
