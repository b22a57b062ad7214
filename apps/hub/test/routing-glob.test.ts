import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileGlob } from '../src/routing/glob.ts';

test('routing globs: * any run, ? one character, literal otherwise, whole text', () => {
  const cases: Array<[string, string, boolean]> = [
    ['Terminal shell*', 'Terminal shell in container', true],
    ['Terminal shell*', 'A Terminal shell', false],
    ['*shell*', 'Terminal shell in container', true],
    ['node-?', 'node-1', true],
    ['node-?', 'node-12', false],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'acb', false],
    ['*.prod.*', 'web.prod.eu', true],
    ['(x)+', '(x)+', true],
    ['(x)+', 'xx', false],
    ['*', '', true],
    ['', '', true],
    ['', 'x', false],
    ['a*a', 'a', false],
    ['?*?', 'ab', true],
    ['??*', 'a', false],
  ];
  for (const [glob, text, want] of cases) assert.equal(compileGlob(glob).test(text), want, `${glob} vs ${text}`);
});

test('routing globs do not backtrack: many stars against a long sender-chosen text finish', () => {
  // As a RegExp (^.*a.*a.*a.*a.*a.*b$) this takes O(n^6) steps on 20k characters: hours.
  const text = 'a'.repeat(20_000);
  assert.equal(compileGlob('*a*a*a*a*a*b').test(text), false);
  assert.equal(compileGlob('*a*a*a*a*a*a').test(text), true);
});
