import { z } from 'zod';

/** One configuration key of a reference table. */
export interface ReferenceRow {
  /** Dotted path; `<name>` stands for a map key, `[]` for a list item. */
  readonly key: string;
  readonly type: string;
  /** The default as JSON, or "" when there is none. */
  readonly defaultValue: string;
  readonly description: string;
}

/**
 * Every key of a zod object schema, depth first in declaration order. Objects
 * get a row of their own only when they carry a description (else only their
 * keys do); maps and lists of objects get one row, then their item's keys.
 */
export function referenceRows(schema: z.ZodTypeAny): ReferenceRow[] {
  const rows: ReferenceRow[] = [];
  walk(schema, '', rows);
  return rows;
}

/** The configuration reference of a schema as a Markdown table (key, type, default, description). */
export function schemaReference(schema: z.ZodTypeAny): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [
    '| key | type | default | description |',
    '|---|---|---|---|',
    ...referenceRows(schema).map((r) => `| \`${r.key}\` | ${cell(r.type)} | ${cell(r.defaultValue)} | ${cell(r.description)} |`),
  ].join('\n');
}

function showDefault(v: unknown): string {
  // Defaults computed as fractions (0.1 * x) would print 17 digits.
  if (typeof v === 'number' && !Number.isInteger(v)) return String(Number(v.toPrecision(6)));
  return JSON.stringify(v);
}

/** Peels defaults, optionals, refinements and pipes, keeping the outermost description and default. */
function peel(schema: z.ZodTypeAny): { inner: z.ZodTypeAny; description?: string; defaultValue?: string } {
  let s = schema;
  let description: string | undefined;
  let defaultValue: string | undefined;
  for (;;) {
    description ??= s.description;
    if (s instanceof z.ZodDefault) {
      defaultValue ??= showDefault(s._def.defaultValue());
      s = s._def.innerType;
    } else if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s._def.innerType;
    else if (s instanceof z.ZodEffects) s = s._def.schema;
    else if (s instanceof z.ZodPipeline) s = s._def.out;
    else return { inner: s, description, defaultValue };
  }
}

function walk(schema: z.ZodTypeAny, key: string, rows: ReferenceRow[]): void {
  const { inner: s, description, defaultValue } = peel(schema);
  if (s instanceof z.ZodObject) {
    if (key !== '' && description !== undefined) rows.push({ key, type: 'object', defaultValue: '', description });
    for (const [name, child] of Object.entries(s.shape as Record<string, z.ZodTypeAny>)) walk(child, key === '' ? name : `${key}.${name}`, rows);
    return;
  }
  if (s instanceof z.ZodRecord && peel(s._def.valueType as z.ZodTypeAny).inner instanceof z.ZodObject) {
    rows.push({ key, type: 'map of name → object', defaultValue: defaultValue === '{}' ? '' : (defaultValue ?? ''), description: description ?? '' });
    walk(s._def.valueType as z.ZodTypeAny, `${key}.<name>`, rows);
    return;
  }
  if (s instanceof z.ZodArray && peel(s._def.type as z.ZodTypeAny).inner instanceof z.ZodObject) {
    rows.push({ key, type: 'list of objects', defaultValue: defaultValue ?? '', description: description ?? '' });
    walk(s._def.type as z.ZodTypeAny, `${key}[]`, rows);
    return;
  }
  rows.push({ key, type: typeName(s), defaultValue: defaultValue ?? '', description: description ?? '' });
}

function typeName(schema: z.ZodTypeAny): string {
  const s = peel(schema).inner;
  if (s instanceof z.ZodString) return 'string';
  if (s instanceof z.ZodNumber) return s.isInt ? 'integer' : 'number';
  if (s instanceof z.ZodBoolean) return 'boolean';
  if (s instanceof z.ZodEnum) return (s._def.values as string[]).join(' | ');
  if (s instanceof z.ZodLiteral) return `\`${String(s._def.value)}\``;
  if (s instanceof z.ZodArray) return `list of ${typeName(s._def.type as z.ZodTypeAny)}`;
  if (s instanceof z.ZodRecord) {
    const value = typeName(s._def.valueType as z.ZodTypeAny);
    return value === 'value' ? 'map' : `map of ${value}`;
  }
  if (s instanceof z.ZodObject) return 'object';
  if (s instanceof z.ZodUnion) return (s._def.options as z.ZodTypeAny[]).map(typeName).join(' or ');
  return 'value';
}
