import type { SinkModule } from '../sink-module.ts';
import { FileSink } from './file-sink.ts';
import { fileSettingsSchema } from './file-settings.ts';
import type { FileSettings } from './file-settings.ts';

export const fileSinkModule: SinkModule<FileSettings> = {
  type: 'file',
  summary: 'Appends alerts to a local JSONL (or text) file, rotated by size',
  settingsSchema: fileSettingsSchema,
  create: (settings, deps) => new FileSink(settings, deps),
};
export { FileSink } from './file-sink.ts';
export { RotatingFile } from './rotating-file.ts';
export { fileSettingsSchema } from './file-settings.ts';
export type { FileSettings } from './file-settings.ts';
