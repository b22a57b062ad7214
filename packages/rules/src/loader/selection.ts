/**
 * Which rules are enabled after loading: falco.yaml's `rules:` list of
 * `enable`/`disable` entries by rule name (with `*` wildcards) or by tag,
 * applied in order, then the minimum priority (falco.yaml `priority:`).
 */
import { isAtLeast, type Priority } from '@peregrine/alert';

export interface RuleMatcher {
  /** A rule name; `*` matches any run of characters. */
  readonly rule?: string;
  /** A tag the rule must carry (exact). */
  readonly tag?: string;
}

/** One entry of falco.yaml `rules:`, e.g. `{ disable: { rule: '*' } }`, `{ enable: { tag: 'network' } }`. */
export type RuleSelection = { readonly enable: RuleMatcher } | { readonly disable: RuleMatcher };

/** Falco `matches_wildcard`: only `*` is special. */
export function matchesWildcard(pattern: string, text: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
  return re.test(text);
}

function matches(m: RuleMatcher, rule: { name: string; tags: readonly string[] }): boolean {
  if (m.rule !== undefined && !matchesWildcard(m.rule, rule.name)) return false;
  if (m.tag !== undefined && !rule.tags.includes(m.tag)) return false;
  return m.rule !== undefined || m.tag !== undefined;
}

/** The final enabled flag of a rule given its file's `enabled`, the selection and the minimum priority. */
export function selectEnabled(
  rule: { name: string; tags: readonly string[]; priority: Priority; enabled: boolean },
  selection: readonly RuleSelection[],
  minimumPriority: Priority | undefined,
): boolean {
  let enabled = rule.enabled;
  for (const s of selection) {
    if ('enable' in s && matches(s.enable, rule)) enabled = true;
    else if ('disable' in s && matches(s.disable, rule)) enabled = false;
  }
  if (minimumPriority !== undefined && !isAtLeast(rule.priority, minimumPriority)) enabled = false;
  return enabled;
}
