import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const bin = join(root, 'apps/cli/bin/peregrine.js');
const stable = join(root, 'packages/rules/test/fixtures/falco-rules/falco_rules.yaml');
const defaults = join(root, 'packages/rules/rules/peregrine_rules.yaml');

function peregrine(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const dir = mkdtempSync(join(tmpdir(), 'peregrine-cli-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

test('rules validate prints the counts of the upstream stable file and exits 0; --json for machines', () => {
  const r = peregrine('rules', 'validate', stable);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /25 rules, 87 macros, 49 lists, 0 warnings/);
  const j = peregrine('rules', 'validate', '--json', stable);
  assert.equal(j.code, 0);
  const parsed = JSON.parse(j.out) as { ok: boolean; rules: number; macros: number; lists: number };
  assert.deepEqual([parsed.ok, parsed.rules, parsed.macros, parsed.lists], [true, 25, 87, 49]);
});

test('rules validate: an unknown field is file:line:col with the rule and a suggestion, exit 1', () => {
  const bad = file(
    'article.yaml',
    `- rule: Change Sensitive File Permissions
  desc: chmod on /etc
  condition: evt.type in (chmod, fchmod, fchmodat) and fd.mode = 0777
  output: mode=%evt.arg.mode
  priority: WARNING
`,
  );
  const r = peregrine('rules', 'validate', bad);
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:\\d+: error LOAD_ERR_COMPILE_CONDITION: rule 'Change Sensitive File Permissions'`));
  assert.match(r.err, /fd\.mode/);
  assert.match(r.err, /did you mean 'evt\.arg\.mode'/);
});

test('rules parse prints the canonical form, or the error with its position and exit 1', () => {
  const ok = peregrine('rules', 'parse', 'proc.name=bash and not fd.name in (/etc/a,"x y")');
  assert.equal(ok.code, 0);
  assert.equal(ok.out.trim(), '(proc.name = bash and not fd.name in (/etc/a, "x y"))');
  const bad = peregrine('rules', 'parse', 'proc.name = bash andx');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /^1:21: expected blank or '\(' after 'and'\n/);
  assert.match(bad.err, /\n {20}\^\n$/, 'a caret under column 21');
});

test('rules test prints one Falco JSON alert per match and checks --expect', () => {
  const events = join(root, 'packages/rules/examples/events.jsonl');
  const expect = join(root, 'packages/rules/examples/events.expect.jsonl');
  const r = peregrine('rules', 'test', '--rules', defaults, '--events', events, '--expect', expect);
  assert.equal(r.code, 0, r.err);
  const alerts = r.out.trim().split('\n').map((l) => JSON.parse(l) as { rule: string; priority: string; output_fields: Record<string, unknown> });
  assert.deepEqual(alerts.map((a) => a.rule), ['Detect Shell in Container', 'Write Sensitive File in etc', 'Change Sensitive File Permissions']);
  assert.equal(alerts[2]!.output_fields['evt.arg.mode'], '0777');
  assert.match(r.out.split('\n')[0]!, /"evt\.time":1764392400123456789,/, 'the event time keeps all its digits, as Falco prints it');
  const wrong = file('wrong.expect.jsonl', '"Detect Shell in Container"\nnull\nnull\nnull\n');
  const w = peregrine('rules', 'test', '--rules', defaults, '--events', events, '--expect', wrong);
  assert.equal(w.code, 1);
  assert.match(w.err, /event 2 .*expected \[\], got \["Write Sensitive File in etc"\]/);
  assert.match(w.err, /2 passed, 2 failed/);
});

test('every command answers --help', () => {
  for (const cmd of ['rules', 'hub', 'capture', 'replay']) {
    const r = peregrine(cmd, '--help');
    assert.equal(r.code, 0, `${cmd} --help`);
    assert.match(r.out, /Usage: peregrine/);
  }
});
