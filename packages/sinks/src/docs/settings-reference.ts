import { z } from 'zod';
import type { SinkModule } from '../sink-module.ts';

/** One documented setting, read off a module's zod schema. */
export interface SettingDoc {
  readonly name: string;
  readonly type: string;
  readonly required: boolean;
  readonly defaultValue?: string;
  readonly description: string;
}

interface Unwrapped {
  readonly inner: z.ZodTypeAny;
  readonly optional: boolean;
  readonly defaultValue?: unknown;
  readonly description?: string;
}

// Peels refinements, transforms, pipes, defaults and optionals, keeping the
// first description and default found on the way in.
function unwrap(schema: z.ZodTypeAny): Unwrapped {
  let current = schema;
  let optional = false;
  let defaultValue: unknown;
  let description = schema.description;
  for (;;) {
    description ??= current.description;
    if (current instanceof z.ZodDefault) {
      defaultValue ??= current._def.defaultValue() as unknown;
      optional = true;
      current = current._def.innerType;
    } else if (current instanceof z.ZodOptional) {
      optional = true;
      current = current._def.innerType;
    } else if (current instanceof z.ZodEffects) {
      current = current._def.schema;
    } else if (current instanceof z.ZodPipeline) {
      // The output side says what is accepted after normalising (e.g. upper-cased enums).
      current = current._def.out;
    } else {
      return { inner: current, optional, defaultValue, description };
    }
  }
}

function typeName(schema: z.ZodTypeAny): string {
  const { inner } = unwrap(schema);
  if (inner instanceof z.ZodString) return 'string';
  if (inner instanceof z.ZodNumber) return inner.isInt ? 'integer' : 'number';
  if (inner instanceof z.ZodBoolean) return 'boolean';
  if (inner instanceof z.ZodEnum) return (inner.options as string[]).map((o) => `\`${o}\``).join(' \\| ');
  if (inner instanceof z.ZodRecord) return `map of ${typeName(inner._def.valueType as z.ZodTypeAny)}`;
  if (inner instanceof z.ZodUnion) return (inner.options as z.ZodTypeAny[]).map(typeName).join(' or ');
  if (inner instanceof z.ZodObject) return 'object';
  return 'value';
}

export function settingsOf(module: SinkModule): SettingDoc[] {
  const { inner } = unwrap(module.settingsSchema as z.ZodTypeAny);
  if (!(inner instanceof z.ZodObject)) return [];
  return Object.entries(inner.shape as Record<string, z.ZodTypeAny>).map(([name, field]) => {
    const u = unwrap(field);
    return {
      name,
      type: typeName(field),
      required: !u.optional,
      defaultValue: u.defaultValue === undefined ? undefined : JSON.stringify(u.defaultValue),
      description: u.description ?? '',
    };
  });
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The generated part of docs/sinks.md: one table per sink type. */
export function renderSettingsReference(modules: readonly SinkModule[]): string {
  const out: string[] = [];
  for (const module of modules) {
    out.push(`### \`${module.type}\``, '', module.summary + '.', '', '| Setting | Type | Default | Description |', '|---|---|---|---|');
    for (const s of settingsOf(module)) {
      const dflt = s.required ? '**required**' : s.defaultValue === undefined ? '—' : `\`${cell(s.defaultValue)}\``;
      out.push(`| \`${s.name}\` | ${s.type} | ${dflt} | ${cell(s.description)} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

export const GENERATED_BEGIN = '<!-- BEGIN GENERATED: sink settings (npm run -w @peregrine/sinks docs) -->';
export const GENERATED_END = '<!-- END GENERATED: sink settings -->';

/** Replaces the generated block of a markdown document. */
export function replaceGeneratedBlock(markdown: string, generated: string): string {
  const begin = markdown.indexOf(GENERATED_BEGIN);
  const end = markdown.indexOf(GENERATED_END);
  if (begin === -1 || end === -1 || end < begin) throw new Error(`docs/sinks.md lacks the ${GENERATED_BEGIN} … ${GENERATED_END} markers`);
  return `${markdown.slice(0, begin + GENERATED_BEGIN.length)}\n\n${generated}\n${markdown.slice(end)}`;
}
