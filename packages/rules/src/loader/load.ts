/**
 * Loading several rules files in order into one collector, compiling
 * everything after each file (Falco `falco_engine::load_rules`), then
 * checking plugin requirements and applying the rule selection.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Priority } from '@peregrine/alert';
import { Collector, type PluginRequirement } from './collector.ts';
import { compileCollector, lhsFieldProblem, type AppendOutput, type CompiledRuleset, type LoadedRule } from './compiler.ts';
import { DiagnosticSink, LoadFailure, RuleLoadError, type Diagnostic } from './diagnostics.ts';
import { readRulesFile } from './reader.ts';
import { selectEnabled, type RuleSelection } from './selection.ts';
import { BUILTIN_PLUGIN_VERSIONS, ENGINE_VERSION, formatSemver, isCompatible, parseSemver } from './versions.ts';
import { YamlFile } from './yaml-source.ts';

export interface LoadOptions {
  /** Event sources rules may use; rules of other sources are skipped with a warning. Default `['syscall']`. */
  readonly sources?: readonly string[];
  /** Plugins present and their versions, added to the built-in `container` 0.4.0. */
  readonly plugins?: Readonly<Record<string, string>>;
  /** falco.yaml `rules:` enable/disable entries, applied in order after loading. */
  readonly selection?: readonly RuleSelection[];
  /** falco.yaml `priority:`: rules less severe are not enabled. */
  readonly minimumPriority?: Priority;
  /** falco.yaml `append_output` (`extra_output` entries): text appended to matching rules' outputs. */
  readonly appendOutput?: readonly AppendOutput[];
}

export interface LoadedRules {
  /** Every compiled rule, enabled or not, in evaluation order. */
  readonly rules: readonly LoadedRule[];
  readonly macroCount: number;
  readonly listCount: number;
  /** The highest `required_engine_version` seen (x.y.z), if any. */
  readonly requiredEngineVersion: string | undefined;
  /** One entry per `required_plugin_versions` item: the acceptable alternatives. */
  readonly requiredPluginVersions: readonly (readonly PluginRequirement[])[];
  /** Rules left out: their source is not one of `sources`, or `skip-if-unknown-filter` dropped them. */
  readonly skippedRules: readonly string[];
  readonly warnings: readonly Diagnostic[];
}

export interface LoadResult {
  readonly ok: boolean;
  readonly errors: readonly Diagnostic[];
  readonly warnings: readonly Diagnostic[];
  /** Present when ok. */
  readonly rules?: LoadedRules;
}

export interface RulesSource {
  /** Shown in diagnostics (usually the file path). */
  readonly name: string;
  readonly content: string;
}

function pluginVersions(options: LoadOptions): Map<string, string> {
  return new Map(Object.entries({ ...BUILTIN_PLUGIN_VERSIONS, ...(options.plugins ?? {}) }));
}

/** Falco's check that some alternative of every requirement is present at a compatible version. */
function checkPluginRequirements(col: Collector, have: Map<string, string>): void {
  for (const req of col.requiredPluginVersions) {
    const satisfied = req.alternatives.some((alt) => {
      const present = have.get(alt.name);
      const presentV = present !== undefined ? parseSemver(present) : undefined;
      const wanted = parseSemver(alt.version);
      return presentV !== undefined && wanted !== undefined && isCompatible(presentV, wanted);
    });
    if (!satisfied) {
      const list = req.alternatives.map((a) => `${a.name} (>= ${a.version})`).join(', ');
      throw new LoadFailure('LOAD_ERR_VALIDATE', `Plugin requirement not satisfied, must load one of: ${list}`, req.ctx);
    }
  }
}

/** Loads rules from in-memory sources, in order. Never throws: problems are in `errors`. */
export function loadRuleSources(sources: readonly RulesSource[], options: LoadOptions = {}): LoadResult {
  const sink = new DiagnosticSink();
  const collector = new Collector({
    sink,
    sources: new Set(options.sources ?? ['syscall']),
    lhsFieldProblem,
    engineVersion: parseSemver(ENGINE_VERSION)!,
  });
  let compiled: CompiledRuleset = { rules: [], skipped: [], lists: new Map(), macros: new Map() };
  const fail = (e: unknown, file: string): LoadResult => {
    if (e instanceof LoadFailure) sink.error(e.code, e.failure, e.loc);
    else sink.error('LOAD_ERR_VALIDATE', e instanceof Error ? e.message : String(e), { file, line: 1, col: 1 });
    return { ok: false, errors: sink.errors, warnings: sink.warnings };
  };
  for (const source of sources) {
    const file = new YamlFile(source.name, source.content);
    try {
      readRulesFile(file, { collector, sink });
      compiled = compileCollector(collector, sink, { appendOutput: options.appendOutput ?? [] });
    } catch (e) {
      return fail(e, source.name);
    }
  }
  try {
    checkPluginRequirements(collector, pluginVersions(options));
  } catch (e) {
    return fail(e, sources[sources.length - 1]?.name ?? '');
  }

  const selection = options.selection ?? [];
  const rules = compiled.rules.map((r) => {
    const enabled = selectEnabled(r, selection, options.minimumPriority);
    return enabled === r.enabled ? r : { ...r, enabled };
  });
  const engine = collector.requiredEngineVersion;
  return {
    ok: true,
    errors: [],
    warnings: sink.warnings,
    rules: {
      rules,
      macroCount: collector.macros.size,
      listCount: collector.lists.size,
      requiredEngineVersion: engine ? formatSemver(engine.version) : undefined,
      requiredPluginVersions: collector.requiredPluginVersions.map((r) => r.alternatives),
      skippedRules: [...[...collector.rules.values()].filter((r) => r.unknownSource).map((r) => r.name), ...compiled.skipped],
      warnings: sink.warnings,
    },
  };
}

/** A path, or a directory's regular files in name order (as Falco reads rules directories). */
function expandPath(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    return [path];
  }
  if (!st.isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .map((n) => join(path, n))
    .filter((p) => {
      try {
        return statSync(p).isFile();
      } catch {
        return false;
      }
    });
}

/** Loads rules files (or directories of them) in order; throws RuleLoadError on the first error. */
export function loadRuleFiles(paths: readonly string[], options: LoadOptions = {}): LoadedRules {
  const sources: RulesSource[] = [];
  for (const p of paths.flatMap(expandPath)) {
    try {
      sources.push({ name: p, content: readFileSync(p, 'utf8') });
    } catch (e) {
      const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      const d: Diagnostic = {
        severity: 'error',
        code: 'LOAD_ERR_FILE_READ',
        message: `Could not read rules file '${p}': ${reason}`,
        file: p,
        line: 1,
        col: 1,
      };
      throw new RuleLoadError([d]);
    }
  }
  const result = loadRuleSources(sources, options);
  if (!result.ok || !result.rules) throw new RuleLoadError([...result.errors, ...result.warnings]);
  return result.rules;
}
