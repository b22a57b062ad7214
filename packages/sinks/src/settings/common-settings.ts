import { z } from 'zod';
import { compileTemplate } from '../template/template.ts';
import type { TemplateOptions } from '../template/template.ts';
import { convertSidekickTemplate, isSidekickTemplate } from '../template/sidekick-template.ts';

/** An absolute http(s) URL (Falcosidekick requires the same for its *.webhookurl / *.address keys). */
export const httpUrl = z
  .string()
  .trim()
  .url('must be an absolute URL such as https://example.com/path')
  .refine((u) => /^https?:\/\//i.test(u), 'must start with http:// or https://');

/** Per-request timeout in milliseconds, on top of the hub's own abort signal. */
export const timeoutMs = z.number().int().positive().default(10_000).describe('Per-request timeout in ms (the hub\'s abort signal also applies).');

/**
 * Splits Falcosidekick's `k:v,k2:v2` header list on the FIRST colon of each
 * pair, so values containing `:` (URLs, `Bearer a:b`) survive; Falcosidekick
 * drops those pairs silently.
 */
export function parseHeaderList(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(',')) {
    if (pair.trim() === '') continue;
    const at = pair.indexOf(':');
    if (at <= 0) throw new Error(`header "${pair.trim()}" has no "name:value" form`);
    out[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return out;
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Header map, given as an object or as Falcosidekick's `k:v,k2:v2` string. */
export const headerMap = z
  .union([
    z.record(z.string()),
    z.string().transform((text, ctx) => {
      try {
        return parseHeaderList(text);
      } catch (e) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message });
        return z.NEVER;
      }
    }),
  ])
  .superRefine((headers, ctx) => {
    for (const name of Object.keys(headers)) {
      if (!HEADER_NAME.test(name)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [name], message: `"${name}" is not a valid HTTP header name` });
    }
  });

/** A template source that must compile; the error names line and column. */
export function templateSource(options: TemplateOptions = {}) {
  return z.string().superRefine(checkTemplate(options));
}

/**
 * Like templateSource, but a Falcosidekick Go template (`{{ .Rule }}`,
 * `{{ index .OutputFields "x" }}`) is first converted, so the value of an
 * existing `SLACK_MESSAGEFORMAT` can be used unchanged.
 */
export function templateSourceOrSidekick(options: TemplateOptions = {}) {
  return z
    .string()
    .transform((source, ctx) => {
      if (!isSidekickTemplate(source)) return source;
      try {
        return convertSidekickTemplate(source);
      } catch (e) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message });
        return z.NEVER;
      }
    })
    .superRefine(checkTemplate(options));
}

function checkTemplate(options: TemplateOptions) {
  return (source: string, ctx: z.RefinementCtx): void => {
    try {
      compileTemplate(source, options);
    } catch (e) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message });
    }
  };
}
