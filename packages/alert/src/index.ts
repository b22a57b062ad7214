export { PRIORITIES, parsePriority, priorityRank, isAtLeast } from './priority.ts';
export type { Priority } from './priority.ts';
export type { Alert, OutputFieldValue } from './alert.ts';
export { validateAlert, describeAlertErrors } from './validate.ts';
export type { AlertFieldError, AlertValidation } from './validate.ts';
export { parseRfc3339, formatRfc3339, nowRfc3339, rfc3339ToNanos } from './time.ts';
export { alertToJson, withExactEventTime } from './json.ts';
export { parseJsonExact, stringifyJsonExact, fieldsHoldBigInt, mayHoldUnsafeInteger } from './exact-json.ts';
export type { AlertTime } from './time.ts';
