/**
 * Falcosidekick's `messageformat` is a Go text/template over its payload:
 * `{{ .Rule }}`, `{{ .Priority }}`, `{{ index .OutputFields "k8s.pod.name" }}`.
 * This rewrites the plain-value subset into Peregrine's syntax so an existing
 * SLACK_MESSAGEFORMAT keeps working; control flow (`if`, `range`, pipes,
 * functions) is refused with a message saying what to write instead.
 */

const PROPERTIES: Readonly<Record<string, string>> = {
  Output: 'output',
  Priority: 'priority',
  Rule: 'rule',
  Time: 'time',
  Source: 'source',
  Tags: 'tags',
  Hostname: 'hostname',
  UUID: 'uuid',
  OutputFields: 'output_fields',
};

// `.X` never starts a Peregrine tag (`.` alone is the loop item), so this
// cannot misread a Peregrine template.
// Also catches `{{ range .Tags }}`, `{{ if eq .Priority "x" }}` so they get
// the "not supported" message rather than "unknown field 'range'".
const GO_STYLE = /\{\{-?\s*(?:[a-z]+\s+)*\.[A-Z]/;

/** True when the text uses Falcosidekick's Go-template field syntax. */
export function isSidekickTemplate(source: string): boolean {
  return GO_STYLE.test(source);
}

/** Rewrites a Falcosidekick Go template into Peregrine's syntax; throws Error naming the unsupported action. */
export function convertSidekickTemplate(source: string): string {
  // Go's trim markers: `{{- ` eats the whitespace before, ` -}}` the whitespace after.
  const trimmed = source.replace(/\s*\{\{-\s/g, '{{ ').replace(/\s-\}\}\s*/g, ' }}');
  return trimmed.replace(/\{\{(-?)([\s\S]*?)(-?)\}\}/g, (whole: string, _l: string, body: string) => {
    const action = body.trim();
    const property = /^\.([A-Za-z]+)$/.exec(action);
    if (property) {
      const name = PROPERTIES[property[1]];
      if (name === undefined) throw new Error(`Falcosidekick template field ".${property[1]}" does not exist; fields are ${Object.keys(PROPERTIES).map((p) => `.${p}`).join(', ')}`);
      return `{{ ${name} }}`;
    }
    const indexed = /^index\s+\.OutputFields\s+"((?:[^"\\]|\\.)*)"$/.exec(action);
    if (indexed) return `{{ output_fields["${indexed[1]}"] }}`;
    throw new Error(
      `Falcosidekick template action "${whole}" is not supported; only {{ .Field }} and {{ index .OutputFields "name" }} are converted. ` +
        'Rewrite it in Peregrine\'s syntax (docs/sinks.md, Templates), e.g. {{#x}}…{{/x}} for if, {{ x | default "-" }}',
    );
  });
}
