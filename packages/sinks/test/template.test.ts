import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TemplateError, compileTemplate } from '../src/index.ts';
import { alertWith, falcoAlert } from './support/fixtures.ts';

const render = (source: string, alert = falcoAlert, escape?: 'text' | 'json' | 'slack') => compileTemplate(source, { escape })(alert);

function compileError(source: string): TemplateError {
  try {
    compileTemplate(source);
  } catch (e) {
    assert.ok(e instanceof TemplateError, `expected TemplateError, got ${String(e)}`);
    return e;
  }
  assert.fail(`template compiled but should not: ${source}`);
}

describe('template rendering', () => {
  it('inserts alert properties and bracketed output fields of every type', () => {
    assert.equal(
      render('{{ rule }} [{{priority}}] {{ source }}@{{ hostname }} pod={{ output_fields["k8s.pod.name"] }} tty={{ output_fields[\'proc.tty\'] }} uid={{ output_fields["user.loginuid"] }}'),
      'Read sensitive file untrusted [Warning] syscall@ip-10-0-12-34 pod=web-7d4b9c6f5-x2k8q tty=34816 uid=-1',
    );
  });

  it('renders missing and null fields as empty, and `default` supplies a literal or another field', () => {
    assert.equal(render('a={{ output_fields["nope"] }} b={{ output_fields["proc.aname[3]"] }}'), 'a= b=');
    assert.equal(render('{{ output_fields["proc.aname[3]"] | default "-" }}'), '-');
    assert.equal(render('{{ output_fields["nope"] | default output_fields["container.name"] | default "x" }}'), 'web');
    assert.equal(render('{{ output_fields["fd.name"] | default "-" }}'), '/etc/shadow');
  });

  it('message is the output without Falco\'s time/priority prefix', () => {
    assert.ok(render('{{ message }}').startsWith('Sensitive file opened for reading'));
    assert.ok(render('{{ output }}').startsWith('06:13:20.123456789: Warning Sensitive'));
  });

  it('has upper, lower, join and json filters; lists print comma-separated', () => {
    assert.equal(render('{{ priority | upper }} {{ rule | lower }}'), 'WARNING read sensitive file untrusted');
    assert.equal(render('{{ tags | join "+" }}'), 'T1555+container+filesystem+host+maturity_stable+mitre_credential_access');
    assert.equal(render('{{ tags[0] }}'), 'T1555');
    assert.equal(render('{{ tags | json }}'), JSON.stringify(falcoAlert.tags));
    assert.equal(render('{{ output_fields["proc.tty"] | json }} {{ output_fields["k8s.pod.name"] | json }} {{ output_fields["proc.aname[3]"] | json }}'), '34816 "web-7d4b9c6f5-x2k8q" null');
    assert.equal(render('{{ output_fields | json }}'), JSON.stringify(falcoAlert.output_fields));
  });

  it('sections iterate lists with loop variables and act as conditionals on other values', () => {
    assert.equal(render('{{#tags}}{{@index}}:{{ . }}{{^@last}}, {{/@last}}{{/tags}}', alertWith({ tags: ['a', 'b', 'c'] })), '0:a, 1:b, 2:c');
    assert.equal(render('{{#tags}}x{{/tags}}{{^tags}}none{{/tags}}', alertWith({ tags: [] })), 'none');
    assert.equal(render('{{#output_fields["k8s.pod.name"]}}pod {{ . }}{{/output_fields["k8s.pod.name"]}}'), 'pod web-7d4b9c6f5-x2k8q');
    assert.equal(render("{{#output_fields['proc.aname[3]']}}shown{{/output_fields[\"proc.aname[3]\"]}}"), '');
    assert.equal(render('{{! a comment }}{{ "{{" }}literal}}'), '{{literal}}');
  });

  it('json escaping keeps a JSON body valid whatever the values hold', () => {
    const nasty = alertWith({ rule: 'quote " backslash \\ newline \n tab \t <tag> \u0001', tags: ['a"b'] });
    const body = render('{"rule": "{{ rule }}", "tags": {{ tags | json }}, "pod": {{ output_fields["k8s.pod.name"] | json }}, "n": {{ output_fields["nope"] | json }}}', nasty, 'json');
    assert.deepEqual(JSON.parse(body), { rule: nasty.rule, tags: ['a"b'], pod: 'web-7d4b9c6f5-x2k8q', n: null });
  });

  it('text mode inserts values verbatim; slack mode escapes &, <, > only in inserted values', () => {
    const a = alertWith({ rule: 'a < b & c > d' });
    assert.equal(render('{{ rule }}', a), 'a < b & c > d');
    assert.equal(render('<https://x|{{ rule }}> {{ output_fields["proc.aname[3]"] | default "<NA>" }}', a, 'slack'), '<https://x|a &lt; b &amp; c &gt; d> &lt;NA&gt;');
  });

  it('a compiled template is a pure function of the alert', () => {
    const t = compileTemplate('{{ rule }}/{{ hostname }}');
    assert.equal(t(alertWith({ rule: 'r1', hostname: 'h1' })), 'r1/h1');
    assert.equal(t(alertWith({ rule: 'r2', hostname: 'h2' })), 'r2/h2');
  });
});

