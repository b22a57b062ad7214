/**
 * bench/rules: events/s on one core evaluating the upstream stable rules
 * (falco_rules.yaml, unmodified) over the synthetic mix in ./events.ts.
 *
 * Three loops over the same events in the same run:
 *   dispatch  — the floor: read evt.type through the extractor and look up
 *               the per-type rule list, evaluate nothing (baseline);
 *   engine    — Peregrine's engine: evt.type index + compiled rules,
 *               Falco JSON alerts built for matches (rule_matching: first);
 *   match     — the same without building alerts (which rules match);
 *   unindexed — every enabled rule on every event, no alerts: what the
 *               evt.type index saves, compared with `match`.
 */
import { fileURLToPath } from 'node:url';
import { compileRules, fieldMapExtractor, loadRuleFiles, resolveField } from '@peregrine/rules';
import { makeEvents } from './events.ts';

const rulesFile = fileURLToPath(new URL('../../packages/rules/test/fixtures/falco-rules/falco_rules.yaml', import.meta.url));
const loaded = loadRuleFiles([rulesFile]);
const engine = compileRules(loaded, fieldMapExtractor, { hostname: 'bench' });
// A pool of distinct events evaluated round and round. In the sensor each event is
// decoded from a fresh batch and evaluated at once, so it is in cache; a pool of
// tens of thousands of events would instead measure this VM's memory latency.
const EVENT_POOL = Number(process.env.EVENT_POOL ?? 1000);
const events = makeEvents(EVENT_POOL);

const typeOf = fieldMapExtractor.accessor(resolveField('evt.type', undefined));
const buckets = new Map<string, unknown[]>();
for (const t of engine.eventTypes) buckets.set(t, []);

function measure(name: string, perEvent: (i: number) => number, seconds = 2): number {
  let sink = 0;
  // Warm-up so the JIT settles before timing.
  for (let i = 0; i < 200_000; i++) sink += perEvent(i % events.length);
  let n = 0;
  const start = process.hrtime.bigint();
  const limit = BigInt(seconds * 1e9);
  while (process.hrtime.bigint() - start < limit) {
    for (let i = 0; i < events.length; i++) sink += perEvent(i);
    n += events.length;
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const rate = n / elapsed;
  console.log(`${name.padEnd(10)} ${(rate / 1e6).toFixed(2)} M events/s  (checksum ${sink})`);
  return rate;
}

const dispatch = measure('dispatch', (i) => {
  const t = typeOf(events[i]!);
  return typeof t === 'string' && buckets.get(t) ? 1 : 0;
});
const rate = measure('engine', (i) => engine.evaluate(events[i]!).length);
const matchRate = measure('match', (i) => engine.matchingRules(events[i]!).length);
const rules = engine.rules;
const unindexed = measure('unindexed', (i) => {
  const ev = events[i]!;
  let m = 0;
  for (const r of rules) if (r.matches(ev)) m++;
  return m;
});

const alerts = events.reduce((n, ev) => n + engine.evaluate(ev).length, 0);
console.log(`\nrules: ${rules.length} enabled (falco_rules.yaml); event types indexed: ${engine.eventTypes.size}; events: ${events.length}; alerts per pass: ${alerts}`);
console.log(`engine: ${(rate / 1e6).toFixed(2)} M events/s/core; ratio to dispatch-only baseline ${(rate / dispatch).toFixed(3)}; index speed-up (match vs unindexed) x${(matchRate / unindexed).toFixed(1)}`);
console.log(`target >= 2M events/s/core: ${rate >= 2e6 ? 'met' : 'NOT met'}`);
