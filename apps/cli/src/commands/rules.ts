import { readFileSync } from 'node:fs';
import {
  ConditionSyntaxError,
  asString,
  compileRules,
  fieldMapExtractor,
  formatDiagnostic,
  loadRuleSources,
  parseCondition,
  parseFieldMapEvents,
  type Diagnostic,
  type LoadResult,
} from '@peregrine/rules';
import { alertToJson } from '@peregrine/alert';
import type { Command } from '../command.ts';
import { wantsHelp } from '../command.ts';

const HELP = `Usage: peregrine rules <subcommand> [options]

Falco rule language tools.

Subcommands:
  validate FILE...           Load rules files in order (as Falco does); print the
                             counts of rules, macros and lists and every warning.
                             Exit 1 with file:line:col: message on the first error.
      --json                 Machine-readable result on stdout.
  parse 'CONDITION'          Print the canonical form of a condition (Falco's
                             condition_compiled style); exit 1 with the error and
                             its position.
  test --rules FILE... --events FILE.jsonl [--expect FILE.jsonl] [--all-matches]
                             Run field-map events (one {"fields": {...}} per line)
                             through the rules and print one Falco JSON alert per
                             match. With --expect, compare the matched rule names
                             per event against the expected ones (one JSON value per
                             line: a rule name, an array of names, or null) and exit
                             1 on any difference.
      --hostname NAME        hostname in alerts (default: this machine's)
      --all-matches          report every matching rule (Falco rule_matching: all);
                             default is the first match, as Falco.
`;

/** Splits `--flag v1 v2 --other` style arguments: a flag takes every value up to the next flag. */
function groupArgs(args: readonly string[]): { positional: string[]; flags: Map<string, string[]> } {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const a of args) {
    if (a.startsWith('--')) {
      const [name, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
      current = flags.get(name) ?? [];
      flags.set(name, current);
      if (inline !== undefined) current.push(inline);
    } else if (current) current.push(a);
    else positional.push(a);
  }
  return { positional, flags };
}

function readSources(paths: readonly string[]): Array<{ name: string; content: string }> {
  return paths.map((p) => {
    try {
      return { name: p, content: readFileSync(p, 'utf8') };
    } catch (e) {
      throw new UsageError(`cannot read rules file '${p}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  });
}

class UsageError extends Error {}

function printDiagnostics(list: readonly Diagnostic[]): void {
  for (const d of list) console.error(formatDiagnostic(d));
}

function countsOf(result: LoadResult): { rules: number; macros: number; lists: number } {
  const r = result.rules;
  return { rules: r?.rules.length ?? 0, macros: r?.macroCount ?? 0, lists: r?.listCount ?? 0 };
}

function validate(paths: string[], json: boolean): number {
  if (paths.length === 0) throw new UsageError('validate: give at least one rules file');
  const result = loadRuleSources(readSources(paths));
  if (json) {
    console.log(JSON.stringify({ ok: result.ok, ...countsOf(result), errors: result.errors, warnings: result.warnings }, null, 2));
    return result.ok ? 0 : 1;
  }
  printDiagnostics(result.warnings);
  if (!result.ok) {
    printDiagnostics(result.errors);
    return 1;
  }
  const c = countsOf(result);
  console.log(`${paths.join(', ')}: ok: ${c.rules} rules, ${c.macros} macros, ${c.lists} lists, ${result.warnings.length} warnings`);
  return 0;
}

function parse(condition: string | undefined): number {
  if (condition === undefined) throw new UsageError("parse: give a condition, e.g. peregrine rules parse 'proc.name = bash'");
  try {
    console.log(asString(parseCondition(condition)));
    return 0;
  } catch (e) {
    if (!(e instanceof ConditionSyntaxError)) throw e;
    console.error(`${e.pos.line}:${e.pos.col}: ${e.message}`);
    console.error(condition.split(/\r?\n|\r/)[e.pos.line - 1] ?? '');
    console.error(`${' '.repeat(e.pos.col - 1)}^`);
    return 1;
  }
}

function parseExpectations(path: string): Array<string[]> {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: string[][] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new UsageError(`${path}:${i + 1}: not JSON (${(e as Error).message}); write a rule name in quotes, an array of names, or null`);
    }
    if (value === null) out.push([]);
    else if (typeof value === 'string') out.push([value]);
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) out.push(value as string[]);
    else throw new UsageError(`${path}:${i + 1}: expected a rule name, an array of rule names, or null`);
  });
  return out;
}

function runTest(flags: Map<string, string[]>): number {
  const rulePaths = flags.get('rules') ?? [];
  const eventPaths = flags.get('events') ?? [];
  if (rulePaths.length === 0 || eventPaths.length !== 1) {
    throw new UsageError('test: give --rules FILE... and --events FILE.jsonl');
  }
  const result = loadRuleSources(readSources(rulePaths));
  printDiagnostics(result.warnings);
  if (!result.ok || !result.rules) {
    printDiagnostics(result.errors);
    return 1;
  }
  const eventsPath = eventPaths[0]!;
  let events;
  try {
    events = parseFieldMapEvents(readFileSync(eventsPath, 'utf8'), eventsPath);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const hostname = flags.get('hostname')?.[0];
  const engine = compileRules(result.rules, fieldMapExtractor, {
    ...(hostname ? { hostname } : {}),
    ruleMatching: flags.has('all-matches') ? 'all' : 'first',
  });
  const matched: string[][] = [];
  for (const event of events) {
    const alerts = engine.evaluate(event);
    for (const alert of alerts) console.log(alertToJson(alert));
    matched.push(alerts.map((a) => a.rule));
  }
  const expectPath = flags.get('expect')?.[0];
  if (expectPath === undefined) return 0;
  const expected = parseExpectations(expectPath);
  let failures = 0;
  if (expected.length !== matched.length) {
    console.error(`${expectPath}: ${expected.length} expectations for ${matched.length} events`);
    failures++;
  }
  matched.forEach((got, i) => {
    const want = expected[i];
    if (want === undefined) return;
    if (JSON.stringify([...got].sort()) !== JSON.stringify([...want].sort())) {
      console.error(`event ${i + 1} (${eventsPath}): expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
      failures++;
    }
  });
  console.error(`${matched.length - failures} passed, ${failures} failed`);
  return failures === 0 ? 0 : 1;
}

export const rulesCommand: Command = {
  name: 'rules',
  summary: 'Validate, parse and test Falco-syntax rules',
  async run(args) {
    const [sub, ...rest] = args;
    if (sub === undefined || wantsHelp(args)) {
      console.log(HELP);
      return sub === undefined ? 1 : 0;
    }
    const { positional, flags } = groupArgs(rest);
    try {
      switch (sub) {
        case 'validate':
          return validate([...positional, ...(flags.get('json') ?? [])], flags.has('json'));
        case 'parse':
          return parse(positional[0]);
        case 'test':
          return runTest(flags);
      }
      throw new UsageError(`unknown subcommand '${sub}'\n\n${HELP}`);
    } catch (e) {
      if (e instanceof UsageError) {
        console.error(`peregrine rules: ${e.message}`);
        return 2;
      }
      throw e;
    }
  },
};
