import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { ZodError } from 'zod';
import { sinkModules } from '@peregrine/sinks';
import { HubConfigError } from '../errors.ts';
import type { ConfigIssue } from '../errors.ts';
import { hubConfigSchema } from './schema.ts';
import type { HubConfig } from './schema.ts';
import { resolveSecrets } from './secrets.ts';
import { applySidekickEnv } from './sidekick-env.ts';

/**
 * Reads the YAML file (or nothing: Falcosidekick env vars alone are a valid
 * configuration), resolves `${env:…}`/`${file:…}` secrets, adds the
 * Falcosidekick env outputs and validates everything, including each
 * destination's settings against its sink module. Throws HubConfigError
 * listing every problem with its key path. The result is deep-frozen.
 */
export function loadHubConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): HubConfig {
  if (path === undefined) return parseHubConfig({}, env, 'environment');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new HubConfigError(path, [{ path: '(file)', message: `cannot read: ${(e as Error).message}` }]);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new HubConfigError(
      path,
      doc.errors.map((e) => ({ path: `(line ${e.linePos?.[0].line ?? '?'})`, message: e.message.split('\n')[0] })),
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  return parseHubConfig(raw, env, path);
}

/** Validates an already-parsed config object (for tests and embedding). */
export function parseHubConfig(raw: unknown, env: NodeJS.ProcessEnv = {}, source = 'config'): HubConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new HubConfigError(source, [{ path: '(root)', message: 'must be a mapping of keys (listen, redis, destinations, …)' }]);
  }
  const issues: ConfigIssue[] = [];
  const resolved = resolveSecrets(raw, env, issues) as Record<string, unknown>;
  const origins = new Map<string, string>();
  const withEnv = applySidekickEnv(resolved, env, origins, issues);
  const parsed = hubConfigSchema.safeParse(withEnv);
  if (!parsed.success) {
    // Report the sinks' own settings problems too, so one run shows everything.
    throw new HubConfigError(source, withOrigins([...issues, ...zodIssues(parsed.error), ...rawSinkSettingsIssues(withEnv.destinations)], origins));
  }
  const config = parsed.data;
  checkDestinations(config, issues);
  if (config.redis.sentinels !== undefined && config.redis.sentinelName === undefined) {
    issues.push({ path: 'redis.sentinelName', message: 'is required with redis.sentinels' });
  }
  if (issues.length > 0) throw new HubConfigError(source, withOrigins(issues, origins));
  return deepFreeze(config);
}

function checkDestinations(config: HubConfig, issues: ConfigIssue[]): void {
  for (const [name, dest] of Object.entries(config.destinations)) {
    const at = `destinations.${name}`;
    const module = sinkModules[dest.type];
    if (module === undefined) {
      issues.push(unknownTypeIssue(at, dest.type));
    } else {
      const settings = module.settingsSchema.safeParse(dest.settings);
      if (!settings.success) issues.push(...zodIssues(settings.error, `${at}.settings`));
    }
  }
}

/** Names the Falcosidekick variable a bad value came from, e.g. `(from SLACK_WEBHOOKURL)`. */
function withOrigins(issues: ConfigIssue[], origins: ReadonlyMap<string, string>): ConfigIssue[] {
  return issues.map((issue) => {
    const variable = origins.get(issue.path);
    return variable === undefined ? issue : { path: issue.path, message: `${issue.message} (from ${variable})` };
  });
}

function unknownTypeIssue(at: string, type: string): ConfigIssue {
  return { path: `${at}.type`, message: `unknown sink type "${type}"; known types: ${Object.keys(sinkModules).join(', ')}` };
}

function rawSinkSettingsIssues(destinations: unknown): ConfigIssue[] {
  if (typeof destinations !== 'object' || destinations === null) return [];
  const issues: ConfigIssue[] = [];
  for (const [name, dest] of Object.entries(destinations as Record<string, unknown>)) {
    if (typeof dest !== 'object' || dest === null) continue;
    const { type, settings } = dest as { type?: unknown; settings?: unknown };
    const module = typeof type === 'string' ? sinkModules[type] : undefined;
    if (module === undefined) {
      // Reported here too: a bad match condition or template (a schema error) must not hide it.
      if (typeof type === 'string' && type !== '') issues.push(unknownTypeIssue(`destinations.${name}`, type));
      continue;
    }
    const result = module.settingsSchema.safeParse(settings ?? {});
    if (!result.success) issues.push(...zodIssues(result.error, `destinations.${name}.settings`));
  }
  return issues;
}

function zodIssues(error: ZodError, prefix?: string): ConfigIssue[] {
  return error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter((p) => p !== undefined && p !== '').join('.');
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') message = `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    return { path: path === '' ? '(root)' : path, message };
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
