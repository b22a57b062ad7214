import { z } from 'zod';

export const fileSettingsSchema = z
  .object({
    path: z.string().trim().min(1, 'is required').describe('File to append to; parent directories are created. Rotated files are <path>.1 (newest) … <path>.<maxBackups>.'),
    format: z.enum(['json', 'text']).default('json').describe('json: one Falco JSON alert per line (JSONL); text: Falco\'s text line.'),
    maxSizeBytes: z
      .number()
      .int()
      .min(1024, 'must be at least 1024')
      .default(100 * 1024 * 1024)
      .describe('Rotate before a write would take the file past this size (a single larger line still goes into a fresh file, whole).'),
    maxBackups: z.number().int().min(0).default(5).describe('Rotated files to keep; 0 keeps none (the full file is deleted on rotation).'),
    fsync: z.boolean().default(true).describe('fsync after each batch, so "delivered" means on disk.'),
  })
  .strict();

export type FileSettings = z.output<typeof fileSettingsSchema>;
