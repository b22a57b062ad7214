export { PRIORITIES, parsePriority, priorityRank, isAtLeast } from './priority.ts';
export type { Priority } from './priority.ts';
export type { Alert, OutputFieldValue } from './alert.ts';
