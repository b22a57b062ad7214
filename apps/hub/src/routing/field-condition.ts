import type { OutputFieldValue } from '@peregrine/alert';
import { compileGlob } from './glob.ts';

/** A compiled output-field condition: true when the alert's fields satisfy it. */
export type FieldTest = (fields: Readonly<Record<string, OutputFieldValue>>) => boolean;

const BINARY = /^(\S+)\s+(=|==|!=|startswith|contains|glob|not in|in)\s+(.+)$/;
const UNARY = /^(\S+)\s+(exists|not exists)$/;

/**
 * Compiles `k8s.ns.name != kube-system`-style conditions once, at start-up.
 * Operators: `=` (`==`), `!=`, `in (a, b)`, `not in (a, b)`, `startswith`,
 * `contains`, `glob`, `exists`, `not exists`. Values may be quoted with ' or ".
 * Values compare as text (`proc.pid = 42` matches the number 42). A missing or
 * null field equals nothing, so `!=` and `not in` hold for it.
 * Throws an Error with the reason when the text is not a condition.
 */
export function compileFieldCondition(text: string): FieldTest {
  const trimmed = text.trim();
  const unary = UNARY.exec(trimmed);
  if (unary) {
    const [, field, op] = unary;
    const present = (f: Readonly<Record<string, OutputFieldValue>>) => f[field] !== undefined && f[field] !== null;
    return op === 'exists' ? present : (f) => !present(f);
  }
  const m = BINARY.exec(trimmed);
  if (!m) {
    throw new Error(`"${text}" is not a field condition; write e.g. "k8s.ns.name != kube-system", "proc.name in (bash, sh)" or "container.id exists"`);
  }
  const [, field, op, rawValue] = m;
  const get = (f: Readonly<Record<string, OutputFieldValue>>): string | undefined => {
    const v = f[field];
    if (v === undefined || v === null) return undefined;
    return Array.isArray(v) ? v.join(',') : String(v);
  };
  switch (op) {
    case '=':
    case '==': {
      const want = unquote(rawValue);
      return (f) => get(f) === want;
    }
    case '!=': {
      const want = unquote(rawValue);
      return (f) => get(f) !== want;
    }
    case 'startswith': {
      const want = unquote(rawValue);
      return (f) => get(f)?.startsWith(want) ?? false;
    }
    case 'contains': {
      const want = unquote(rawValue);
      return (f) => get(f)?.includes(want) ?? false;
    }
    case 'glob': {
      const re = compileGlob(unquote(rawValue));
      return (f) => {
        const v = get(f);
        return v !== undefined && re.test(v);
      };
    }
    case 'in':
    case 'not in': {
      const list = parseList(rawValue, text);
      const set = new Set(list);
      if (op === 'in') return (f) => set.has(get(f) as string);
      return (f) => !set.has(get(f) as string);
    }
  }
  throw new Error(`"${text}": unknown operator ${op}`);
}

function unquote(v: string): string {
  const t = v.trim();
  if (t.length >= 2 && (t[0] === '"' || t[0] === "'") && t.at(-1) === t[0]) return t.slice(1, -1);
  return t;
}

function parseList(v: string, text: string): string[] {
  const t = v.trim();
  if (!t.startsWith('(') || !t.endsWith(')')) throw new Error(`"${text}": the list after "in" must be in parentheses, e.g. (a, b)`);
  return t
    .slice(1, -1)
    .split(',')
    .map(unquote)
    .filter((x) => x !== '');
}
