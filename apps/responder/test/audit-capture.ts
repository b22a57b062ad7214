// Collects the responder's audit lines (pino JSON) in memory, for assertions.
import { Writable } from 'node:stream';
import { createAuditLog } from '../src/audit.ts';
import type { AuditLog } from '../src/audit.ts';

export interface CapturedAudit {
  readonly log: AuditLog;
  readonly lines: Array<Record<string, unknown>>;
}

export function captureAudit(): CapturedAudit {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createAuditLog({ destination }), lines };
}
