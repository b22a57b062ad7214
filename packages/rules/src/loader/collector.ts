/**
 * The collector: lists, macros and rules as read from the files, before
 * compilation (Falco `rule_loader_collector.cpp`). Several files share one
 * collector, so a later file can append to or override an earlier one.
 *
 * Every define/append/replace consumes one id. A new name gets
 * `index = visibility = id`; a redefinition replaces the object but keeps its
 * `index` (its place in evaluation order) and sets `visibility = id`.
 */
import type { Priority } from '@peregrine/alert';
import { failIf, type DiagnosticSink, type Location } from './diagnostics.ts';
import { isStrOperatorWithModifier, isSupportedOperator } from './operators.ts';
import type { MappedText } from './mapped-text.ts';
import { compareSemver, formatSemver, isCompatible, parseSemver, type Semver } from './versions.ts';

/** Messages shared with the reader (Falco `rule_loading_messages.h`). */
export const MSG = {
  WARNING_APPEND: "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.",
  WARNING_ENABLED:
    "The standalone 'enabled' key usage is deprecated. The correct approach requires also a 'replace' entry under the 'override' key (i.e. 'enabled: replace').",
  ERROR_OVERRIDE_APPEND:
    "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.",
  ERROR_NO_PREVIOUS_MACRO: "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists",
  ERROR_NO_PREVIOUS_LIST: "List uses 'append' or 'override.items: append' but no list by that name already exists",
  ERROR_NO_PREVIOUS_RULE_APPEND: "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists",
  ERROR_NO_PREVIOUS_RULE_REPLACE: "An 'override.<key>: replace' to a rule was requested but no rule by that name already exists",
  WARNING_INVALID_MACRO_NAME: 'Macro has an invalid name. Macro names should match a regular expression: ',
  WARNING_INVALID_LIST_NAME: 'List has an invalid name. List names should match a regular expression: ',
} as const;

/** One of an exception's `fields`, `comps` or `values`: a scalar or a (nested) list. */
export interface ExceptionEntry {
  isList: boolean;
  item: string;
  items: ExceptionEntry[];
  /** Where it was written (absent for defaults the loader fills in). */
  loc?: Location;
}

export function emptyEntry(): ExceptionEntry {
  return { isList: false, item: '', items: [] };
}

/** Falco `entry::is_valid`: a non-empty scalar or a non-empty list. */
export function entryIsValid(e: ExceptionEntry): boolean {
  return e.isList ? e.items.length > 0 : e.item !== '';
}

export interface ExceptionInfo {
  name: string;
  fields: ExceptionEntry;
  comps: ExceptionEntry;
  values: ExceptionEntry[];
  readonly ctx: Location;
}

interface Indexed {
  index: number;
  visibility: number;
}

export interface ListInfo extends Indexed {
  name: string;
  items: string[];
  ctx: Location;
}

export interface MacroInfo extends Indexed {
  name: string;
  cond: MappedText;
  ctx: Location;
}

export interface RuleInfo extends Indexed {
  name: string;
  cond: MappedText;
  /** Trimmed like Falco; remembers where each character was written. */
  output: MappedText;
  outputCtx: Location;
  desc: string;
  priority: Priority;
  source: string;
  enabled: boolean;
  tags: Set<string>;
  exceptions: ExceptionInfo[];
  warnEvttypes: boolean;
  skipIfUnknownFilter: boolean;
  capture: boolean;
  captureDuration: number;
  unknownSource: boolean;
  ctx: Location;
}

/** The parts of a rule an append or a selective replace carries. */
export interface RuleUpdate {
  name: string;
  ctx: Location;
  /** A non-empty `source:` written on the update item. */
  source?: string;
  cond?: MappedText;
  output?: MappedText;
  outputCtx?: Location;
  desc?: string;
  tags?: Set<string>;
  exceptions?: ExceptionInfo[];
  priority?: Priority;
  enabled?: boolean;
  warnEvttypes?: boolean;
  skipIfUnknownFilter?: boolean;
  capture?: boolean;
  captureDuration?: number;
}

function updateHasAnyValue(u: RuleUpdate): boolean {
  return (
    u.cond !== undefined ||
    u.output !== undefined ||
    u.desc !== undefined ||
    u.tags !== undefined ||
    u.exceptions !== undefined ||
    u.priority !== undefined ||
    u.enabled !== undefined ||
    u.warnEvttypes !== undefined ||
    u.skipIfUnknownFilter !== undefined ||
    u.capture !== undefined ||
    u.captureDuration !== undefined
  );
}

export interface PluginRequirement {
  readonly name: string;
  readonly version: string;
}

export interface CollectorEnv {
  readonly sink: DiagnosticSink;
  /** Event sources the engine knows (`syscall`). */
  readonly sources: ReadonlySet<string>;
  /** Why `field` may not stand on the left of a check (exception fields); undefined when it may. */
  readonly lhsFieldProblem: (field: string) => string | undefined;
  readonly engineVersion: Semver;
}

