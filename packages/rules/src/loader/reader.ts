/**
 * Reads the items of one rules file into the collector, the way Falco's
 * `rule_loader::reader` does: the item kind is picked by key
 * (required_engine_version → required_plugin_versions → list → macro → rule),
 * values are decoded with yaml-cpp's rules, and the first error stops the file.
 */
import { parsePriority, type Priority } from '@peregrine/alert';
import type { Document, Scalar, YAMLMap } from 'yaml';
import { Collector, MSG, emptyEntry, type ExceptionEntry, type ExceptionInfo, type PluginRequirement, type RuleUpdate } from './collector.ts';
import { LoadFailure, failIf, type DiagnosticSink, type ItemRef, type Location } from './diagnostics.ts';
import { MappedText } from './mapped-text.ts';
import { parseSemver, type Semver } from './versions.ts';
import {
  MapView,
  ScalarOrigin,
  YamlFile,
  decodeYamlBool,
  decodeYamlUnsigned,
  deref,
  isMapNode,
  isNull,
  isScalarNode,
  isSeqNode,
  nodeOffset,
  parseYaml,
  scalarText,
  type YamlNode,
} from './yaml-source.ts';

const RGX_IDENTIFIER = '([a-zA-Z]+[a-zA-Z0-9_]*)';
const RGX_BARESTR = '([^()"\'[:space:]=,]+)';
const IDENTIFIER_FULL = /^[a-zA-Z]+[a-zA-Z0-9_]*$/;
const BARESTR_FULL = /^[^()"'\s=,]+$/;

const LIST_KEYS = new Set(['list', 'items', 'append', 'override']);
const MACRO_KEYS = new Set(['macro', 'condition', 'append', 'override']);
const RULE_KEYS = new Set([
  'rule', 'condition', 'output', 'desc', 'priority', 'source', 'enabled', 'tags', 'exceptions',
  'warn_evttypes', 'skip-if-unknown-filter', 'append', 'override', 'capture', 'capture_duration',
]);
const EXCEPTION_KEYS = new Set(['name', 'fields', 'comps', 'values']);

const RULE_APPENDABLE = ['condition', 'output', 'desc', 'tags', 'exceptions'] as const;
const RULE_REPLACEABLE = [
  'condition', 'output', 'desc', 'priority', 'tags', 'exceptions', 'enabled', 'warn_evttypes',
  'skip-if-unknown-filter', 'capture', 'capture_duration',
] as const;

const UINT32_MAX = 0xffffffff;

/** Falco's `trim`: the C `isspace` set at both ends. */
export function trimFalco(s: string): string {
  return s.replace(/^[ \t\n\r\f\v]+/, '').replace(/[ \t\n\r\f\v]+$/, '');
}

function parseFalcoPriority(text: string): Priority | undefined {
  // Falco compares the whole string case-insensitively: no trimming.
  return text === text.trim() ? parsePriority(text) : undefined;
}

export interface ReadEnv {
  readonly collector: Collector;
  readonly sink: DiagnosticSink;
}

/** Reads one file into the collector. Throws `LoadFailure` at the first error. */
export function readRulesFile(file: YamlFile, env: ReadEnv): void {
  const parsed = parseYaml(file);
  if (parsed.error) {
    throw new LoadFailure('LOAD_ERR_YAML_PARSE', parsed.error.message, file.at(parsed.error.offset));
  }
  for (const doc of parsed.docs) {
    const root = deref(doc, doc.contents);
    if (root === undefined || isNull(root)) continue;
    failIf(!isMapNode(root) && !isSeqNode(root), 'LOAD_ERR_YAML_VALIDATE', 'Rules content is not yaml', file.at(nodeOffset(root)));
    failIf(!isSeqNode(root), 'LOAD_ERR_YAML_VALIDATE', 'Rules content is not yaml array of objects', file.at(nodeOffset(root)));
    if (!isSeqNode(root)) continue;
    const reader = new ItemReader(file, doc, env);
    for (const raw of root.items) {
      const item = deref(doc, raw);
      if (item === undefined || isNull(item)) continue;
      reader.readItem(item);
    }
  }
}

class ItemReader {
  constructor(
    private readonly file: YamlFile,
    private readonly doc: Document.Parsed,
    private readonly env: ReadEnv,
  ) {}

  private loc(node: unknown, item?: ItemRef): Location {
    return this.file.at(nodeOffset(node), item);
  }

  /** The location of `node`, about the same item (and context) as `ctx`. */
  private at(node: unknown, ctx: Location): Location {
    const loc = this.file.at(nodeOffset(node), ctx.item);
    return ctx.via ? { ...loc, via: ctx.via } : loc;
  }

  private fail(message: string, loc: Location): never {
    throw new LoadFailure('LOAD_ERR_YAML_VALIDATE', message, loc);
  }

  private view(node: YAMLMap): MapView {
    return new MapView(this.doc, node);
  }

  // ---- value decoding (Falco decode_val / decode_optional_val / decode_seq) ----

  private decodeScalar(m: MapView, key: string, ctx: Location, optional: boolean): { text: string; node: Scalar } | undefined {
    const e = m.get(key);
    if (!e) {
      if (optional) return undefined;
      this.fail(`Item has no mapping for key '${key}'`, ctx);
    }
    if (isNull(e.value)) this.fail(`Mapping for key '${key}' is empty`, ctx);
    const valctx = this.at(e.value, ctx);
    if (!isScalarNode(e.value)) this.fail('Value is not a scalar value', valctx);
    const text = scalarText(e.value);
    if (text === '') this.fail('Value must be non-empty', valctx);
    return { text, node: e.value };
  }

  private decodeString(m: MapView, key: string, ctx: Location): string;
  private decodeString(m: MapView, key: string, ctx: Location, optional: true): string | undefined;
  private decodeString(m: MapView, key: string, ctx: Location, optional = false): string | undefined {
    return this.decodeScalar(m, key, ctx, optional)?.text;
  }

  private decodeBool(m: MapView, key: string, ctx: Location, optional: boolean): boolean | undefined {
    const v = this.decodeScalar(m, key, ctx, optional);
    if (!v) return undefined;
    const b = decodeYamlBool(v.text);
    if (b === undefined) this.fail("Can't decode YAML scalar value", this.at(v.node, ctx));
    return b;
  }

  private decodeUnsigned(m: MapView, key: string, ctx: Location, optional: boolean, max: number): number | undefined {
    const v = this.decodeScalar(m, key, ctx, optional);
    if (!v) return undefined;
    const n = decodeYamlUnsigned(v.text, max);
    if (n === undefined) this.fail("Can't decode YAML scalar value", this.at(v.node, ctx));
    return n;
  }

  private decodeSeq(m: MapView, key: string, ctx: Location, optional: boolean): string[] | undefined {
    const e = m.get(key);
    if (!e) {
      if (optional) return undefined;
      this.fail(`Item has no mapping for key '${key}'`, ctx);
    }
    const valctx = this.at(e.value, ctx);
    if (!isSeqNode(e.value)) this.fail('Value is not a sequence', valctx);
    const out: string[] = [];
    for (const raw of e.value.items) {
      const v = deref(this.doc, raw);
      if (!isScalarNode(v)) this.fail('sequence value is not scalar', this.at(v ?? raw, ctx));
      out.push(scalarText(v));
    }
    return out;
  }

  private warnUnknownKeys(m: MapView, known: ReadonlySet<string>, item: ItemRef, via?: ItemRef): void {
    for (const k of m.keys()) {
      if (!known.has(k.name)) {
        const loc = this.loc(k.node, item);
        this.env.sink.warn('LOAD_UNKNOWN_KEY', `Unknown key '${k.name}'. The key will be ignored.`, via ? { ...loc, via } : loc);
      }
    }
  }

  /** Falco `decode_overrides`: each key must be append/replace and allowed for the item. */
  private decodeOverrides(
    m: MapView,
    appendable: ReadonlySet<string>,
    replaceable: ReadonlySet<string>,
    ctx: Location,
  ): { append: Set<string>; replace: Set<string> } {
    const append = new Set<string>();
    const replace = new Set<string>();
    const e = m.get('override');
    if (!e || isNull(e.value)) return { append, replace };
    if (!isMapNode(e.value)) this.fail("Value of 'override' must be a mapping", this.at(e.value, ctx));
    for (const pair of e.value.items) {
      const keyNode = deref(this.doc, pair.key);
      const valNode = deref(this.doc, pair.value);
      const key = keyNode && isScalarNode(keyNode) ? scalarText(keyNode) : '';
      const op = valNode && isScalarNode(valNode) ? scalarText(valNode) : '';
      const keyctx = this.at(keyNode ?? pair.key, ctx);
      if (op === 'append') {
        if (!appendable.has(key)) this.fail(`Key '${key}' cannot be appended to, use 'replace' instead`, keyctx);
        append.add(key);
      } else if (op === 'replace') {
        if (!replaceable.has(key)) this.fail(`Key '${key}' cannot be replaced`, keyctx);
        replace.add(key);
      } else {
        const allowed = `${appendable.has(key) ? 'append ' : ''}${replaceable.has(key) ? 'replace ' : ''}`;
        this.fail(`Invalid override operation for key '${key}': '${op}'. Allowed values are: ${allowed}`, this.at(valNode ?? pair.value, ctx));
      }
    }
    return { append, replace };
  }

  // ---- items ----

  readItem(item: YamlNode): void {
    if (!isMapNode(item)) this.fail('Unexpected element type. Each element should be a yaml associative array.', this.loc(item));
    const m = this.view(item);
    if (m.has('required_engine_version')) this.readEngineVersion(m, item);
    else if (m.has('required_plugin_versions')) this.readPluginVersions(m, item);
    else if (m.has('list')) this.readList(m, item);
    else if (m.has('macro')) this.readMacro(m, item);
    else if (m.has('rule')) this.readRule(m, item);
    else this.env.sink.warn('LOAD_UNKNOWN_ITEM', 'Unknown top level item', this.loc(item, { kind: 'item', name: '' }));
  }

  private readEngineVersion(m: MapView, item: YamlNode): void {
    const ctx = this.loc(item, { kind: 'required_engine_version', name: '' });
    this.warnUnknownKeys(m, new Set(['required_engine_version']), ctx.item!);
    let version: Semver | undefined;
    let asInt: number | undefined;
    try {
      asInt = this.decodeUnsigned(m, 'required_engine_version', ctx, false, UINT32_MAX);
    } catch {
      asInt = undefined;
    }
    if (asInt !== undefined) {
      // Legacy integer versions N mean 0.N.0.
      version = { major: 0, minor: asInt, patch: 0 };
    } else {
      const text = this.decodeString(m, 'required_engine_version', ctx);
      version = parseSemver(text);
      if (!version) this.fail(`Unable to parse engine version '${text}' as a semver string. Expected "x.y.z" semver format.`, ctx);
    }
    this.env.collector.defineEngineVersion(version, ctx);
  }

  private readPluginVersions(m: MapView, item: YamlNode): void {
    const e = m.get('required_plugin_versions')!;
    const ctx = this.loc(e.value ?? item, { kind: 'required_plugin_versions', name: '' });
    if (!isSeqNode(e.value)) this.fail('Value of required_plugin_versions must be a sequence', ctx);
    for (const raw of e.value.items) {
      const plugin = deref(this.doc, raw);
      const tmp = this.at(plugin ?? raw, ctx);
      if (!isMapNode(plugin)) this.fail('Plugin version must be a mapping', tmp);
      const pm = this.view(plugin);
      const name = this.decodeString(pm, 'name', tmp);
      const pctx = this.loc(plugin, { kind: 'required_plugin_versions', name });
      const alternatives: PluginRequirement[] = [{ name, version: this.decodeString(pm, 'version', pctx) }];
      const alts = pm.get('alternatives');
      if (alts) {
        if (!isSeqNode(alts.value)) this.fail('Value of plugin version alternatives must be a sequence', pctx);
        for (const rawAlt of alts.value.items) {
          const alt = deref(this.doc, rawAlt);
          const actx = this.loc(alt ?? rawAlt, pctx.item);
          if (!isMapNode(alt)) this.fail('Plugin version alternative must be a mapping', actx);
          const am = this.view(alt);
          const altName = this.decodeString(am, 'name', actx);
          alternatives.push({ name: altName, version: this.decodeString(am, 'version', this.loc(alt, { kind: 'required_plugin_versions', name: altName })) });
        }
      }
      this.env.collector.definePluginVersions(alternatives, pctx);
    }
  }

  private readList(m: MapView, item: YamlNode): void {
    const name = this.decodeString(m, 'list', this.loc(item, { kind: 'list', name: '' }));
    const ref: ItemRef = { kind: 'list', name };
    const ctx = this.loc(item, ref);
    if (!BARESTR_FULL.test(name)) this.env.sink.warn('LOAD_INVALID_LIST_NAME', MSG.WARNING_INVALID_LIST_NAME + RGX_BARESTR, ctx);
    this.warnUnknownKeys(m, LIST_KEYS, ref);
    const items = this.decodeSeq(m, 'items', ctx, false)!;
    let append = this.decodeBool(m, 'append', ctx, true) ?? false;
    if (append) this.env.sink.warn('LOAD_DEPRECATED_ITEM', MSG.WARNING_APPEND, ctx);
    const only = new Set(['items']);
    const ov = this.decodeOverrides(m, only, only, ctx);
    failIf(append && ov.append.size + ov.replace.size > 0, 'LOAD_ERR_YAML_VALIDATE', MSG.ERROR_OVERRIDE_APPEND, ctx);
    append ||= ov.append.has('items');
    if (append) this.env.collector.appendList(name, items, ctx);
    else this.env.collector.defineList({ name, items, ctx, index: 0, visibility: 0 });
  }

  /** A required scalar as text that maps back to the file; `trim` strips it like Falco's `trim`. */
  private mappedScalar(m: MapView, key: string, ctx: Location, trim = false): MappedText {
    const v = this.decodeScalar(m, key, ctx, false)!;
    let text = MappedText.of(v.text, new ScalarOrigin(this.file, v.node, ctx.item));
    if (trim) {
      const trimmed = trimFalco(v.text);
      const lead = v.text.length - v.text.replace(/^[ \t\n\r\f\v]+/, '').length;
      text = text.replace(lead + trimmed.length, v.text.length, '').replace(0, lead, '');
    }
    return text;
  }

  private conditionText(m: MapView, ctx: Location): MappedText {
    return this.mappedScalar(m, 'condition', ctx);
  }

  private readMacro(m: MapView, item: YamlNode): void {
    const name = this.decodeString(m, 'macro', this.loc(item, { kind: 'macro', name: '' }));
    const ref: ItemRef = { kind: 'macro', name };
    const ctx = this.loc(item, ref);
    if (!IDENTIFIER_FULL.test(name)) this.env.sink.warn('LOAD_INVALID_MACRO_NAME', MSG.WARNING_INVALID_MACRO_NAME + RGX_IDENTIFIER, ctx);
    this.warnUnknownKeys(m, MACRO_KEYS, ref);
    const cond = this.conditionText(m, ctx);
    let append = this.decodeBool(m, 'append', ctx, true) ?? false;
    if (append) this.env.sink.warn('LOAD_DEPRECATED_ITEM', MSG.WARNING_APPEND, ctx);
    const only = new Set(['condition']);
    const ov = this.decodeOverrides(m, only, only, ctx);
    failIf(append && ov.append.size + ov.replace.size > 0, 'LOAD_ERR_YAML_VALIDATE', MSG.ERROR_OVERRIDE_APPEND, ctx);
    append ||= ov.append.has('condition');
    if (append) this.env.collector.appendMacro(name, cond, ctx);
    else this.env.collector.defineMacro({ name, cond, ctx, index: 0, visibility: 0 });
  }

  private priorityOf(m: MapView, ctx: Location): Priority {
    const v = this.decodeScalar(m, 'priority', ctx, false)!;
    const p = parseFalcoPriority(v.text);
    if (!p) this.fail('Invalid priority', this.at(v.node, ctx));
    return p;
  }

  /** A non-empty `source:` on an append/override item (empty or null means "same source"). */
  private updateSource(m: MapView): string | undefined {
    const e = m.get('source');
    if (!e || !isScalarNode(e.value)) return undefined;
    const text = scalarText(e.value);
    return text === '' ? undefined : text;
  }

  private readRule(m: MapView, item: YamlNode): void {
    const name = this.decodeString(m, 'rule', this.loc(item, { kind: 'rule', name: '' }));
    const ref: ItemRef = { kind: 'rule', name };
    const ctx = this.loc(item, ref);
    this.warnUnknownKeys(m, RULE_KEYS, ref);
    const hasAppendFlag = this.decodeBool(m, 'append', ctx, true) ?? false;
    if (hasAppendFlag) this.env.sink.warn('LOAD_DEPRECATED_ITEM', MSG.WARNING_APPEND, ctx);
    const ov = this.decodeOverrides(m, new Set(RULE_APPENDABLE), new Set(RULE_REPLACEABLE), ctx);
    const hasOverrides = ov.append.size + ov.replace.size > 0;
    failIf(hasAppendFlag && hasOverrides, 'LOAD_ERR_YAML_VALIDATE', MSG.ERROR_OVERRIDE_APPEND, ctx);

    if (hasOverrides) {
      // Every overridable key present in the item must be listed under override, and vice versa.
      const expected = new Set<string>();
      for (const k of [...RULE_APPENDABLE, ...RULE_REPLACEABLE]) if (m.has(k)) expected.add(k);
      const take = (set: Set<string>, kind: 'append' | 'replace', key: string): boolean => {
        if (!set.has(key)) return false;
        failIf(!expected.has(key), 'LOAD_ERR_YAML_VALIDATE', `An ${kind} override for '${key}' was specified but '${key}' is not defined`, ctx);
        expected.delete(key);
        return true;
      };
      const source = this.updateSource(m);
      if (ov.append.size > 0) {
        const u: RuleUpdate = { name, ctx, ...(source !== undefined ? { source } : {}) };
        if (take(ov.append, 'append', 'condition')) u.cond = this.conditionText(m, ctx);
        if (take(ov.append, 'append', 'exceptions')) u.exceptions = this.readExceptions(m, ref, true);
        if (take(ov.append, 'append', 'output')) u.output = this.mappedScalar(m, 'output', ctx);
        if (take(ov.append, 'append', 'desc')) u.desc = this.decodeString(m, 'desc', ctx);
        if (take(ov.append, 'append', 'tags')) u.tags = new Set(this.decodeSeq(m, 'tags', ctx, true) ?? []);
        this.env.collector.appendRule(u);
      }
      if (ov.replace.size > 0) {
        const u: RuleUpdate = { name, ctx, ...(source !== undefined ? { source } : {}) };
        if (take(ov.replace, 'replace', 'condition')) u.cond = this.conditionText(m, ctx);
        if (take(ov.replace, 'replace', 'exceptions')) u.exceptions = this.readExceptions(m, ref, false);
        if (take(ov.replace, 'replace', 'output')) {
          u.output = this.mappedScalar(m, 'output', ctx);
          u.outputCtx = this.loc(m.get('output')!.value, ref);
        }
        if (take(ov.replace, 'replace', 'desc')) u.desc = this.decodeString(m, 'desc', ctx);
        if (take(ov.replace, 'replace', 'tags')) u.tags = new Set(this.decodeSeq(m, 'tags', ctx, true) ?? []);
        if (take(ov.replace, 'replace', 'priority')) u.priority = this.priorityOf(m, ctx);
        if (take(ov.replace, 'replace', 'enabled')) u.enabled = this.decodeBool(m, 'enabled', ctx, false);
        if (take(ov.replace, 'replace', 'warn_evttypes')) u.warnEvttypes = this.decodeBool(m, 'warn_evttypes', ctx, false);
        if (take(ov.replace, 'replace', 'skip-if-unknown-filter')) u.skipIfUnknownFilter = this.decodeBool(m, 'skip-if-unknown-filter', ctx, false);
        if (take(ov.replace, 'replace', 'capture')) u.capture = this.decodeBool(m, 'capture', ctx, false);
        if (take(ov.replace, 'replace', 'capture_duration')) u.captureDuration = this.decodeUnsigned(m, 'capture_duration', ctx, false, Number.MAX_SAFE_INTEGER);
        this.env.collector.replaceRule(u);
      }
      for (const key of [...expected].sort()) {
        this.fail(`Unexpected key '${key}': no corresponding entry under 'override' is defined.`, this.loc(m.get(key)?.key, ref));
      }
      return;
    }

    if (hasAppendFlag) {
      // The legacy append only looks at condition and exceptions (`enabled` is ignored).
      const source = this.updateSource(m);
      const u: RuleUpdate = { name, ctx, ...(source !== undefined ? { source } : {}) };
      if (m.has('condition')) u.cond = this.conditionText(m, ctx);
      if (m.has('exceptions')) u.exceptions = this.readExceptions(m, ref, true);
      this.env.collector.appendRule(u);
      return;
    }

    if (!m.has('condition') && !m.has('output') && !m.has('desc') && !m.has('priority')) {
      // Deprecated toggle: `- rule: X` + `enabled: false` changes an existing rule.
      const enabled = this.decodeBool(m, 'enabled', ctx, false)!;
      this.env.sink.warn('LOAD_DEPRECATED_ITEM', MSG.WARNING_ENABLED, ctx);
      this.env.collector.enableRule(name, enabled, ctx);
      return;
    }

    const cond = this.conditionText(m, ctx);
    const output = this.mappedScalar(m, 'output', ctx, true);
    const outputCtx = this.loc(m.get('output')!.value, ref);
    const desc = this.decodeString(m, 'desc', ctx);
    const priority = this.priorityOf(m, ctx);
    const source = this.decodeString(m, 'source', ctx, true) ?? 'syscall';
    const enabled = this.decodeBool(m, 'enabled', ctx, true) ?? true;
    const warnEvttypes = this.decodeBool(m, 'warn_evttypes', ctx, true) ?? true;
    const skipIfUnknownFilter = this.decodeBool(m, 'skip-if-unknown-filter', ctx, true) ?? false;
    const capture = this.decodeBool(m, 'capture', ctx, true) ?? false;
    const captureDuration = this.decodeUnsigned(m, 'capture_duration', ctx, true, Number.MAX_SAFE_INTEGER) ?? 0;
    const tags = new Set(this.decodeSeq(m, 'tags', ctx, true) ?? []);
    const exceptions = this.readExceptions(m, ref, false);
    this.env.collector.defineRule({
      name,
      cond,
      output,
      outputCtx,
      desc,
      priority,
      source,
      enabled,
      tags,
      exceptions,
      warnEvttypes,
      skipIfUnknownFilter,
      capture,
      captureDuration,
      unknownSource: false,
      ctx,
      index: 0,
      visibility: 0,
    });
  }

  // ---- exceptions (Falco read_rule_exceptions) ----

  private decodeEntry(node: YamlNode | undefined, defined: boolean, key: string, ctx: Location, optional: boolean): ExceptionEntry {
    const out = emptyEntry();
    if (!defined) {
      if (optional) return out;
      this.fail(`Item has no mapping for key '${key}'`, ctx);
    }
    const valctx = this.at(node, ctx);
    out.loc = valctx;
    if (isScalarNode(node)) {
      const text = scalarText(node);
      if (text === '') this.fail('Value must be non-empty', valctx);
      out.item = text;
    } else if (isSeqNode(node)) {
      out.isList = true;
      for (const raw of node.items) {
        const v = deref(this.doc, raw);
        out.items.push(this.decodeEntry(v, true, '', this.at(v ?? raw, ctx), false));
      }
    }
    return out;
  }

  private readExceptions(m: MapView, rule: ItemRef, append: boolean): ExceptionInfo[] {
    const out: ExceptionInfo[] = [];
    const e = m.get('exceptions');
    if (!e || isNull(e.value)) return out;
    const exsCtx = this.loc(e.value, rule);
    if (!isSeqNode(e.value)) this.fail('Rule exceptions must be a sequence', exsCtx);
    for (const raw of e.value.items) {
      const ex = deref(this.doc, raw);
      const tmp: Location = { ...this.loc(ex ?? raw, { kind: 'exception', name: '' }), via: rule };
      if (!isMapNode(ex)) this.fail('Rule exception must be a mapping', tmp);
      const em = this.view(ex);
      const name = this.decodeString(em, 'name', tmp);
      const exRef: ItemRef = { kind: 'exception', name };
      const exCtx: Location = { ...this.loc(ex, exRef), via: rule };
      this.warnUnknownKeys(em, EXCEPTION_KEYS, exRef, rule);
      if (out.some((x) => x.name === name)) {
        this.env.sink.warn('LOAD_EXCEPTION_NAME_NOT_UNIQUE', `Multiple definitions of exception '${name}' in the same rule`, exCtx);
      }
      const fields = em.get('fields');
      const comps = em.get('comps');
      const info: ExceptionInfo = {
        name,
        fields: this.decodeEntry(fields?.value, !!fields, 'fields', exCtx, append),
        comps: this.decodeEntry(comps?.value, !!comps, 'comps', exCtx, true),
        values: [],
        ctx: exCtx,
      };
      const vals = em.get('values');
      if (vals) {
        const valsCtx = this.at(vals.value ?? vals.key, exCtx);
        if (!isSeqNode(vals.value)) this.fail('Rule exception values must be a sequence', valsCtx);
        for (const rawVal of vals.value.items) {
          const v = deref(this.doc, rawVal);
          info.values.push(this.decodeEntry(v, v !== undefined, '', this.at(v ?? rawVal, exCtx), false));
        }
      } else if (append) {
        this.env.sink.warn('LOAD_APPEND_NO_VALUES', 'Overriding/appending exception with no values', exCtx);
      }
      out.push(info);
    }
    return out;
  }
}