describe('template compile errors say where and what', () => {
  const cases: Array<[string, number, number, RegExp]> = [
    ['hello\n  {{ rle }}', 2, 6, /unknown field 'rle'.*rule, priority/],
    ['{{ output_fields.fd.name }}', 1, 17, /use brackets.*output_fields\["fd.name"\]/],
    ['x {{ rule | shout }}', 1, 13, /unknown filter 'shout'; filters are json, upper, lower, default, join/],
    ['ab {{ rule', 1, 4, /'\{\{' is never closed/],
    ['{{#tags}}\n{{ . }}', 1, 1, /section 'tags' is never closed \(add '\{\{\/tags\}\}'\)/],
    ['{{#tags}}{{/rule}}', 1, 10, /does not match the open section 'tags' \(opened at line 1, column 1\)/],
    ['{{/tags}}', 1, 1, /never opened/],
    ['{{ }}', 1, 3, /empty/],
    ['{{ rule rule }}', 1, 9, /expected '\|' or '\}\}'/],
    ['{{ "abc }}', 1, 4, /not closed with "/],
    ['{{ output_fields["a" x }}', 1, 22, /expected '\]' but found 'x'/],
    ['{{ rule | join }}', 1, 16, /ends too early/],
    ['{{ @foo }}', 1, 4, /unknown loop variable/],
    ['{{ rule ; }}', 1, 9, /unexpected character ';'/],
  ];
  for (const [source, line, column, message] of cases) {
    it(JSON.stringify(source), () => {
      const err = compileError(source);
      assert.equal(err.line, line, err.message);
      assert.equal(err.column, column, err.message);
      assert.match(err.detail, message);
      assert.match(err.message, new RegExp(`^template error at line ${line}, column ${column}: `));
      assert.equal(err.code, 'PGR_SINKS_TEMPLATE_INVALID');
    });
  }

  it('points a caret at the column in the quoted source line', () => {
    const err = compileError('first\nsecond {{ nope }}');
    assert.equal(err.message.split('\n').slice(1).join('\n'), '  second {{ nope }}\n            ^');
  });
});

describe('Falcosidekick Go templates (slack.messageformat)', () => {
  it('converts field and index actions into this syntax', async () => {
    const { convertSidekickTemplate, isSidekickTemplate } = await import('../src/index.ts');
    const go = 'Rule: {{ .Rule }} ({{.Priority}}) pod={{ index .OutputFields "k8s.pod.name" }} on {{- .Hostname -}}!';
    assert.ok(isSidekickTemplate(go));
    assert.equal(isSidekickTemplate('{{#tags}}{{ . }}{{/tags}} {{ rule }}'), false);
    const converted = convertSidekickTemplate(go);
    assert.equal(converted, 'Rule: {{ rule }} ({{ priority }}) pod={{ output_fields["k8s.pod.name"] }} on{{ hostname }}!');
    assert.equal(render(converted), 'Rule: Read sensitive file untrusted (Warning) pod=web-7d4b9c6f5-x2k8q onip-10-0-12-34!');
  });

  it('refuses control flow and unknown fields with what to do instead', async () => {
    const { convertSidekickTemplate } = await import('../src/index.ts');
    assert.throws(() => convertSidekickTemplate('{{ if eq .Priority "Critical" }}!!{{ end }} {{ .Rule }}'), /action "\{\{ if eq \.Priority "Critical" \}\}" is not supported.*Rewrite it/);
    assert.throws(() => convertSidekickTemplate('{{ .Rulez }}'), /field "\.Rulez" does not exist; fields are \.Output, \.Priority/);
  });

  it('converts if / if not / else / end and range over one field into sections', async () => {
    const { convertSidekickTemplate } = await import('../src/index.ts');
    const go = '{{ if index .OutputFields "k8s.pod.name" }}pod {{ index .OutputFields "k8s.pod.name" }}{{- else -}} host{{ end }}';
    assert.equal(convertSidekickTemplate(go), '{{#output_fields["k8s.pod.name"]}}pod {{ output_fields["k8s.pod.name"] }}{{/output_fields["k8s.pod.name"]}}{{^output_fields["k8s.pod.name"]}}host{{/output_fields["k8s.pod.name"]}}');
    assert.equal(render(convertSidekickTemplate(go)), 'pod web-7d4b9c6f5-x2k8q');
    assert.equal(render(convertSidekickTemplate('{{ if index .OutputFields "nope" }}pod{{ else }}host{{ end }}')), 'host');
    assert.equal(render(convertSidekickTemplate('{{ if not .Hostname }}no host{{ else }}{{ .Hostname }}{{ end }}')), 'ip-10-0-12-34');
    assert.equal(render(convertSidekickTemplate('{{ if not .Tags }}untagged{{ end }}{{ if .Rule }}!{{ end }}')), '!');
    assert.equal(render(convertSidekickTemplate('{{ range .Tags }}<{{ . }}>{{ end }}')), (falcoAlert.tags ?? []).map((t) => `<${t}>`).join(''));
    // Nested blocks close in order.
    assert.equal(render(convertSidekickTemplate('{{ if .Rule }}{{ range .Tags }}{{ . }},{{ end }}{{ end }}')), (falcoAlert.tags ?? []).map((t) => `${t},`).join(''));
  });

  it('refuses the control flow it does not convert, saying why', async () => {
    const { convertSidekickTemplate } = await import('../src/index.ts');
    assert.throws(() => convertSidekickTemplate('{{ if .Tags }}tagged{{ end }}'), /renders when \.Tags is not empty is not converted.*\{\{#tags\}\}/);
    assert.throws(() => convertSidekickTemplate('{{ if not .Tags }}none{{ else }}some{{ end }}'), /renders when \.Tags is not empty/);
    assert.throws(() => convertSidekickTemplate('{{ if .Rule }}a{{ else if .Output }}b{{ end }}'), /only a plain \{\{ else \}\} inside \{\{ if … \}\}/);
    assert.throws(() => convertSidekickTemplate('{{ if .Rule }}never closed'), /"\{\{ if \.Rule \}\}" has no matching \{\{ end \}\}/);
    assert.throws(() => convertSidekickTemplate('{{ .Rule }}{{ end }}'), /"\{\{ end \}\}" closes nothing/);
    assert.throws(() => convertSidekickTemplate('{{ range .Tags }}{{ .Rule }}{{ end }}'), /inside \{\{ range \}\}; only \{\{ \. \}\}/);
    assert.throws(() => convertSidekickTemplate('{{ if "x" }}a{{ end }}'), /over one field only/);
    assert.throws(() => convertSidekickTemplate('{{ with .Rule }}{{ . }}{{ end }}'), /action "\{\{ with \.Rule \}\}" is not supported/);
    assert.throws(() => convertSidekickTemplate('{{ range .OutputFields }}{{ . }}{{ end }}'), /ranging over \.OutputFields is not supported/);
  });

  it('converts `or` with parentheses into a default chain (first non-empty argument)', async () => {
    const { convertSidekickTemplate, isSidekickTemplate } = await import('../src/index.ts');
    const go = '{{ or (index .OutputFields "nope") (index .OutputFields "container.name") "x" }}';
    assert.ok(isSidekickTemplate(go));
    assert.equal(convertSidekickTemplate(go), '{{ output_fields["nope"] | default output_fields["container.name"] | default "x" }}');
    assert.equal(render(convertSidekickTemplate(go)), 'web');
    assert.equal(render(convertSidekickTemplate('{{ or (index .OutputFields "nope") "-" }}')), '-');
  });
});

describe('Falcosidekick Go templates over output_fields (templatedfields)', () => {
  it('converts index, .key, literals and or; detects only Go syntax', async () => {
    const { convertSidekickTemplate, isSidekickTemplate } = await import('../src/index.ts');
    const root = { root: 'outputFields' } as const;
    for (const go of ['{{ index . "k8s.pod.name" }}', '{{ or (index . "x") "y" }}', '{{ .evt_type }}', '{{(index . "a")}}']) assert.ok(isSidekickTemplate(go, root), go);
    for (const native of ['{{ rule }}', '{{ output_fields["x"] | default "y" }}', '{{#tags}}{{ . }}{{/tags}}', 'plain']) assert.equal(isSidekickTemplate(native, root), false, native);
    const convert = (go: string) => convertSidekickTemplate(go, root);
    assert.equal(convert('team-{{ index . "k8s.pod.name" }}'), 'team-{{ output_fields["k8s.pod.name"] }}');
    assert.equal(convert('{{ .container_name }}'), '{{ output_fields["container_name"] }}');
    assert.equal(render(convert('{{ or (index . "k8s.ns.labels.team") "platform" }}')), 'platform');
    assert.equal(render(convert('{{ or (index . "nope") (index . "k8s.pod.name") "z" }}')), 'web-7d4b9c6f5-x2k8q');
    assert.equal(render(convert('{{ "a\\"b" }}')), 'a"b');
  });

  it('refuses what it cannot convert, naming the action', async () => {
    const { convertSidekickTemplate } = await import('../src/index.ts');
    const root = { root: 'outputFields' } as const;
    assert.throws(() => convertSidekickTemplate('{{ index .OutputFields "x" }}', root), /action "\{\{ index \.OutputFields "x" \}\}" is not supported; only \{\{ index \. "name" \}\}/);
    assert.throws(() => convertSidekickTemplate('{{ printf "%s" (index . "x") }}', root), /not supported/);
    assert.throws(() => convertSidekickTemplate('{{ index . "x" | upper }}', root), /not supported/);
    assert.throws(() => convertSidekickTemplate('{{ .a.b }}', root), /not supported/);
    assert.throws(() => convertSidekickTemplate('{{ or }}', root), /not supported/);
  });
});