export class Collector {
  readonly lists = new Map<string, ListInfo>();
  readonly macros = new Map<string, MacroInfo>();
  readonly rules = new Map<string, RuleInfo>();
  requiredEngineVersion: { version: Semver; ctx: Location } | undefined;
  readonly requiredPluginVersions: Array<{ alternatives: PluginRequirement[]; ctx: Location }> = [];
  private curIndex = 0;

  constructor(private readonly env: CollectorEnv) {}

  private defineInfo<T extends Indexed & { name: string }>(infos: Map<string, T>, info: T): void {
    const id = this.curIndex++;
    const prev = infos.get(info.name);
    info.index = prev ? prev.index : id;
    info.visibility = id;
    infos.set(info.name, info);
  }

  defineEngineVersion(version: Semver, ctx: Location): void {
    failIf(
      !isCompatible(this.env.engineVersion, version),
      'LOAD_ERR_VALIDATE',
      `Rules require engine version ${formatSemver(version)}, but engine version is ${formatSemver(this.env.engineVersion)}`,
      ctx,
    );
    if (!this.requiredEngineVersion || compareSemver(this.requiredEngineVersion.version, version) < 0) {
      this.requiredEngineVersion = { version, ctx };
    }
  }

  definePluginVersions(alternatives: PluginRequirement[], ctx: Location): void {
    const names = new Set<string>();
    for (const req of alternatives) {
      failIf(parseSemver(req.version) === undefined, 'LOAD_ERR_VALIDATE', `Invalid required version '${req.version}' for plugin '${req.name}'`, ctx);
      failIf(names.has(req.name), 'LOAD_ERR_VALIDATE', `Defined multiple alternative version requirements for plugin '${req.name}'`, ctx);
      names.add(req.name);
    }
    this.requiredPluginVersions.push({ alternatives, ctx });
  }

  defineList(info: ListInfo): void {
    this.defineInfo(this.lists, info);
  }

  appendList(name: string, items: string[], ctx: Location): void {
    const prev = this.lists.get(name);
    failIf(!prev, 'LOAD_ERR_VALIDATE', MSG.ERROR_NO_PREVIOUS_LIST, ctx);
    prev!.items.push(...items);
    prev!.visibility = this.curIndex++;
  }

  defineMacro(info: MacroInfo): void {
    this.defineInfo(this.macros, info);
  }

  appendMacro(name: string, cond: MappedText, ctx: Location): void {
    const prev = this.macros.get(name);
    failIf(!prev, 'LOAD_ERR_VALIDATE', MSG.ERROR_NO_PREVIOUS_MACRO, ctx);
    // Plain concatenation, no parentheses: Falco's `prev.cond += " " + cond`.
    prev!.cond = prev!.cond.concat(' ', cond);
    prev!.visibility = this.curIndex++;
  }

  defineRule(info: RuleInfo): void {
    const prev = this.rules.get(info.name);
    failIf(!!prev && prev.source !== info.source, 'LOAD_ERR_VALIDATE', 'Rule has been re-defined with a different source', info.ctx);
    if (!this.env.sources.has(info.source)) {
      info.unknownSource = true;
      this.env.sink.warn('LOAD_UNKNOWN_SOURCE', `Unknown source ${info.source}, skipping`, info.ctx);
    }
    for (const ex of info.exceptions) {
      failIf(!entryIsValid(ex.fields), 'LOAD_ERR_VALIDATE', 'Rule exception item must have fields property with a list of fields', ex.ctx);
      this.validateException(ex, !info.unknownSource);
    }
    this.defineInfo(this.rules, info);
  }

  private previousRule(u: RuleUpdate, missing: string): RuleInfo {
    const prev = this.rules.get(u.name);
    failIf(!prev, 'LOAD_ERR_VALIDATE', missing, u.ctx);
    failIf(
      u.source !== undefined && u.source !== prev!.source,
      'LOAD_ERR_VALIDATE',
      'Rule has been re-defined with a different source',
      u.ctx,
    );
    return prev!;
  }

  appendRule(u: RuleUpdate): void {
    const prev = this.previousRule(u, MSG.ERROR_NO_PREVIOUS_RULE_APPEND);
    failIf(!updateHasAnyValue(u), 'LOAD_ERR_VALIDATE', 'Appended rule must have exceptions or condition property', u.ctx);
    if (u.cond !== undefined && u.cond.text !== '') prev.cond = prev.cond.concat(' ', u.cond);
    if (u.output !== undefined && u.output.text !== '') prev.output = prev.output.concat(' ', u.output);
    if (u.desc !== undefined && u.desc !== '') prev.desc = `${prev.desc} ${u.desc}`;
    if (u.tags !== undefined) for (const t of u.tags) prev.tags.add(t);
    if (u.exceptions !== undefined) {
      for (const ex of u.exceptions) {
        const existing = prev.exceptions.find((e) => e.name === ex.name);
        if (!existing) {
          failIf(!entryIsValid(ex.fields), 'LOAD_ERR_VALIDATE', 'Rule exception must have fields property with a list of fields', ex.ctx);
          failIf(ex.values.length === 0, 'LOAD_ERR_VALIDATE', 'Rule exception must have values property with a list of values', ex.ctx);
          this.validateException(ex, !prev.unknownSource);
          prev.exceptions.push(ex);
        } else {
          failIf(entryIsValid(ex.fields), 'LOAD_ERR_VALIDATE', 'Can not append exception fields to existing exception, only values', ex.ctx);
          failIf(entryIsValid(ex.comps), 'LOAD_ERR_VALIDATE', 'Can not append exception comps to existing exception, only values', ex.ctx);
          existing.values.push(...ex.values);
        }
      }
    }
    prev.visibility = this.curIndex++;
  }

