import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import type { ZodError } from 'zod';
import { sensorConfigSchema } from './schema.ts';
import type { SensorConfig } from './schema.ts';

/** One configuration problem: dotted key path and reason. */
export interface SensorConfigIssue {
  readonly path: string;
  readonly message: string;
}

/** The configuration is wrong; lists every problem found, each with its key path. */
export class SensorConfigError extends Error {
  override readonly name = 'SensorConfigError';
  constructor(
    readonly source: string,
    readonly issues: readonly SensorConfigIssue[],
  ) {
    super(`invalid sensor configuration (${source}):\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`);
  }
}

/**
 * Peregrine's default rules file. The rules package keeps it next to its
 * sources (packages/rules/rules/), so it is found from the package's entry.
 */
export const DEFAULT_RULES_FILE: string = fileURLToPath(new URL('../rules/peregrine_rules.yaml', import.meta.resolve('@peregrine/rules')));

/** A nested object of overrides (from command-line options), merged over the file's keys. */
export type ConfigOverrides = { readonly [key: string]: unknown };

/**
 * Reads the YAML file (optional), merges the command-line overrides over it,
 * resolves `${env:NAME}` references and validates everything with the schema.
 * Throws SensorConfigError listing every problem with its key path.
 */
export function loadSensorConfig(path: string | undefined, overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): SensorConfig {
  let raw: unknown = {};
  const source = path ?? 'command line';
  if (path !== undefined) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new SensorConfigError(path, [{ path: '(file)', message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }]);
    }
    const doc = parseDocument(text, { prettyErrors: true });
    if (doc.errors.length > 0) {
      throw new SensorConfigError(
        path,
        doc.errors.map((e) => ({ path: `(line ${e.linePos?.[0].line ?? '?'}, column ${e.linePos?.[0].col ?? '?'})`, message: e.message.split('\n')[0] })),
      );
    }
    raw = doc.toJS() ?? {};
  }
  return parseSensorConfig(raw, overrides, env, source);
}

/** Validates an already-parsed config object with overrides (tests, `peregrine run`). */
export function parseSensorConfig(raw: unknown, overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = {}, source = 'config'): SensorConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new SensorConfigError(source, [{ path: '(root)', message: 'must be a mapping of keys (rules, outputs, containers, …)' }]);
  }
  const issues: SensorConfigIssue[] = [];
  const merged = mergeOverrides(raw as Record<string, unknown>, overrides);
  const resolved = resolveEnv(merged, env, '', issues);
  const parsed = sensorConfigSchema.safeParse(resolved);
  if (!parsed.success) throw new SensorConfigError(source, [...issues, ...zodIssues(parsed.error)]);
  if (issues.length > 0) throw new SensorConfigError(source, issues);
  return parsed.data;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Overrides win key by key; a list or scalar replaces the file's value whole (`--rules` replaces the list). */
function mergeOverrides(base: Record<string, unknown>, overrides: ConfigOverrides): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) continue;
    out[k] = isMapping(v) && isMapping(out[k]) ? mergeOverrides(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}

const ENV_REF = /^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$/;

function resolveEnv(value: unknown, env: NodeJS.ProcessEnv, at: string, issues: SensorConfigIssue[]): unknown {
  if (typeof value === 'string') {
    const m = ENV_REF.exec(value);
    if (!m) return value;
    const v = env[m[1]!];
    if (v === undefined || v === '') issues.push({ path: at || '(root)', message: `environment variable ${m[1]} is not set (referenced as ${value})` });
    return v ?? value;
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveEnv(v, env, `${at}.${i}`, issues));
  if (isMapping(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveEnv(v, env, at ? `${at}.${k}` : k, issues);
    return out;
  }
  return value;
}

function zodIssues(error: ZodError): SensorConfigIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') message = `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    return { path: path === '' ? '(root)' : path, message };
  });
}

/** The rules files in force: the configured ones, or Peregrine's defaults. */
export function rulesFilesOf(config: SensorConfig): string[] {
  return config.rules.length > 0 ? [...config.rules] : [DEFAULT_RULES_FILE];
}
