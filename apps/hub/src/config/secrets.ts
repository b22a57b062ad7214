import { readFileSync } from 'node:fs';
import type { ConfigIssue } from '../errors.ts';

const REFERENCE = /\$\{(env|file):([^}]+)\}/g;

/**
 * Replaces `${env:NAME}` and `${file:/path}` inside every string of the raw
 * config, so secrets (webhook URLs, routing keys, tokens) stay out of the
 * file. A file's trailing newline is dropped. A missing variable or file is
 * reported with its key path.
 */
export function resolveSecrets(value: unknown, env: NodeJS.ProcessEnv, issues: ConfigIssue[], path: string[] = []): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    return value.replace(REFERENCE, (whole, kind: string, name: string) => {
      if (kind === 'env') {
        const v = env[name];
        if (v === undefined) {
          issues.push({ path: path.join('.') || '(root)', message: `environment variable ${name} is not set (referenced as ${whole})` });
          return '';
        }
        return v;
      }
      try {
        return readFileSync(name, 'utf8').replace(/\r?\n$/, '');
      } catch (e) {
        issues.push({ path: path.join('.') || '(root)', message: `cannot read secret file ${name}: ${(e as Error).message}` });
        return '';
      }
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveSecrets(v, env, issues, [...path, String(i)]));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveSecrets(v, env, issues, [...path, k]);
    return out;
  }
  return value;
}