  replaceRule(u: RuleUpdate): void {
    const prev = this.previousRule(u, MSG.ERROR_NO_PREVIOUS_RULE_REPLACE);
    failIf(!updateHasAnyValue(u), 'LOAD_ERR_VALIDATE', 'The rule must have at least one field that can be replaced', u.ctx);
    if (u.cond !== undefined) prev.cond = u.cond;
    if (u.output !== undefined) {
      prev.output = u.output;
      prev.outputCtx = u.outputCtx ?? u.ctx;
    }
    if (u.desc !== undefined) prev.desc = u.desc;
    if (u.tags !== undefined) prev.tags = new Set(u.tags);
    if (u.exceptions !== undefined) {
      for (const ex of u.exceptions) {
        failIf(!entryIsValid(ex.fields), 'LOAD_ERR_VALIDATE', 'Rule exception item must have fields property with a list of fields', ex.ctx);
        this.validateException(ex, !prev.unknownSource);
      }
      prev.exceptions = u.exceptions;
    }
    if (u.priority !== undefined) prev.priority = u.priority;
    if (u.enabled !== undefined) prev.enabled = u.enabled;
    if (u.warnEvttypes !== undefined) prev.warnEvttypes = u.warnEvttypes;
    if (u.skipIfUnknownFilter !== undefined) prev.skipIfUnknownFilter = u.skipIfUnknownFilter;
    if (u.capture !== undefined) prev.capture = u.capture;
    if (u.captureDuration !== undefined) prev.captureDuration = u.captureDuration;
    prev.visibility = this.curIndex++;
  }

  /** The deprecated `- rule: X / enabled: false` toggle. Consumes no id. */
  enableRule(name: string, enabled: boolean, ctx: Location): void {
    const prev = this.rules.get(name);
    failIf(!prev, 'LOAD_ERR_VALIDATE', "Rule has 'enabled' key but no rule by that name already exists", ctx);
    prev!.enabled = enabled;
  }

  private checkExceptionField(f: ExceptionEntry, ex: ExceptionInfo): void {
    const problem = this.env.lhsFieldProblem(f.item);
    // Falco's text, with the compiler's reason (and its suggestion) appended.
    failIf(problem !== undefined, 'LOAD_ERR_VALIDATE', `'${f.item}' is not a supported filter field (${problem})`, f.loc ?? ex.ctx);
  }

  /** Falco `validate_exception_info`: default comps, lengths, operators, fields. */
  private validateException(ex: ExceptionInfo, checkFields: boolean): void {
    if (ex.fields.isList) {
      if (!entryIsValid(ex.comps)) {
        ex.comps = { isList: true, item: '', items: ex.fields.items.map(() => ({ isList: false, item: '=', items: [] })) };
      }
      for (const c of ex.comps.items) c.item = c.item.trim();
      failIf(ex.fields.items.length !== ex.comps.items.length, 'LOAD_ERR_VALIDATE', 'Fields and comps lists must have equal length', ex.ctx);
      for (const c of ex.comps.items) {
        failIf(
          !isSupportedOperator(c.item) && !isStrOperatorWithModifier(c.item),
          'LOAD_ERR_VALIDATE',
          `'${c.item}' is not a supported comparison operator`,
          c.loc ?? ex.ctx,
        );
      }
      if (checkFields) {
        for (const f of ex.fields.items) this.checkExceptionField(f, ex);
      }
    } else {
      if (!entryIsValid(ex.comps)) ex.comps = { isList: false, item: 'in', items: [] };
      failIf(ex.comps.isList, 'LOAD_ERR_VALIDATE', 'Fields and comps must both be strings', ex.ctx);
      ex.comps.item = ex.comps.item.trim();
      const c = ex.comps.item;
      failIf(
        c !== 'in' && c !== 'pmatch' && c !== 'intersects' && !isStrOperatorWithModifier(c),
        'LOAD_ERR_VALIDATE',
        'When fields is a single value, comps must be one of (in, pmatch, intersects) or a string operator with a list modifier (e.g. startswith oneof)',
        ex.comps.loc ?? ex.ctx,
      );
      if (checkFields) {
        this.checkExceptionField(ex.fields, ex);
      }
    }
  }
}
