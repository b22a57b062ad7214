import { isAtLeast } from '@peregrine/alert';
import type { Alert } from '@peregrine/alert';
import type { MatchConditions } from '../config/schema.ts';
import { compileGlob, isGlob } from './glob.ts';

/** A destination's `match`, compiled once: true when the alert should go there. */
export type AlertMatcher = (alert: Alert) => boolean;

/**
 * Compiles a `match` block into one closure; every configured condition must
 * hold. Runs once, while the configuration is validated (matchSchema); the
 * field conditions arrive compiled.
 */
export function compileMatcher(match: MatchConditions): AlertMatcher {
  const tests: AlertMatcher[] = [];
  if (match.minimumPriority !== undefined) {
    const minimum = match.minimumPriority;
    tests.push((a) => isAtLeast(a.priority, minimum));
  }
  if (match.rules !== undefined) tests.push(nameTest(match.rules, (a) => a.rule));
  if (match.hostnames !== undefined) tests.push(nameTest(match.hostnames, (a) => a.hostname));
  if (match.sources !== undefined) {
    const sources = new Set(match.sources);
    tests.push((a) => sources.has(a.source));
  }
  if (match.tags?.any !== undefined && match.tags.any.length > 0) {
    const any = match.tags.any;
    tests.push((a) => a.tags.some((t) => any.includes(t)));
  }
  if (match.tags?.all !== undefined && match.tags.all.length > 0) {
    const all = match.tags.all;
    tests.push((a) => all.every((t) => a.tags.includes(t)));
  }
  for (const condition of match.fields ?? []) {
    const holds = condition.holds;
    tests.push((a) => holds(a.output_fields));
  }
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0];
  return (a) => {
    for (const t of tests) if (!t(a)) return false;
    return true;
  };
}

function nameTest(patterns: readonly string[], get: (a: Alert) => string): AlertMatcher {
  const exact = new Set(patterns.filter((p) => !isGlob(p)));
  const globs = patterns.filter(isGlob).map(compileGlob);
  return (a) => {
    const name = get(a);
    return exact.has(name) || globs.some((re) => re.test(name));
  };
}
