/**
 * Compiles everything collected so far (Falco `rule_loader::compiler`):
 * lists (one level of list-in-list), macros (in order, each seeing only the
 * macros defined before it), then rules (exceptions → lists → parse → macros
 * → field/operator checks → event types). Falco runs this after every file,
 * so each file must leave the ruleset consistent.
 */
import type { Priority } from '@peregrine/alert';
import type { Expr, FieldOrTransformer, Pos, TransformerListExpr, ValueExpr, ListExpr } from '../condition/ast.ts';
import { asString } from '../condition/as-string.ts';
import { ConditionSyntaxError, parseCondition, parseOperand } from '../condition/parser.ts';
import { checkCondition, type CheckIssue } from '../compile/check.ts';
import { eventTypesOf } from '../compile/event-types.ts';
import { validateOutputFormat } from '../output/index.ts';
import type { Collector, RuleInfo } from './collector.ts';
import { LoadFailure, WARNING_CODES, type DiagnosticSink, type Location, type WarningCode } from './diagnostics.ts';
import { applyExceptions, exceptionFields } from './exceptions.ts';
import { compileLists, substituteLists, type CompiledList } from './lists.ts';
import { expansionShape, firstUnknown, resolveMacros, type MacroLookup } from './macros.ts';
import { MappedText } from './mapped-text.ts';

/** Falco sets this nesting cap for rule conditions. */
const MAX_CONDITION_DEPTH = 1000;
/** Ours: a rule's condition after macro expansion (upstream rules stay under a few hundred nodes each). */
const MAX_EXPANDED_CONDITION_NODES = 50_000;

/** Fields Falco flags as deprecated when they appear in an output (`falco_load_result.cpp`). */
const DEPRECATED_OUTPUT_FIELDS = ['evt.dir', 'evt.latency', 'evt.latency.s', 'evt.latency.ns', 'evt.latency.human', 'evt.wait_latency'];

const CONTAINER_INFO = '%container.info';

/** A rule as loaded: final condition (lists substituted, macros resolved, exceptions applied). */
export interface LoadedRule {
  readonly name: string;
  /** Position in evaluation order (0-based; a redefinition keeps its place). */
  readonly index: number;
  readonly desc: string;
  readonly condition: Expr;
  /** Falco's `condition_compiled`: the canonical text of `condition`. */
  readonly compiledCondition: string;
  /** Trimmed like Falco; `%container.info` removed. */
  readonly output: string;
  readonly priority: Priority;
  /** Sorted, like Falco's std::set. */
  readonly tags: readonly string[];
  readonly source: string;
  /** Enabled in the default ruleset (after the file's `enabled` and any selection options). */
  readonly enabled: boolean;
  readonly warnEvttypes: boolean;
  readonly skipIfUnknownFilter: boolean;
  readonly capture: boolean;
  readonly captureDuration: number;
  /** Fields compared by the rule's exceptions. */
  readonly exceptionFields: readonly string[];
  /** The event types the condition can match (`all` when unrestricted). */
  readonly eventTypes: ReadonlySet<string> | 'all';
  /** Where the rule's current definition starts (a redefinition replaces it). */
  readonly location: Location;
}

/**
 * falco.yaml `append_output` entries: text appended to the output of every
 * rule that matches (all given criteria must hold), before validation.
 */
export interface AppendOutput {
  readonly match?: {
    readonly source?: string;
    /** The rule must carry every one of these tags. */
    readonly tags?: readonly string[];
    readonly rule?: string;
  };
  readonly extraOutput: string;
}

export interface CompileOptions {
  readonly appendOutput?: readonly AppendOutput[];
}

function appendOutputMatches(a: AppendOutput, r: RuleInfo): boolean {
  const m = a.match;
  if (!m) return true;
  if (m.source !== undefined && m.source !== '' && m.source !== r.source) return false;
  if (m.tags !== undefined && !m.tags.every((t) => r.tags.has(t))) return false;
  if (m.rule !== undefined && m.rule !== '' && m.rule !== r.name) return false;
  return true;
}

export interface CompiledRuleset {
  readonly rules: LoadedRule[];
  /** Rules left out by `skip-if-unknown-filter`. */
  readonly skipped: string[];
  readonly lists: ReadonlyMap<string, CompiledList>;
  readonly macros: ReadonlyMap<string, Expr>;
}

/** Where AST positions came from: each parsed node's Pos → the text it was parsed from. */
class PositionIndex {
  private readonly texts = new WeakMap<Pos, MappedText>();

