import { z } from 'zod';
import { sensorConfigSchema } from './schema.ts';

interface Row {
  readonly key: string;
  readonly type: string;
  readonly defaultValue: string;
  readonly description: string;
}

/**
 * The configuration reference as a Markdown table, generated from the schema
 * (docs/sensor.md embeds it between markers; a test keeps the two in step).
 */
export function sensorConfigReference(): string {
  const rows: Row[] = [];
  walk(sensorConfigSchema, '', rows);
  const escape = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [
    '| key | type | default | description |',
    '|---|---|---|---|',
    ...rows.map((r) => `| \`${r.key}\` | ${escape(r.type)} | ${escape(r.defaultValue)} | ${escape(r.description)} |`),
  ].join('\n');
}

function showDefault(v: unknown): string {
  if (typeof v === 'number' && !Number.isInteger(v)) return String(Number(v.toPrecision(6)));
  return JSON.stringify(v);
}

function walk(schema: z.ZodTypeAny, key: string, rows: Row[]): void {
  let s = schema;
  let description: string | undefined;
  let defaultValue: string | undefined;
  for (;;) {
    description ??= s.description;
    if (s instanceof z.ZodDefault) {
      defaultValue ??= showDefault(s._def.defaultValue());
      s = s._def.innerType;
    } else if (s instanceof z.ZodOptional) s = s._def.innerType;
    else if (s instanceof z.ZodEffects) s = s._def.schema;
    else break;
  }
  if (s instanceof z.ZodObject) {
    if (key !== '' && description !== undefined) rows.push({ key, type: 'object', defaultValue: '', description });
    for (const [name, child] of Object.entries(s.shape as Record<string, z.ZodTypeAny>)) walk(child, key === '' ? name : `${key}.${name}`, rows);
    return;
  }
  if (s instanceof z.ZodArray && unwrap(s._def.type) instanceof z.ZodObject) {
    rows.push({ key, type: 'list of objects', defaultValue: defaultValue ?? '', description: description ?? '' });
    walk(s._def.type, `${key}[]`, rows);
    return;
  }
  rows.push({ key, type: typeName(s), defaultValue: defaultValue ?? '', description: description ?? '' });
}

function typeName(s: z.ZodTypeAny): string {
  if (s instanceof z.ZodString) return 'string';
  if (s instanceof z.ZodNumber) return s.isInt ? 'integer' : 'number';
  if (s instanceof z.ZodBoolean) return 'boolean';
  if (s instanceof z.ZodEnum) return (s._def.values as string[]).join(' | ');
  if (s instanceof z.ZodArray) return `list of ${typeName(unwrap(s._def.type))}`;
  if (s instanceof z.ZodObject) return 'object';
  return 'value';
}

function unwrap(s: z.ZodTypeAny): z.ZodTypeAny {
  if (s instanceof z.ZodDefault || s instanceof z.ZodOptional) return unwrap(s._def.innerType);
  if (s instanceof z.ZodEffects) return unwrap(s._def.schema);
  return s;
}
