import { readFileSync } from 'node:fs';
import type { Alert, Priority } from '@peregrine/alert';
import pino from 'pino';
import type { SinkDeps } from '../../src/index.ts';

/** A Falco `json_output` alert (shape from Falco's formats.cpp) plus Peregrine's uuid. */
export const falcoAlert: Alert = JSON.parse(readFileSync(new URL('../fixtures/falco-alert.json', import.meta.url), 'utf8')) as Alert;

/** A copy of the fixture with some properties changed. */
export function alertWith(changes: Partial<Alert>): Alert {
  return { ...structuredClone(falcoAlert), ...changes };
}

export function alertWithPriority(priority: Priority, uuid: string = `uuid-${priority}`): Alert {
  return alertWith({ priority, uuid });
}

export const deps: SinkDeps = { logger: pino({ level: 'silent' }) };

export function ctx(signal: AbortSignal = new AbortController().signal) {
  return { signal };
}
