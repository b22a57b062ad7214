// The false-positive baseline script (scripts/false-positive-baseline.mjs) runs
// `npm test` itself, so it cannot run inside `npm test`. What can be checked
// here, quickly: the rules file it generates loads after the upstream stable
// rules unmodified and adds the ancestry fields to every rule's output; and its
// report keeps only the run's own alerts (by ancestry, or from a container while
// the run's container runtimes ran) and classifies them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRuleFiles } from '@peregrine/rules';

interface ReportRow {
  readonly rule: string;
  readonly count: number;
  readonly process?: string;
  readonly key: string;
  readonly kind: string;
  readonly tests: Set<string>;
}
interface BaselineScript {
  ancestryRulesFile(dir: string, rulesFiles: readonly string[]): string;
  report(dir: string): { rows: ReportRow[]; others: number; total: number };
  readonly ANCESTOR_DEPTH: number;
}

const SCRIPT = fileURLToPath(new URL('../../scripts/false-positive-baseline.mjs', import.meta.url));
const STABLE = fileURLToPath(new URL('../../packages/rules/test/fixtures/falco-rules/falco_rules.yaml', import.meta.url));
const script = (await import(SCRIPT)) as BaselineScript;

test('the generated ancestry file appends proc.pid and proc.apid[n] to every stable rule, upstream file unmodified', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fp-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const before = readFileSync(STABLE, 'utf8');
  const plain = loadRuleFiles([STABLE]);
  const extra = script.ancestryRulesFile(dir, [STABLE]);
  const loaded = loadRuleFiles([STABLE, extra]);
  assert.equal(readFileSync(STABLE, 'utf8'), before);
  assert.equal(loaded.rules.length, plain.rules.length);
  for (const rule of loaded.rules) {
    const original = plain.rules.find((r) => r.name === rule.name);
    assert.ok(original, rule.name);
    assert.ok(rule.output.startsWith(original.output), `${rule.name}: the upstream output comes first`);
    assert.match(rule.output, /fp_pid=%proc\.pid /);
    assert.match(rule.output, new RegExp(`fp_a${script.ANCESTOR_DEPTH}=%proc\\.apid\\[${script.ANCESTOR_DEPTH}\\]`));
    assert.equal(rule.compiledCondition, original.compiledCondition, `${rule.name}: condition untouched`);
  }
});

function alert(rule: string, time: string, fields: Record<string, string | number | null>): string {
  return JSON.stringify({ rule, time, priority: 'Warning', source: 'syscall', output: `${rule} …`, output_fields: fields });
}

test('report: only the run tree and its container windows count; known alerts classified, unknown ones flagged', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fp-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const root = 4242;
  const windowFrom = Date.parse('2026-01-01T00:10:00Z');
  writeFileSync(
    join(dir, 'run.json'),
    JSON.stringify({ root, startedAt: '', finishedAt: '', rules: [STABLE], commit: 'x', summary: [], containerWindows: [{ from: windowFrom, to: windowFrom + 60000, test: 'test/e2e/lab-core.test.ts' }] }),
  );
  const lines = [
    // The run's own `cat /etc/shadow` from an acceptance test, three levels below the root.
    alert('Read sensitive file untrusted', '2026-01-01T00:00:01Z', {
      'proc.pid': 9001, 'proc.name': 'cat', 'proc.cmdline': 'cat /etc/shadow', 'proc.pname': 'sh', 'container.id': 'host',
      'proc.apid[1]': 9000, 'proc.apid[2]': 8000, 'proc.apid[3]': root, 'proc.acmdline[2]': 'node --import tsx /x/apps/sensor/test/upstream-rules.test.ts',
    }),
    // Somebody else's process on the machine.
    alert('Read sensitive file untrusted', '2026-01-01T00:00:02Z', { 'proc.pid': 7001, 'proc.name': 'cat', 'proc.apid[1]': 7000, 'proc.apid[2]': 1, 'container.id': 'host' }),
    // A container process while the run's runtimes ran, and one outside that window.
    alert('Terminal shell in container', '2026-01-01T00:10:30Z', { 'proc.pid': 5001, 'proc.name': 'sh', 'proc.apid[1]': 5000, 'proc.apid[2]': 1, 'container.id': 'abcdef123456' }),
    alert('Terminal shell in container', '2026-01-01T00:20:00Z', { 'proc.pid': 5002, 'proc.name': 'sh', 'proc.apid[1]': 5000, 'proc.apid[2]': 1, 'container.id': 'abcdef123456' }),
    // A rule nobody explained yet, from the run.
    alert('Some rule nobody explained', '2026-01-01T00:00:03Z', { 'proc.pid': root, 'proc.name': 'bash', 'container.id': 'host' }),
  ];
  writeFileSync(join(dir, 'alerts.jsonl'), `${lines.join('\n')}\n`);

  const result = script.report(dir);
  assert.equal(result.total, 5);
  assert.equal(result.others, 2);
  const byRule = new Map(result.rows.map((r) => [r.rule, r]));
  const shadow = byRule.get('Read sensitive file untrusted');
  assert.equal(shadow?.count, 1);
  assert.equal(shadow?.kind, 'test-action');
  assert.deepEqual([...(shadow?.tests ?? [])], ['apps/sensor/test/upstream-rules.test.ts']);
  const shell = byRule.get('Terminal shell in container');
  assert.equal(shell?.count, 1);
  assert.equal(shell?.kind, 'test-action');
  assert.deepEqual([...(shell?.tests ?? [])], ['test/e2e/lab-core.test.ts']);
  assert.equal(byRule.get('Some rule nobody explained')?.kind, 'unclassified');
});