  register(expr: Expr, text: MappedText): void {
    const add = (pos: Pos): void => {
      this.texts.set(pos, text);
    };
    const operand = (n: FieldOrTransformer | ValueExpr | TransformerListExpr | ListExpr): void => {
      add(n.pos);
      if (n.kind === 'transformer') n.values.forEach(operand);
      else if (n.kind === 'transformer_list') n.children.forEach(operand);
    };
    const walk = (e: Expr): void => {
      add(e.pos);
      switch (e.kind) {
        case 'and':
        case 'or':
          e.children.forEach(walk);
          break;
        case 'not':
          walk(e.child);
          break;
        case 'unary':
          operand(e.left);
          break;
        case 'binary':
          operand(e.left);
          operand(e.right);
          break;
        default:
          break;
      }
    };
    walk(expr);
  }

  /** File location of an AST position, falling back to `fallbackText` (the condition being compiled). */
  locate(pos: Pos | undefined, fallbackText: MappedText, fallback: Location): Location {
    if (!pos) return fallback;
    const text = this.texts.get(pos) ?? fallbackText;
    const loc = text.locate(pos.idx);
    if (!loc) return fallback;
    // The diagnostic is about the rule/macro being compiled; the position may lie in a macro it uses.
    if (!fallback.item) return loc;
    const elsewhere = loc.item && (loc.item.kind !== fallback.item.kind || loc.item.name !== fallback.item.name);
    return { file: loc.file, line: loc.line, col: loc.col, item: fallback.item, ...(elsewhere ? { via: loc.item } : {}) };
  }
}

function errIsUnknownTypeOrField(err: string): boolean {
  return (
    err.includes('nonexistent field') ||
    err.includes('invalid formatting token') ||
    err.includes('unknown event type') ||
    err.includes('unknown filter:')
  );
}

function warningCode(issue: CheckIssue): WarningCode {
  const code = issue.code as WarningCode | undefined;
  return code !== undefined && (WARNING_CODES as readonly string[]).includes(code) ? code : 'LOAD_COMPILE_CONDITION';
}

/**
 * Why `text` is not a valid left-hand side (field or transformer) for an
 * exception (Falco `is_valid_lhs_field`), or undefined when it is: it must
 * parse as one operand and compile as `<operand> exists`.
 */
