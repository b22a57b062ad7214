import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alertToJson, fieldsHoldBigInt, parseJsonExact, stringifyJsonExact, validateAlert } from '../src/index.ts';

const FALCO_ALERT = `{"hostname":"node-1","output":"Warning x","output_fields":{"evt.time":1764347516746609046,"fd.ino":18446744073709551615,"evt.res":-9223372036854775808,"evt.args":[1764347516746609046,-1764347516746609047,"s",3],"x.float":1.5,"x.safe":9007199254740991,"x.safe16":1234567890123456,"x.neg":-7,"x.zero":0,"proc.name":"cat"},"priority":"Warning","rule":"r","source":"syscall","tags":["t"],"time":"2025-11-28T16:31:56.746609046Z"}`;

test('integers beyond 2^53 parse to bigint with every digit; floats and safe integers stay numbers', () => {
  const value = parseJsonExact(FALCO_ALERT) as { output_fields: Record<string, unknown> };
  assert.deepEqual(value.output_fields, {
    'evt.time': 1764347516746609046n,
    'fd.ino': 18446744073709551615n,
    'evt.res': -9223372036854775808n,
    'evt.args': [1764347516746609046n, -1764347516746609047n, 's', 3],
    'x.float': 1.5,
    'x.safe': 9007199254740991,
    'x.safe16': 1234567890123456,
    'x.neg': -7,
    'x.zero': 0,
    'proc.name': 'cat',
  });
  // Back to the same text, byte for byte.
  assert.equal(stringifyJsonExact(value), FALCO_ALERT);
  assert.equal(stringifyJsonExact(value, true), FALCO_ALERT);
});

test('the exact parser gives what JSON.parse gives for everything but unsafe integers', () => {
  const docs = [
    '{"a":"x\\"y\\\\","b":"\\u00e9\\n\\t","c":[],"d":{},"e":[1,-0,0.1,1e21,-2.5E-3,1E+2],"f":null,"g":true,"h":false}',
    ' [ 1 , "2" , { "k" : [ null ] } ] ',
    '"plain string with 12345678901234567 inside"',
    '{"__proto__":{"polluted":1},"long":"\\\\\\"","n":12345678901234567890.5}',
    '{"dup":1,"dup":2}',
    '{"esc":"\\\\","after":1}',
  ];
  for (const doc of docs) {
    // Force the exact parser: a 16-digit run anywhere in the text.
    const text = `[${doc},"0000000000000000"]`;
    assert.deepEqual(parseJsonExact(text), JSON.parse(text), text);
  }
  const proto = parseJsonExact('{"__proto__":{"polluted":1},"n":12345678901234567890}') as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(proto), Object.prototype, 'no prototype set from the text');
  assert.ok(Object.hasOwn(proto, '__proto__'));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  // A digit run inside a string is not a number.
  assert.equal(parseJsonExact('"12345678901234567890"'), '12345678901234567890');
});

test('bad JSON fails with the same SyntaxError as JSON.parse, also on the exact path', () => {
  const bad = ['{"a":12345678901234567890,}', '{"a":12345678901234567890', '[12345678901234567890 1]', '{"a":"\u0001","n":12345678901234567890}', '[01234567890123456789]', '[-]', '{"a":"\\x","n":12345678901234567890}', '[12345678901234567890] x'];
  for (const text of bad) {
    let expected = '';
    try {
      JSON.parse(text);
    } catch (e) {
      expected = (e as Error).message;
    }
    assert.notEqual(expected, '', `JSON.parse rejects ${text}`);
    assert.throws(() => parseJsonExact(text), (e: unknown) => e instanceof SyntaxError && e.message === expected, text);
  }
  const deep = `${'['.repeat(5000)}12345678901234567890${']'.repeat(5000)}`;
  assert.throws(() => parseJsonExact(deep), /nested deeper than 512 levels/);
});

test('stringifyJsonExact matches JSON.stringify where no bigint is involved (toJSON, undefined, non-finite)', () => {
  const value = { a: undefined, b: [undefined, Number.NaN, Infinity, -0], c: new Date(0), d: 'é"\n', e: { f: () => 1 }, g: 1n };
  const expected = JSON.stringify({ ...value, g: 0 }).replace('"g":0', '"g":1');
  assert.equal(stringifyJsonExact(value), expected);
});

test('alertToJson writes bigint output fields exactly; validateAlert accepts them', () => {
  const r = validateAlert(parseJsonExact(FALCO_ALERT));
  assert.ok(r.ok);
  assert.ok(fieldsHoldBigInt(r.alert.output_fields));
  const json = alertToJson(r.alert);
  assert.match(json, /"evt\.time":1764347516746609046,/);
  assert.match(json, /"evt\.args":\[1764347516746609046,-1764347516746609047,"s",3\]/);
  assert.deepEqual(parseJsonExact(json), r.alert);
});
