/**
 * Loading the upstream Falco rules files (copies in test/fixtures/falco-rules)
 * and loading from disk.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RuleLoadError, formatDiagnostic, loadRuleFiles } from '../src/loader/index.ts';

const fixtures = fileURLToPath(new URL('./fixtures/falco-rules/', import.meta.url));
const STABLE = join(fixtures, 'falco_rules.yaml');
const INCUBATING = join(fixtures, 'falco-incubating_rules.yaml');
const SANDBOX = join(fixtures, 'falco-sandbox_rules.yaml');
const DEPRECATED = join(fixtures, 'falco-deprecated_rules.yaml');

describe('upstream rules files', () => {
  it('falco_rules.yaml loads with 25 rules, 87 macros, 49 lists, all enabled', () => {
    const loaded = loadRuleFiles([STABLE]);
    assert.equal(loaded.rules.length, 25);
    assert.equal(loaded.macroCount, 87);
    assert.equal(loaded.listCount, 49);
    assert.equal(loaded.rules.filter((r) => r.enabled).length, 25);
    assert.equal(loaded.requiredEngineVersion, '0.57.0');
    assert.deepEqual(loaded.requiredPluginVersions, [[{ name: 'container', version: '0.4.0' }]]);
    // Every macro is used upstream, and every rule names its event types.
    assert.deepEqual(
      loaded.warnings.filter((w) => w.code === 'LOAD_UNUSED_MACRO' || w.code === 'LOAD_NO_EVTTYPE').map(formatDiagnostic),
      [],
    );
    const shell = loaded.rules.find((r) => r.name === 'Run shell untrusted');
    assert.ok(shell);
    assert.deepEqual(shell.eventTypes === 'all' ? 'all' : [...shell.eventTypes].sort(), ['execve', 'execveat']);
    assert.ok(shell.tags.includes('maturity_stable'));
    assert.equal(shell.priority, 'Notice');
  });

  it('stable + incubating load in that order', () => {
    const loaded = loadRuleFiles([STABLE, INCUBATING]);
    assert.equal(loaded.rules.length, 25 + 31);
    assert.equal(loaded.rules[0]?.name, loadRuleFiles([STABLE]).rules[0]?.name);
  });

  it('stable + sandbox load in that order (sandbox has disabled rules)', () => {
    const loaded = loadRuleFiles([STABLE, SANDBOX]);
    assert.equal(loaded.rules.length, 25 + 37);
    assert.equal(loaded.rules.filter((r) => !r.enabled).length, 12);
  });

  it('stable + deprecated load in that order', () => {
    const loaded = loadRuleFiles([STABLE, DEPRECATED]);
    assert.equal(loaded.rules.length, 25 + 4);
  });
});

describe('loadRuleFiles', () => {
  it('throws RuleLoadError with file positions', () => {
    const dir = mkdtempSync(join(tmpdir(), 'peregrine-loader-'));
    try {
      const bad = join(dir, 'bad.yaml');
      writeFileSync(bad, '- rule: r\n  desc: d\n  condition: evt.type = open and\n  output: o\n  priority: INFO\n');
      assert.throws(
        () => loadRuleFiles([bad]),
        (e: unknown) => {
          assert.ok(e instanceof RuleLoadError);
          const err = e.diagnostics.find((d) => d.severity === 'error');
          assert.equal(err?.file, bad);
          assert.equal(err?.line, 3);
          assert.ok(e.message.includes(`${bad}:3:`), e.message);
          return true;
        },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports an unreadable file as LOAD_ERR_FILE_READ', () => {
    assert.throws(
      () => loadRuleFiles(['/nonexistent/rules.yaml']),
      (e: unknown) => e instanceof RuleLoadError && e.diagnostics[0]?.code === 'LOAD_ERR_FILE_READ',
    );
  });

  it('reads a directory in file-name order', () => {
    const dir = mkdtempSync(join(tmpdir(), 'peregrine-loader-'));
    try {
      writeFileSync(join(dir, '10-base.yaml'), '- list: l\n  items: [a]\n- rule: r\n  desc: d\n  condition: evt.type = open and proc.name in (l)\n  output: o\n  priority: INFO\n');
      writeFileSync(join(dir, '20-local.yaml'), '- list: l\n  items: [b]\n  override:\n    items: append\n');
      const loaded = loadRuleFiles([dir]);
      assert.equal(loaded.rules[0]?.compiledCondition, '(evt.type = open and proc.name in (a, b))');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