export function lhsFieldProblem(text: string): string | undefined {
  let left: FieldOrTransformer;
  try {
    left = parseOperand(text);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  return checkCondition({ kind: 'unary', left, op: 'exists', pos: left.pos }).errors[0]?.message;
}

export function compileCollector(col: Collector, sink: DiagnosticSink, options: CompileOptions = {}): CompiledRuleset {
  const positions = new PositionIndex();

  const parse = (text: MappedText, ctx: Location): Expr => {
    try {
      const expr = parseCondition(text.text, { maxDepth: MAX_CONDITION_DEPTH });
      positions.register(expr, text);
      return expr;
    } catch (e) {
      if (e instanceof ConditionSyntaxError) {
        throw new LoadFailure('LOAD_ERR_COMPILE_CONDITION', e.message, positions.locate(e.pos, text, ctx));
      }
      throw e;
    }
  };

  // Lists.
  const lists = compileLists(col.lists);

  // Macros: parse all, then resolve each with the macros visible to it.
  const macroAst = new Map<string, Expr>();
  const macroText = new Map<string, MappedText>();
  const usedMacros = new Set<string>();
  for (const m of col.macros.values()) {
    const text = substituteLists(m.cond, lists);
    macroText.set(m.name, text);
    macroAst.set(m.name, parse(text, m.ctx));
  }
  const resolve = (expr: Expr, visible: MacroLookup, text: MappedText, ctx: Location): Expr => {
    const r = resolveMacros(expr, visible);
    const unknown = firstUnknown(r.unknown);
    if (r.error) throw new LoadFailure('LOAD_ERR_VALIDATE', r.error.message, positions.locate(r.error.pos, text, ctx));
    if (unknown) {
      throw new LoadFailure('LOAD_ERR_VALIDATE', `Undefined macro '${unknown[0]}' used in filter.`, positions.locate(unknown[1], text, ctx));
    }
    for (const n of r.resolved) usedMacros.add(n);
    return r.expr;
  };
  for (const m of col.macros.values()) {
    // The macros defined before this one, decided on lookup: copying them into
    // a map per macro made loading N macros O(N²).
    const visible: MacroLookup = {
      get: (name) => {
        const other = col.macros.get(name);
        return other !== undefined && other.index < m.visibility ? macroAst.get(name) : undefined;
      },
    };
    macroAst.set(m.name, resolve(macroAst.get(m.name)!, visible, macroText.get(m.name)!, m.ctx));
  }

  // Rules.
  const rules: LoadedRule[] = [];
  const skipped: string[] = [];
  for (const r of col.rules.values()) {
    if (r.unknownSource) continue;
    const rule = compileRule(r, rules.length);
    if (rule) rules.push(rule);
    else skipped.push(r.name);
  }

  function compileRule(r: RuleInfo, index: number): LoadedRule | undefined {
    const cond = r.exceptions.length > 0 ? applyExceptions(r.cond, r.exceptions) : r.cond;

    let output = r.output;
    for (const extra of options.appendOutput ?? []) {
      if (appendOutputMatches(extra, r)) output = output.concat(' ', MappedText.fixedAt(extra.extraOutput, undefined));
    }
    const outputLoc = (offset: number | undefined): Location => {
      const loc = offset !== undefined ? output.locate(offset) : undefined;
      return loc ? { ...loc, item: loc.item ?? r.ctx.item } : r.outputCtx;
    };
    if (output.text.includes(CONTAINER_INFO)) {
      sink.warn(
        'LOAD_DEPRECATED_ITEM',
        '%container.info is deprecated and no more useful, and will be dropped by Falco 1.0.0. The container plugin will automatically add required fields to the output message.',
        r.ctx,
      );
      for (let at = output.text.indexOf(CONTAINER_INFO); at !== -1; at = output.text.indexOf(CONTAINER_INFO, at)) {
        output = output.replace(at, at + CONTAINER_INFO.length, '');
      }
    }
    const outputIssues = validateOutputFormat(output.text);
    const outputError = outputIssues.find((i: { severity: string; offset?: number }) => i.severity === 'error');
    if (outputError) {
      if (r.skipIfUnknownFilter && errIsUnknownTypeOrField(outputError.message)) {
        sink.warn('LOAD_UNKNOWN_FILTER', outputError.message, outputLoc(outputError.offset));
        return undefined;
      }
      throw new LoadFailure('LOAD_ERR_COMPILE_OUTPUT', outputError.message, outputLoc(outputError.offset));
    }
    for (const df of DEPRECATED_OUTPUT_FIELDS) {
      const at = output.text.indexOf(df);
      if (at !== -1) {
        sink.warn('LOAD_DEPRECATED_ITEM', `usage of deprecated field '${df}' has been detected in the rule output`, outputLoc(at));
      }
    }

    const text = substituteLists(cond, lists);
    const parsed = parse(text, r.ctx);
    const condition = resolve(parsed, macroAst, text, r.ctx);
    // Macros may nest and repeat each other without bound; past these limits
    // the later passes (and the generated JS) would overflow the stack or run
    // for hours, so the rule is refused with the reason instead.
    const shape = expansionShape(condition);
    if (shape.depth > MAX_CONDITION_DEPTH) {
      throw new LoadFailure(
        'LOAD_ERR_COMPILE_CONDITION',
        `exceeded max depth limit of ${MAX_CONDITION_DEPTH} after macro expansion (the condition nests ${shape.depth} levels of and/or/not); flatten the chain of macros it uses`,
        r.ctx,
      );
    }
    if (shape.size > MAX_EXPANDED_CONDITION_NODES) {
      throw new LoadFailure(
        'LOAD_ERR_COMPILE_CONDITION',
        `condition too large after macro expansion (${shape.size} nodes, limit ${MAX_EXPANDED_CONDITION_NODES}); a macro is probably used several times at each level of a chain of macros`,
        r.ctx,
      );
    }
    const check = checkCondition(condition);
    const firstError = check.errors[0];
    if (firstError) {
      const loc = positions.locate(firstError.pos, text, r.ctx);
      if (r.skipIfUnknownFilter && errIsUnknownTypeOrField(firstError.message)) {
        sink.warn('LOAD_UNKNOWN_FILTER', firstError.message, loc);
        return undefined;
      }
      throw new LoadFailure('LOAD_ERR_COMPILE_CONDITION', firstError.message, loc);
    }
    for (const w of check.warnings) sink.warn(warningCode(w), w.message, positions.locate(w.pos, text, r.ctx));

    const eventTypes = eventTypesOf(condition);
    if (r.source === 'syscall' && r.warnEvttypes && (eventTypes === 'all' || eventTypes.size > 100)) {
      sink.warn('LOAD_NO_EVTTYPE', 'Rule matches too many evt.type values. This has a significant performance penalty.', r.ctx);
    }

    return {
      name: r.name,
      index,
      desc: r.desc,
      condition,
      compiledCondition: asString(condition),
      output: output.text,
      priority: r.priority,
      tags: [...r.tags].sort(),
      source: r.source,
      enabled: r.enabled,
      warnEvttypes: r.warnEvttypes,
      skipIfUnknownFilter: r.skipIfUnknownFilter,
      capture: r.capture,
      captureDuration: r.captureDuration,
      exceptionFields: exceptionFields(r.exceptions),
      eventTypes,
      location: r.ctx,
    };
  }

  // Dangling items (only reported when everything compiled).
  for (const m of col.macros.values()) {
    if (!usedMacros.has(m.name)) sink.warn('LOAD_UNUSED_MACRO', 'Macro not referred to by any other rule/macro', m.ctx);
  }
  for (const l of lists.values()) {
    if (!l.used) sink.warn('LOAD_UNUSED_LIST', 'List not referred to by any other rule/macro', col.lists.get(l.name)!.ctx);
  }

  return { rules, skipped, lists, macros: macroAst };
}
