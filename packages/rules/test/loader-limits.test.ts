/**
 * Hostile rules files: long chains of macros. Loading must stay linear in
 * the file, and a condition that would overflow the later passes is refused
 * with a positioned error instead of crashing or running for hours.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileRules, fieldMapEvent, fieldMapExtractor, loadRuleSources } from '../src/index.ts';
import { macroResolutionStats } from '../src/loader/macros.ts';

/** m0 … m(n-1), each using the previous one; `shape` writes macro i's condition. */
function macroChain(n: number, shape: (prev: string, i: number) => string): string {
  let yaml = '- macro: m0\n  condition: proc.name = x0\n';
  for (let i = 1; i < n; i++) yaml += `- macro: m${i}\n  condition: ${shape(`m${i - 1}`, i)}\n`;
  return yaml;
}

function ruleUsing(macro: string): string {
  return `- rule: r\n  desc: d\n  condition: evt.type = execve and ${macro}\n  output: o\n  priority: INFO\n`;
}

const chained = (prev: string, i: number): string => `${prev} or proc.name = x${i}`;

describe('chains of macros', () => {
  it('20,000 chained macros resolve with work linear in their number (was quadratic: 36 s)', () => {
    const n = 20_000;
    const before = macroResolutionStats.nodesVisited;
    const result = loadRuleSources([{ name: 'chain.yaml', content: macroChain(n, chained) }]);
    const visited = macroResolutionStats.nodesVisited - before;
    assert.equal(result.ok, true, JSON.stringify(result.errors.slice(0, 2)));
    assert.equal(result.rules!.macroCount, n);
    // Each macro's own tree is walked once (a few nodes); walking each earlier
    // macro's expansion again would be about n²/2 = 2·10⁸ visits.
    assert.ok(visited <= 5 * n, `visited ${visited} AST nodes for ${n} macros`);
  });

  it('a rule nesting 1,000 levels deep through macros loads and compiles; one level more is a positioned error', () => {
    const ok = loadRuleSources([{ name: 'deep.yaml', content: macroChain(999, chained) + ruleUsing('m998') }]);
    assert.equal(ok.ok, true, JSON.stringify(ok.errors.slice(0, 2)));
    const engine = compileRules(ok.rules!, fieldMapExtractor, { hostname: 'h' });
    const hit = fieldMapEvent({ 'evt.type': 'execve', 'proc.name': 'x0' });
    const miss = fieldMapEvent({ 'evt.type': 'execve', 'proc.name': 'y' });
    assert.deepEqual(engine.matchingRules(hit).map((r) => r.name), ['r']);
    assert.deepEqual(engine.matchingRules(miss), []);

    const tooDeep = loadRuleSources([{ name: 'deep.yaml', content: macroChain(20_000, chained) + ruleUsing('m19999') }]);
    assert.equal(tooDeep.ok, false);
    const [err] = tooDeep.errors;
    assert.equal(err?.code, 'LOAD_ERR_COMPILE_CONDITION');
    assert.match(err!.message, /exceeded max depth limit of 1000 after macro expansion \(the condition nests 20000 levels/);
    assert.deepEqual([err!.file, err!.line, err!.item], ['deep.yaml', 40_001, { kind: 'rule', name: 'r' }]);
  });

  it('a macro used twice at each level of a chain (2^40 nodes once expanded) is refused, not expanded', () => {
    const diamond = (prev: string, i: number): string => `${prev} or (proc.name = x${i} and ${prev})`;
    const result = loadRuleSources([{ name: 'diamond.yaml', content: macroChain(40, diamond) + ruleUsing('m39') }]);
    assert.equal(result.ok, false);
    assert.equal(result.errors[0]?.code, 'LOAD_ERR_COMPILE_CONDITION');
    assert.match(result.errors[0]!.message, /condition too large after macro expansion \(\d+ nodes, limit 50000\)/);
    assert.equal(result.errors[0]!.line, 81);
  });

  it('the same diamond kept small still loads and matches', () => {
    const diamond = (prev: string, i: number): string => `${prev} or (proc.name = x${i} and ${prev})`;
    const result = loadRuleSources([{ name: 'diamond.yaml', content: macroChain(8, diamond) + ruleUsing('m7') }]);
    assert.equal(result.ok, true, JSON.stringify(result.errors.slice(0, 2)));
    const engine = compileRules(result.rules!, fieldMapExtractor, { hostname: 'h' });
    assert.equal(engine.matchingRules(fieldMapEvent({ 'evt.type': 'execve', 'proc.name': 'x0' })).length, 1);
    assert.equal(engine.matchingRules(fieldMapEvent({ 'evt.type': 'execve', 'proc.name': 'x5' })).length, 0);
  });
});
