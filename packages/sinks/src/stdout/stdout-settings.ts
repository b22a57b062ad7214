import { z } from 'zod';

export const stdoutSettingsSchema = z
  .object({
    format: z
      .enum(['text', 'json'])
      .default('text')
      .describe('text: Falco\'s line "HH:MM:SS.nnnnnnnnn: Priority message"; json: Falco\'s JSON line (keys sorted, plus uuid).'),
    timeFormatIso8601: z.boolean().default(false).describe('text format only: ISO 8601 time instead of HH:MM:SS.nnnnnnnnn (Falco\'s time_format_iso_8601).'),
  })
  .strict();

export type StdoutSettings = z.output<typeof stdoutSettingsSchema>;
