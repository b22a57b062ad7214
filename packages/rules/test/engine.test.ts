import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRules, fieldMapEvent, fieldMapExtractor, loadRuleSources, type FieldMapValue } from '../src/index.ts';

const RULES = `
- macro: spawned_process
  condition: evt.type in (execve, execveat)
- rule: Shell
  desc: d
  condition: spawned_process and proc.name in (bash, sh)
  output: shell %proc.name
  priority: WARNING
- rule: Any bash event
  desc: d
  condition: proc.name = bash
  output: bash did %evt.type
  priority: NOTICE
- rule: Quiet
  desc: d
  condition: evt.type = openat and fd.name startswith /tmp
  output: tmp %fd.name
  priority: DEBUG
- rule: Disabled
  desc: d
  condition: evt.type = openat
  output: x
  priority: CRITICAL
  enabled: false
`;

function load() {
  const result = loadRuleSources([{ name: 'engine.yaml', content: RULES }]);
  assert.ok(result.ok && result.rules, JSON.stringify(result.errors));
  return result.rules;
}
const ev = (fields: Record<string, FieldMapValue>) => fieldMapEvent(fields);

test('first match in rule order by default; every match with ruleMatching all', () => {
  const first = compileRules(load(), fieldMapExtractor, { hostname: 'h' });
  const all = compileRules(load(), fieldMapExtractor, { hostname: 'h', ruleMatching: 'all' });
  const exec = ev({ 'evt.type': 'execve', 'proc.name': 'bash' });
  assert.deepEqual(first.matchingRules(exec).map((r) => r.name), ['Shell']);
  assert.deepEqual(all.matchingRules(exec).map((r) => r.name), ['Shell', 'Any bash event']);
});

test('rules without an event-type restriction see every type, in rule order with the indexed ones', () => {
  const all = compileRules(load(), fieldMapExtractor, { hostname: 'h', ruleMatching: 'all' });
  assert.equal(all.matchesAllEventTypes, true);
  assert.deepEqual([...all.eventTypes].sort(), ['execve', 'execveat', 'openat']);
  const open = ev({ 'evt.type': 'openat', 'proc.name': 'bash', 'fd.name': '/tmp/x' });
  assert.deepEqual(all.matchingRules(open).map((r) => r.name), ['Any bash event', 'Quiet']);
  const unknownType = ev({ 'evt.type': 'read', 'proc.name': 'bash' });
  assert.deepEqual(all.matchingRules(unknownType).map((r) => r.name), ['Any bash event']);
  assert.deepEqual(all.matchingRules(ev({ 'proc.name': 'bash' })).map((r) => r.name), ['Any bash event'], 'no evt.type at all');
});

test('disabled rules and rules below the minimum priority are left out', () => {
  const engine = compileRules(load(), fieldMapExtractor, { hostname: 'h', minimumPriority: 'Notice', ruleMatching: 'all' });
  assert.deepEqual(engine.rules.map((r) => r.name), ['Shell', 'Any bash event']);
  assert.deepEqual(engine.matchingRules(ev({ 'evt.type': 'openat', 'fd.name': '/tmp/x' })), []);
});

test('evaluate returns Falco JSON alerts for the matches', () => {
  const engine = compileRules(load(), fieldMapExtractor, { hostname: 'node-1' });
  const [alert, ...rest] = engine.evaluate(ev({ 'evt.type': 'execve', 'proc.name': 'sh', 'evt.time': 1_700_000_000_000_000_001n }));
  assert.equal(rest.length, 0);
  assert.equal(alert?.rule, 'Shell');
  assert.equal(alert?.priority, 'Warning');
  assert.equal(alert?.hostname, 'node-1');
  assert.equal(alert?.time, '2023-11-14T22:13:20.000000001Z');
  assert.match(alert?.output ?? '', /^22:13:20\.000000001: Warning shell sh/);
});

test('a field read by several rules of one event type is extracted once per event', () => {
  let reads = 0;
  const counting = {
    accessor: (ref: Parameters<typeof fieldMapExtractor.accessor>[0]) => {
      const inner = fieldMapExtractor.accessor(ref);
      if (ref.text !== 'proc.name') return inner;
      return (e: Parameters<typeof inner>[0]) => {
        reads++;
        return inner(e);
      };
    },
  };
  const engine = compileRules(load(), counting, { hostname: 'h', ruleMatching: 'all' });
  engine.matchingRules(ev({ 'evt.type': 'execve', 'proc.name': 'bash' }));
  assert.equal(reads, 1);
});

test('evt.type checks folded per event type keep their meaning', () => {
  const result = loadRuleSources([{ name: 'fold.yaml', content: `
- rule: Open but not plain open
  desc: d
  condition: evt.type in (open, openat) and not evt.type = open and (evt.type != connect or proc.name = never)
  output: o
  priority: WARNING
- rule: Either
  desc: d
  condition: (evt.type = connect and fd.sport = 22) or (evt.type = openat and fd.name = /x)
  output: o
  priority: WARNING
` }]);
  assert.ok(result.ok && result.rules);
  const engine = compileRules(result.rules, fieldMapExtractor, { hostname: 'h', ruleMatching: 'all' });
  const names = (fields: Record<string, FieldMapValue>) => engine.matchingRules(ev(fields)).map((r) => r.name);
  assert.deepEqual(names({ 'evt.type': 'openat', 'fd.name': '/x' }), ['Open but not plain open', 'Either']);
  assert.deepEqual(names({ 'evt.type': 'open', 'fd.name': '/x' }), []);
  assert.deepEqual(names({ 'evt.type': 'connect', 'fd.sport': 22, 'fd.name': '/x' }), ['Either']);
  assert.deepEqual(names({ 'evt.type': 'connect', 'fd.sport': 80 }), []);
});
