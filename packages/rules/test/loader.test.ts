/**
 * The rules-file loader, one Falco rule at a time, on small inline YAML.
 * Messages are Falco's texts; every diagnostic must also carry file:line:col.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDiagnostic, loadRuleSources, type Diagnostic, type LoadResult } from '../src/loader/index.ts';

function load(yaml: string, options: Parameters<typeof loadRuleSources>[1] = {}): LoadResult {
  return loadRuleSources([{ name: 'rules.yaml', content: yaml }], options);
}

function loadOk(yaml: string, options: Parameters<typeof loadRuleSources>[1] = {}): LoadResult {
  const r = load(yaml, options);
  assert.equal(r.ok, true, `expected load to succeed, got:\n${r.errors.map(formatDiagnostic).join('\n')}`);
  return r;
}

function loadFails(yaml: string, message: string): Diagnostic {
  const r = load(yaml);
  assert.equal(r.ok, false, `expected load to fail with "${message}"`);
  assert.equal(r.errors.length, 1, 'the first error stops the load');
  const e = r.errors[0]!;
  assert.ok(e.message.includes(message), `error "${e.message}" should contain "${message}"`);
  return e;
}

function warning(r: LoadResult, code: string, contains = ''): Diagnostic {
  const w = r.warnings.find((d) => d.code === code && d.message.includes(contains));
  assert.ok(w, `expected warning ${code} "${contains}", got: ${r.warnings.map(formatDiagnostic).join(' | ') || '(none)'}`);
  return w;
}

function noWarning(r: LoadResult, code: string): void {
  const w = r.warnings.find((d) => d.code === code);
  assert.equal(w, undefined, `unexpected warning: ${w ? formatDiagnostic(w) : ''}`);
}

function compiled(r: LoadResult, name: string): string {
  const rule = r.rules?.rules.find((x) => x.name === name);
  assert.ok(rule, `rule '${name}' not loaded`);
  return rule.compiledCondition;
}

const RULE = (name: string, condition: string, extra = ''): string => `
- rule: ${name}
  desc: d
  condition: ${condition}
  output: out %proc.name
  priority: INFO
${extra}`;

describe('YAML documents and items', () => {
  it('reads every scalar as raw text (0755, yes, 1.0 stay strings)', () => {
    const r = loadOk(`
- list: odd
  items: [0755, yes, 1.0, ~x]
${RULE('r', 'evt.type = open and proc.name in (odd)')}`);
    assert.equal(compiled(r, 'r'), '(evt.type = open and proc.name in (0755, yes, 1.0, ~x))');
  });

  it('reads several YAML documents and skips null documents and null entries', () => {
    const r = loadOk(`
- list: a
  items: [x]
---
---
-
${RULE('r', 'evt.type = open and proc.name in (a)')}`);
    assert.equal(r.rules?.rules.length, 1);
    assert.equal(r.rules?.listCount, 1);
  });

  it('rejects a document that is not a sequence', () => {
    const e = loadFails('rule: x\n', 'Rules content is not yaml array of objects');
    assert.equal(e.code, 'LOAD_ERR_YAML_VALIDATE');
    loadFails('just text\n', 'Rules content is not yaml');
  });

  it('rejects an entry that is not a mapping, with its position', () => {
    const e = loadFails('- list: a\n  items: [x]\n- oops\n', 'Unexpected element type. Each element should be a yaml associative array.');
    assert.deepEqual([e.file, e.line, e.col], ['rules.yaml', 3, 3]);
  });

  it('reports YAML syntax errors as LOAD_ERR_YAML_PARSE with a position', () => {
    const e = loadFails('- rule: [unclosed\n', '');
    assert.equal(e.code, 'LOAD_ERR_YAML_PARSE');
    assert.equal(e.file, 'rules.yaml');
    assert.ok(e.line >= 1);
  });

  it('resolves YAML anchors and aliases; an unknown anchor is a parse error', () => {
    const r = loadOk(`- list: shells\n  items: &sh [bash, sh]\n- list: more\n  items: *sh\n${RULE('r', 'evt.type = execve and proc.name in (shells) and proc.pname in (more)')}`);
    assert.equal(compiled(r, 'r'), '(evt.type = execve and proc.name in (bash, sh) and proc.pname in (bash, sh))');
    const e = loadFails('- macro: m\n  condition: *nope\n', "unknown anchor 'nope'");
    assert.deepEqual([e.code, e.line, e.col], ['LOAD_ERR_YAML_PARSE', 2, 14]);
  });

  it('warns about unknown top-level items and ignores them', () => {
    const r = loadOk(`- something_else: 1\n${RULE('r', 'evt.type = open')}`);
    const w = warning(r, 'LOAD_UNKNOWN_ITEM', 'Unknown top level item');
    assert.deepEqual([w.line, w.col], [1, 3]);
  });

  it('warns about unknown keys at the key position, naming the item', () => {
    const r = loadOk(`
- macro: m
  condition: evt.type = open
  typo_field: 1
${RULE('r', 'm')}`);
    const w = warning(r, 'LOAD_UNKNOWN_KEY', "Unknown key 'typo_field'. The key will be ignored.");
    assert.deepEqual([w.line, w.col], [4, 3]);
    assert.deepEqual(w.item, { kind: 'macro', name: 'm' });
  });

  it('decodes booleans like yaml-cpp', () => {
    for (const [text, enabled] of [['no', false], ['Off', false], ['N', false], ['YES', true], ['on', true], ['True', true]] as const) {
      const r = loadOk(RULE('r', 'evt.type = open', `  enabled: ${text}`));
      assert.equal(r.rules?.rules[0]?.enabled, enabled, `enabled: ${text}`);
    }
    const e = loadFails(RULE('r', 'evt.type = open', '  enabled: nope'), "Can't decode YAML scalar value");
    assert.equal(e.line, 7);
  });

  it('requires condition, output, desc and priority, non-empty and scalar', () => {
    loadFails('- rule: r\n  desc: d\n  condition: evt.type = open\n  priority: INFO\n', "Item has no mapping for key 'output'");
    loadFails('- rule: r\n  desc:\n  condition: evt.type = open\n  output: o\n  priority: INFO\n', "Mapping for key 'desc' is empty");
    loadFails('- rule: r\n  desc: ""\n  condition: evt.type = open\n  output: o\n  priority: INFO\n', 'Value must be non-empty');
    loadFails('- rule: r\n  desc: [a]\n  condition: evt.type = open\n  output: o\n  priority: INFO\n', 'Value is not a scalar value');
    loadFails('- list: l\n', "Item has no mapping for key 'items'");
    loadFails('- list: l\n  items: a\n', 'Value is not a sequence');
  });
});

describe('rules', () => {
  it('parses priorities case-insensitively, with the info alias', () => {
    const r = loadOk(
      ['EMERGENCY', 'alert', 'Critical', 'error', 'WARNING', 'notice', 'info', 'Informational', 'debug']
        .map((p, i) => `- rule: r${i}\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: ${p}\n`)
        .join(''),
    );
    assert.deepEqual(
      r.rules?.rules.map((x) => x.priority),
      ['Emergency', 'Alert', 'Critical', 'Error', 'Warning', 'Notice', 'Informational', 'Informational', 'Debug'],
    );
    const e = loadFails('- rule: r\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: SEVERE\n', 'Invalid priority');
    assert.deepEqual([e.line, e.col, e.item?.name], [5, 13, 'r']);
  });

  it('trims the output, defaults source/enabled/tags, sorts tags', () => {
    const r = loadOk(`
- rule: r
  desc: d
  condition: evt.type = open
  output: >
    opened %fd.name
  priority: WARNING
  tags: [zeta, alpha, mitre]
`);
    const rule = r.rules!.rules[0]!;
    assert.equal(rule.output, 'opened %fd.name');
    assert.equal(rule.source, 'syscall');
    assert.equal(rule.enabled, true);
    assert.equal(rule.warnEvttypes, true);
    assert.equal(rule.skipIfUnknownFilter, false);
    assert.deepEqual(rule.tags, ['alpha', 'mitre', 'zeta']);
  });

  it('a redefinition replaces the rule but keeps its evaluation order', () => {
    const r = loadOk(`${RULE('first', 'evt.type = open')}${RULE('second', 'evt.type = close')}${RULE('first', 'evt.type = execve')}`);
    assert.deepEqual(r.rules?.rules.map((x) => [x.name, x.index, x.compiledCondition]), [
      ['first', 0, 'evt.type = execve'],
      ['second', 1, 'evt.type = close'],
    ]);
  });

  it('the deprecated enabled-toggle form changes an existing rule, with a warning', () => {
    const r = loadOk(`${RULE('r', 'evt.type = open')}\n- rule: r\n  enabled: false\n`);
    assert.equal(r.rules?.rules[0]?.enabled, false);
    warning(r, 'LOAD_DEPRECATED_ITEM', "The standalone 'enabled' key usage is deprecated");
    loadFails('- rule: nothing\n  enabled: false\n', "Rule has 'enabled' key but no rule by that name already exists");
  });

  it('legacy append (condition and exceptions only; enabled ignored) warns as deprecated', () => {
    const r = loadOk(`${RULE('r', 'evt.type = open', '  enabled: false')}\n- rule: r\n  condition: and proc.name = cat\n  enabled: true\n  append: true\n`);
    assert.equal(compiled(r, 'r'), '(evt.type = open and proc.name = cat)');
    assert.equal(r.rules?.rules[0]?.enabled, false);
    warning(r, 'LOAD_DEPRECATED_ITEM', "'append' key is deprecated");
  });

  it('override: append and replace on one item; desc/output appended with a space', () => {
    const r = loadOk(`${RULE('r', 'evt.type = open', '  tags: [a]')}
- rule: r
  condition: and proc.name = cat
  output: extra=%proc.pid
  tags: [b]
  priority: CRITICAL
  override:
    condition: append
    output: append
    tags: append
    priority: replace
`);
    const rule = r.rules!.rules[0]!;
    assert.equal(rule.compiledCondition, '(evt.type = open and proc.name = cat)');
    assert.equal(rule.output, 'out %proc.name extra=%proc.pid');
    assert.deepEqual(rule.tags, ['a', 'b']);
    assert.equal(rule.priority, 'Critical');
  });

  it("enforces Falco's override rules", () => {
    const base = RULE('r', 'evt.type = open');
    loadFails(`${base}\n- rule: r\n  priority: ERROR\n  override:\n    priority: append\n`, "Key 'priority' cannot be appended to, use 'replace' instead");
    loadFails(`${base}\n- rule: r\n  source: x\n  override:\n    source: replace\n`, "Key 'source' cannot be replaced");
    loadFails(`${base}\n- rule: r\n  override:\n    condition: append\n`, "An append override for 'condition' was specified but 'condition' is not defined");
    const e = loadFails(
      `${base}\n- rule: r\n  condition: and proc.name = x\n  priority: ERROR\n  override:\n    condition: append\n`,
      "Unexpected key 'priority': no corresponding entry under 'override' is defined.",
    );
    assert.equal(e.line, 10);
    loadFails(`${base}\n- rule: r\n  condition: and x.y = 1\n  append: true\n  override:\n    condition: append\n`, "Keys 'override' and 'append: true' cannot be used together");
    loadFails(`${base}\n- rule: r\n  condition: x\n  override:\n    condition: merge\n`, "Invalid override operation for key 'condition': 'merge'");
    loadFails(`- rule: r\n  condition: and x\n  override:\n    condition: append\n${base}`, "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists");
    loadFails(`- rule: r\n  condition: x\n  override:\n    condition: replace\n${base}`, "An 'override.<key>: replace' to a rule was requested but no rule by that name already exists");
  });

  it('a redefinition or append with a different source is an error; an empty source is allowed', () => {
    loadFails(`${RULE('r', 'evt.type = open')}${RULE('r', 'evt.type = open', '  source: k8s_audit')}`, 'Rule has been re-defined with a different source');
    loadOk(`${RULE('r', 'evt.type = open')}\n- rule: r\n  condition: and proc.name = x\n  source:\n  append: true\n`);
  });

  it('skips rules of an unknown source with a warning', () => {
    const r = loadOk(`${RULE('audit', 'ka.verb = GET', '  source: k8s_audit')}${RULE('r', 'evt.type = open')}`);
    warning(r, 'LOAD_UNKNOWN_SOURCE', 'Unknown source k8s_audit, skipping');
    assert.deepEqual(r.rules?.rules.map((x) => x.name), ['r']);
    assert.deepEqual(r.rules?.skippedRules, ['audit']);
  });

  it('decodes capture and capture_duration', () => {
    const r = loadOk(RULE('r', 'evt.type = open', '  capture: "yes"\n  capture_duration: 5000'));
    assert.equal(r.rules?.rules[0]?.capture, true);
    assert.equal(r.rules?.rules[0]?.captureDuration, 5000);
    loadFails(RULE('r', 'evt.type = open', '  capture_duration: soon'), "Can't decode YAML scalar value");
  });

  it('warns when a rule matches too many event types, unless warn_evttypes is false', () => {
    warning(loadOk(RULE('r', 'proc.name = cat')), 'LOAD_NO_EVTTYPE', 'Rule matches too many evt.type values');
    noWarning(loadOk(RULE('r', 'proc.name = cat', '  warn_evttypes: false')), 'LOAD_NO_EVTTYPE');
    noWarning(loadOk(RULE('r', 'evt.type in (open, openat) and proc.name = cat')), 'LOAD_NO_EVTTYPE');
    noWarning(loadOk(RULE('r', 'evt.num = 0')), 'LOAD_NO_EVTTYPE');
    noWarning(loadOk(RULE('r', 'evt.type = open and evt.type = close')), 'LOAD_NO_EVTTYPE');
    noWarning(
      loadOk(`- macro: never_true\n  condition: (evt.num=0)\n- macro: user_known\n  condition: (never_true)\n${RULE('r', 'evt.type = open and not user_known')}`),
      'LOAD_NO_EVTTYPE',
    );
    warning(loadOk(RULE('r', 'evt.type != open')), 'LOAD_NO_EVTTYPE');
  });

  it('replaces %container.info with a deprecation warning and flags deprecated output fields', () => {
    const r = loadOk('- rule: r\n  desc: d\n  condition: evt.type = open\n  output: file=%fd.name %container.info dir=%evt.dir\n  priority: INFO\n');
    assert.equal(r.rules?.rules[0]?.output, 'file=%fd.name  dir=%evt.dir');
    warning(r, 'LOAD_DEPRECATED_ITEM', '%container.info is deprecated');
    const w = warning(r, 'LOAD_DEPRECATED_ITEM', "usage of deprecated field 'evt.dir' has been detected in the rule output");
    // The position survives the removal of %container.info.
    assert.deepEqual([w.line, w.col, w.item?.name], [4, 46, 'r']);
  });
});

describe('condition errors carry file, line, column and item', () => {
  it('an unknown field names rule, position inside the condition and a suggestion', () => {
    const r = load(`
- rule: Bad field
  desc: d
  condition: evt.type = open and proc.nmae = cat
  output: o
  priority: INFO
`);
    assert.equal(r.ok, false);
    const e = r.errors[0]!;
    assert.equal(e.code, 'LOAD_ERR_COMPILE_CONDITION');
    assert.ok(e.message.includes('proc.nmae'), e.message);
    assert.ok(/did you mean/i.test(e.message), `no suggestion in: ${e.message}`);
    assert.deepEqual([e.file, e.line, e.col, e.item?.kind, e.item?.name], ['rules.yaml', 4, 34, 'rule', 'Bad field']);
    assert.match(formatDiagnostic(e), /^rules\.yaml:4:34: error LOAD_ERR_COMPILE_CONDITION: rule 'Bad field': /);
  });

  it('maps a syntax error inside a folded block scalar back to its line', () => {
    const e = loadFails(
      `
- rule: r
  desc: d
  condition: >
    evt.type = open
    and proc.name = cat foo
  output: o
  priority: INFO
`,
      "unexpected token after 'cat', expecting 'or', 'and'",
    );
    assert.equal(e.code, 'LOAD_ERR_COMPILE_CONDITION');
    assert.equal(e.line, 6);
  });

  it('maps positions through list substitution', () => {
    const e = loadFails(
      `
- list: shells
  items: [bash, zsh, ksh, tcsh, dash]
- rule: r
  desc: d
  condition: proc.name in (shells) and evt.type = opn
  output: o
  priority: INFO
`,
      'unknown event type opn',
    );
    assert.deepEqual([e.line, e.col], [6, 40]);
  });

  it('an error inside a macro points into the macro', () => {
    const e = loadFails(
      `
- macro: m
  condition: proc.bogus = 1
- rule: r
  desc: d
  condition: evt.type = open and m
  output: o
  priority: INFO
`,
      'proc.bogus',
    );
    assert.deepEqual([e.line, e.col, e.item, e.via], [3, 14, { kind: 'rule', name: 'r' }, { kind: 'macro', name: 'm' }]);
    assert.match(formatDiagnostic(e), /^rules\.yaml:3:14: error LOAD_ERR_COMPILE_CONDITION: rule 'r' \(in macro 'm'\): /);
  });
});

describe('lists', () => {
  it('substitutes lists textually, quoting items with spaces, one level of nesting', () => {
    const r = loadOk(`
- list: inner
  items: [a, "b c"]
- list: outer
  items: [inner, d, '"e f"']
${RULE('r', 'evt.type = open and proc.name in (outer)')}`);
    assert.equal(compiled(r, 'r'), '(evt.type = open and proc.name in (a, "b c", d, "e f"))');
  });

  it('substitutes bare list names outside parentheses (Falco ListSubBare)', () => {
    const r = loadOk(`- list: cat_binaries\n  items: [cat]\n${RULE('r', 'evt.type = open and proc.name=cat_binaries')}`);
    assert.equal(compiled(r, 'r'), '(evt.type = open and proc.name = cat)');
  });

  it('an empty list takes an adjacent comma with it', () => {
    const r = loadOk(`
- list: empty
  items: []
${RULE('r', 'evt.type = open and proc.name in (a, empty) and proc.pname in (empty, b) and fd.name in (empty)')}`);
    assert.equal(compiled(r, 'r'), '(evt.type = open and proc.name in (a) and proc.pname in (b) and fd.name in ())');
  });

  it('list append and override append/replace', () => {
    const r = loadOk(`
- list: l
  items: [a]
- list: l
  items: [b]
  append: true
- list: l
  items: [c]
  override:
    items: append
${RULE('r', 'evt.type = open and proc.name in (l)')}`);
    assert.equal(compiled(r, 'r'), '(evt.type = open and proc.name in (a, b, c))');
    loadFails('- list: l\n  items: [a]\n  append: true\n', "List uses 'append' or 'override.items: append' but no list by that name already exists");
  });

  it('warns about unused lists and invalid list names', () => {
    const r = loadOk(`- list: unused\n  items: [a]\n- list: "bad name"\n  items: [b]\n${RULE('r', 'evt.type = open')}`);
    const w = warning(r, 'LOAD_UNUSED_LIST', 'List not referred to by any other rule/macro');
    assert.deepEqual([w.line, w.item?.name], [1, 'unused']);
    warning(r, 'LOAD_INVALID_LIST_NAME', 'List has an invalid name. List names should match a regular expression');
  });
});

describe('macros', () => {
  it('resolves macros recursively; appends are raw concatenation', () => {
    const r = loadOk(`
- macro: a
  condition: evt.type = open
- macro: b
  condition: a and proc.name = x
- macro: b
  condition: or proc.name = y
  override:
    condition: append
${RULE('r', 'b')}`);
    assert.equal(compiled(r, 'r'), '((evt.type = open and proc.name = x) or proc.name = y)');
  });

  it('a macro may only use macros defined before it; a rule may use any', () => {
    const e = loadFails('- macro: a\n  condition: b\n- macro: b\n  condition: evt.type = open\n', "Undefined macro 'b' used in filter.");
    assert.deepEqual([e.line, e.col, e.item?.name], [2, 14, 'a']);
    const r = loadOk(`${RULE('r', 'later')}\n- macro: later\n  condition: evt.type = open\n`);
    assert.equal(compiled(r, 'r'), 'evt.type = open');
  });

  it('detects reference loops', () => {
    loadFails(
      `
- macro: a
  condition: evt.type = open
- macro: b
  condition: a
- macro: a
  condition: b
${RULE('r', 'a')}`,
      "reference loop in macro 'b'",
    );
  });

  it('warns about unused macros and invalid macro names', () => {
    const r = loadOk(`- macro: unused\n  condition: evt.type = open\n- macro: bad-name\n  condition: evt.type = open\n${RULE('r', 'evt.type = open')}`);
    warning(r, 'LOAD_UNUSED_MACRO', 'Macro not referred to by any other rule/macro');
    warning(r, 'LOAD_INVALID_MACRO_NAME', 'Macro has an invalid name. Macro names should match a regular expression');
    loadFails('- macro: m\n  condition: or x\n  override:\n    condition: append\n', "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists");
  });
});

describe('exceptions', () => {
  it('builds the single-field form with default comps "in"', () => {
    const r = loadOk(
      RULE(
        'r',
        'evt.type = execve',
        `  exceptions:
    - name: parents
      fields: proc.pname
      values: [sshd, cron job]`,
      ),
    );
    assert.equal(compiled(r, 'r'), '(evt.type = execve and not proc.pname in (sshd, "cron job"))');
  });

  it('builds the multi-field form with default "=" comps, lists and pmatch parentheses', () => {
    const r = loadOk(
      RULE(
        'r',
        'evt.type = execve',
        `  exceptions:
    - name: pairs
      fields: [proc.name, fd.directory]
      comps: [=, pmatch]
      values:
        - [ls, /tmp]
        - [cat, [/etc, /var/log]]
    - name: plain
      fields: [proc.cmdline]
      values:
        - [curl 127.0.0.1]`,
      ),
    );
    assert.equal(
      compiled(r, 'r'),
      '(evt.type = execve and not ((proc.name = ls and fd.directory pmatch (/tmp)) or (proc.name = cat and fd.directory pmatch (/etc, /var/log))) and not proc.cmdline = "curl 127.0.0.1")',
    );
  });

  it('appends values to an existing exception and adds new ones', () => {
    const r = loadOk(`${RULE('r', 'evt.type = execve', '  exceptions:\n    - name: e\n      fields: [proc.name]\n      values: [[a]]')}
- rule: r
  exceptions:
    - name: e
      values: [[b]]
    - name: f
      fields: proc.pname
      values: [c]
  override:
    exceptions: append
`);
    assert.equal(compiled(r, 'r'), '(evt.type = execve and not (proc.name = a or proc.name = b) and not proc.pname in (c))');
  });

  it('validates exceptions like Falco', () => {
    const ex = (body: string): string => RULE('r', 'evt.type = open', `  exceptions:\n${body}`);
    loadFails(ex('    - name: e\n      fields: [proc.name, fd.name]\n      comps: [=]\n      values: [[a, b]]'), 'Fields and comps lists must have equal length');
    loadFails(ex('    - name: e\n      fields: [proc.name, fd.name]\n      values: [[a]]'), 'Fields and values lists must have equal length');
    const unknown = loadFails(ex('    - name: e\n      fields: [proc.nope]\n      values: [[a]]'), "'proc.nope' is not a supported filter field");
    assert.deepEqual([unknown.line, unknown.col, unknown.item, unknown.via], [9, 16, { kind: 'exception', name: 'e' }, { kind: 'rule', name: 'r' }]);
    loadFails(ex('    - name: e\n      fields: [proc.name]\n      comps: [frobulate]\n      values: [[a]]'), "'frobulate' is not a supported comparison operator");
    loadFails(ex('    - name: e\n      fields: proc.name\n      comps: =\n      values: [a]'), 'When fields is a single value, comps must be one of (in, pmatch, intersects)');
    loadFails(ex('    - name: e\n      fields: proc.name\n      values: [[a]]'), 'Expected values array to contain a list of strings');
    loadFails(ex('    - name: e\n      values: [a]'), "Item has no mapping for key 'fields'");
    const dup = loadOk(ex('    - name: e\n      fields: proc.name\n      values: [a]\n    - name: e\n      fields: proc.pname\n      values: [b]'));
    warning(dup, 'LOAD_EXCEPTION_NAME_NOT_UNIQUE', "Multiple definitions of exception 'e'");
  });
});

describe('outputs', () => {
  it('an invalid output token is LOAD_ERR_COMPILE_OUTPUT at its position in the file', () => {
    const e = loadFails('- rule: r\n  desc: d\n  condition: evt.type = open\n  output: "file %fd.nme"\n  priority: INFO\n', 'fd.nme');
    assert.equal(e.code, 'LOAD_ERR_COMPILE_OUTPUT');
    assert.deepEqual([e.line, e.col, e.item?.name], [4, 17, 'r']);
  });

  it('skip-if-unknown-filter also covers unknown output fields', () => {
    const r = loadOk(`${RULE('r', 'evt.type = open')}${RULE('s', 'evt.type = open', '  skip-if-unknown-filter: true').replace('out %proc.name', 'out %proc.futurefield')}`);
    warning(r, 'LOAD_UNKNOWN_FILTER', 'proc.futurefield');
    assert.deepEqual(r.rules?.rules.map((x) => x.name), ['r']);
  });
});

describe('skip-if-unknown-filter', () => {
  it('turns an unknown field into a warning and drops the rule', () => {
    const r = loadOk(`${RULE('skipped', 'evt.type = open and proc.futurefield = 1', '  skip-if-unknown-filter: true')}${RULE('kept', 'evt.type = open')}`);
    warning(r, 'LOAD_UNKNOWN_FILTER', 'proc.futurefield');
    assert.deepEqual(r.rules?.rules.map((x) => x.name), ['kept']);
    assert.deepEqual(r.rules?.skippedRules, ['skipped']);
  });

  it('does not hide other errors', () => {
    const r = load(RULE('r', 'evt.type = open and proc.pid = notanumber', '  skip-if-unknown-filter: true'));
    assert.equal(r.ok, false);
  });
});

describe('versions and plugins', () => {
  it('accepts semver and legacy integer engine versions up to ours, keeps the maximum', () => {
    const r = loadOk(`- required_engine_version: 0.26.0\n- required_engine_version: 57\n- required_engine_version: 0.31.0\n${RULE('r', 'evt.type = open')}`);
    assert.equal(r.rules?.requiredEngineVersion, '0.57.0');
    loadFails('- required_engine_version: seven\n', "Unable to parse engine version 'seven' as a semver string");
    loadFails('- required_engine_version: 1.0.0\n', 'Rules require engine version 1.0.0, but engine version is 0.63.0');
    loadFails('- required_engine_version: 0.99.0\n', 'Rules require engine version 0.99.0');
  });

  it('records plugin requirements; container is built in at 0.4.0', () => {
    const r = loadOk(`- required_plugin_versions:\n  - name: container\n    version: 0.4.0\n${RULE('r', 'evt.type = open')}`);
    assert.deepEqual(r.rules?.requiredPluginVersions, [[{ name: 'container', version: '0.4.0' }]]);
    const e = load(`- required_plugin_versions:\n  - name: k8saudit\n    version: 0.1.0\n${RULE('r', 'evt.type = open')}`);
    assert.equal(e.ok, false);
    assert.ok(e.errors[0]!.message.includes('Plugin requirement not satisfied, must load one of: k8saudit (>= 0.1.0)'));
    loadOk(
      `- required_plugin_versions:\n  - name: k8saudit\n    version: 0.1.0\n    alternatives:\n      - name: container\n        version: 0.2.0\n`,
    );
    loadOk(`- required_plugin_versions:\n  - name: k8saudit\n    version: 0.1.0\n`, { plugins: { k8saudit: '0.7.0' } });
    loadFails('- required_plugin_versions:\n  - name: x\n    version: latest\n', "Invalid required version 'latest' for plugin 'x'");
  });
});

describe('several files', () => {
  it('share one collector: a later file appends to an earlier one', () => {
    const r = loadRuleSources([
      { name: 'base.yaml', content: `- list: l\n  items: [a]\n${RULE('r', 'evt.type = open and proc.name in (l)')}` },
      { name: 'local.yaml', content: '- list: l\n  items: [b]\n  override:\n    items: append\n' },
    ]);
    assert.equal(r.ok, true);
    assert.equal(compiled(r, 'r'), '(evt.type = open and proc.name in (a, b))');
  });

  it('compiles after each file: every file must be consistent by its end', () => {
    const r = loadRuleSources([
      { name: 'first.yaml', content: RULE('r', 'evt.type = open and defined_later') },
      { name: 'second.yaml', content: '- macro: defined_later\n  condition: proc.name = x\n' },
    ]);
    assert.equal(r.ok, false);
    assert.equal(r.errors[0]?.file, 'first.yaml');
    assert.ok(r.errors[0]?.message.includes("Undefined macro 'defined_later' used in filter."));
  });

  it('stops at the first error', () => {
    const r = load(`- rule: r\n  enabled: true\n- something_else: 1\n`);
    assert.equal(r.ok, false);
    noWarning(r, 'LOAD_UNKNOWN_ITEM');
  });
});

describe('selection options', () => {
  const rules = `${RULE('Net one', 'evt.type = connect', '  tags: [network]')}${RULE('File one', 'evt.type = open', '  tags: [filesystem]')}
- rule: Noisy
  desc: d
  condition: evt.type = close
  output: o
  priority: DEBUG
`;
  it('applies falco.yaml-style enable/disable entries in order', () => {
    const r = loadOk(rules, { selection: [{ disable: { rule: '*' } }, { enable: { tag: 'network' } }, { enable: { rule: 'File*' } }] });
    assert.deepEqual(r.rules?.rules.filter((x) => x.enabled).map((x) => x.name), ['Net one', 'File one']);
  });

  it('appends falco.yaml append_output text to matching rules', () => {
    const r = loadOk(rules, {
      appendOutput: [
        { match: { tags: ['network'] }, extraOutput: 'net=%fd.name' },
        { match: { rule: 'Noisy' }, extraOutput: 'noisy=1' },
        { extraOutput: 'all=%proc.pid' },
      ],
    });
    assert.deepEqual(r.rules?.rules.map((x) => x.output), [
      'out %proc.name net=%fd.name all=%proc.pid',
      'out %proc.name all=%proc.pid',
      'o noisy=1 all=%proc.pid',
    ]);
  });

  it('applies a minimum priority', () => {
    const r = loadOk(rules, { minimumPriority: 'Informational' });
    assert.deepEqual(r.rules?.rules.filter((x) => x.enabled).map((x) => x.name), ['Net one', 'File one']);
  });
});
