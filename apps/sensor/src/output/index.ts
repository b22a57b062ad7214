// Alert outputs of the sensor: stdout, file, hub (with its on-disk spool).
export type { AlertOutput, OutputLogger } from './types.ts';
export { stderrLogger } from './types.ts';
export { StdoutOutput, formatAlertLine } from './stdout-output.ts';
export type { StdoutOutputOptions, AlertLineFormat } from './stdout-output.ts';
export { FileOutput } from './file-output.ts';
export type { FileOutputOptions } from './file-output.ts';
export { HubOutput } from './hub-output.ts';
export type { HubOutputOptions } from './hub-output.ts';
export { HubClient, alertsEndpoint, refusedAlertIndex } from './hub-client.ts';
export type { HubClientOptions, HubTlsOptions, HubAnswer } from './hub-client.ts';
export { Spool, DEFAULT_SPOOL_MAX_BYTES, encodeSpoolLine, decodeSpoolLine } from './spool.ts';
export type { SpoolOptions, SpoolBatch, SpoolRecord, SpoolPosition, SpoolEntry } from './spool.ts';
