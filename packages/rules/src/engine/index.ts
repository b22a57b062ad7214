/**
 * The runtime engine: a loaded ruleset compiled against one extractor.
 * Rules are indexed by event type (libs ppm_codes algebra), so an event only
 * meets the rules that can match it, tried in rule order; Falco's default
 * `rule_matching: first` stops at the first match.
 */
import { hostname as osHostname } from 'node:os';
import type { Alert, Priority } from '@peregrine/alert';
import { isAtLeast } from '@peregrine/alert';
import type { Expr } from '../condition/ast.ts';
import type { FieldExtractor, FieldValue } from '../extract.ts';
import { resolveField } from '../fields/index.ts';
import { compileAllMatches, compileCondition, compileFirstMatch, type CompiledCondition } from '../compile/condition.ts';
import { eventTypesOf } from '../compile/event-types.ts';
import { createAlertBuilder } from '../output/index.ts';

/** What the engine needs of a loaded rule (the loader's LoadedRule satisfies it). */
export interface EngineRule {
  readonly name: string;
  readonly condition: Expr;
  readonly output: string;
  readonly priority: Priority;
  readonly tags: readonly string[];
  readonly source: string;
  readonly enabled: boolean;
}

export interface CompileRulesOptions {
  /** The `hostname` of alerts; defaults to os.hostname(). */
  readonly hostname?: string;
  /** Falco's `rule_matching`: `first` (default) reports the first matching rule per event, `all` every one. */
  readonly ruleMatching?: 'first' | 'all';
  /** Falco's `priority`: rules less severe than this are not enabled. Default: Debug (all). */
  readonly minimumPriority?: Priority;
  /** The event source this engine serves; rules of other sources are left out. Default `syscall`. */
  readonly source?: string;
}

export interface CompiledRule<E> {
  readonly name: string;
  readonly index: number;
  readonly priority: Priority;
  readonly eventTypes: ReadonlySet<string> | 'all';
  readonly matches: CompiledCondition<E>;
  readonly toAlert: (event: E) => Alert;
}

export interface CompiledRules<E> {
  /** Enabled rules in evaluation order. */
  readonly rules: readonly CompiledRule<E>[];
  /** Event types some enabled rule can match: the probe's in-kernel syscall filter. */
  readonly eventTypes: ReadonlySet<string>;
  /** True when some enabled rule is not restricted to a set of event types (it must see every event). */
  readonly matchesAllEventTypes: boolean;
  /** The rules that match this event (at most one with `ruleMatching: first`). */
  matchingRules(event: E): CompiledRule<E>[];
  /** Falco JSON alerts for this event. */
  evaluate(event: E): Alert[];
}

export function compileRules<E>(
  loaded: { readonly rules: readonly EngineRule[] },
  extractor: FieldExtractor<E>,
  options: CompileRulesOptions = {},
): CompiledRules<E> {
  const source = options.source ?? 'syscall';
  const minimum = options.minimumPriority ?? 'Debug';
  const firstOnly = (options.ruleMatching ?? 'first') === 'first';
  const hostname = options.hostname ?? osHostname();

  const rules: CompiledRule<E>[] = [];
  loaded.rules.forEach((rule, index) => {
    if (!rule.enabled || rule.source !== source || !isAtLeast(rule.priority, minimum)) return;
    rules.push({
      name: rule.name,
      index,
      priority: rule.priority,
      eventTypes: eventTypesOf(rule.condition),
      matches: compileCondition(rule.condition, extractor),
      toAlert: createAlertBuilder(rule, extractor, { hostname }),
    });
  });

  const anyType = rules.filter((r) => r.eventTypes === 'all');
  const byType = new Map<string, CompiledRule<E>[]>();
  const eventTypes = new Set<string>();
  for (const r of rules) {
    if (r.eventTypes === 'all') continue;
    for (const t of r.eventTypes) {
      eventTypes.add(t);
      let bucket = byType.get(t);
      if (!bucket) byType.set(t, (bucket = []));
      bucket.push(r);
    }
  }

  // Each event type gets one generated function over its rules (plus the
  // unrestricted ones) in rule order, so rules share the fields they read.
  const buildMatcher = (bucket: readonly CompiledRule<E>[], knownType?: string): ((event: E) => CompiledRule<E>[]) => {
    const exprs = bucket.map((r) => loaded.rules[r.index]!.condition);
    if (firstOnly) {
      const first = compileFirstMatch(exprs, extractor, knownType);
      return (event) => {
        const i = first(event);
        return i < 0 ? [] : [bucket[i]!];
      };
    }
    const all = compileAllMatches(exprs, extractor, knownType);
    return (event) => all(event).map((i) => bucket[i]!);
  };
  const matcherByType = new Map<string, (event: E) => CompiledRule<E>[]>();
  for (const [t, bucket] of byType) {
    matcherByType.set(t, buildMatcher([...bucket, ...anyType].sort((a, b) => a.index - b.index), t));
  }
  const anyTypeMatcher = buildMatcher(anyType);

  const typeOf = extractor.accessor(resolveField('evt.type', undefined));
  const matchingRules = (event: E): CompiledRule<E>[] => {
    const t: FieldValue = typeOf(event);
    const matcher = (typeof t === 'string' ? matcherByType.get(t) : undefined) ?? anyTypeMatcher;
    return matcher(event);
  };

  return {
    rules,
    eventTypes,
    matchesAllEventTypes: anyType.length > 0,
    matchingRules,
    evaluate: (event) => matchingRules(event).map((r) => r.toAlert(event)),
  };
}
