import { z } from 'zod';
import { SAMPLE_ALERT } from '../falco/falcosidekick-json.ts';
import { clientTlsSettings } from '../http/http-client.ts';
import { headerMap, httpUrl, templateSource, timeoutMs } from '../settings/common-settings.ts';
import { compileTemplate } from '../template/template.ts';

export const webhookSettingsSchema = z
  .object({
    address: httpUrl.describe('Destination URL. Falcosidekick: webhook.address'),
    method: z
      .string()
      .transform((m) => m.toUpperCase())
      .pipe(z.enum(['POST', 'PUT']))
      .default('POST')
      .describe('POST or PUT (case-insensitive). Falcosidekick: webhook.method'),
    customHeaders: headerMap
      .default({})
      .describe('Extra request headers, as an object or "k:v,k2:v2" (values may contain ":"). Falcosidekick: webhook.customheaders'),
    bodyTemplate: templateSource({ escape: 'json' })
      .optional()
      .describe('Template for the body; default is the alert as Falcosidekick sends it. With a JSON contentType, {{ x }} is JSON-string-escaped and {{ x | json }} inserts a JSON value.'),
    contentType: z.string().default('application/json').describe('Content-Type of the body. JSON types make bodies JSON-checked before sending.'),
    hmacSecret: z
      .string()
      .min(16, 'use at least 16 characters')
      .optional()
      .describe('When set, each request carries hmacHeader = "sha256=" + hex(HMAC-SHA256(secret, raw body)).'),
    hmacHeader: z.string().default('X-Peregrine-Signature').describe('Header name for the HMAC signature.'),
    batchAsArray: z
      .boolean()
      .default(false)
      .describe('Send a whole batch as one JSON array (all or nothing) instead of one request per alert.'),
    tls: clientTlsSettings,
    timeoutMs,
  })
  .strict()
  .superRefine((s, ctx) => {
    // A template that compiles can still produce broken JSON; try it once now
    // rather than failing every delivery later.
    if (s.bodyTemplate === undefined || !isJsonContentType(s.contentType)) return;
    let rendered: string;
    try {
      rendered = compileTemplate(s.bodyTemplate, { escape: 'json' })(SAMPLE_ALERT);
    } catch {
      return; // already reported by the field's own check
    }
    try {
      JSON.parse(rendered);
    } catch (e) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['bodyTemplate'],
        message: `renders invalid JSON for a sample alert (${(e as Error).message}); rendered: ${rendered.slice(0, 200)}`,
      });
    }
  });

export type WebhookSettings = z.output<typeof webhookSettingsSchema>;

export function isJsonContentType(contentType: string): boolean {
  return /[/+]json\b/i.test(contentType);
}
