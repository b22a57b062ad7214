/**
 * Falco priorities, most severe first. The numeric value is Falco's enum
 * (`falco_common::priority_type`): a lower number is more severe.
 */
export const PRIORITIES = [
  'Emergency',
  'Alert',
  'Critical',
  'Error',
  'Warning',
  'Notice',
  'Informational',
  'Debug',
] as const;

export type Priority = (typeof PRIORITIES)[number];

const BY_LOWER = new Map<string, Priority>(PRIORITIES.map((p) => [p.toLowerCase(), p]));
BY_LOWER.set('info', 'Informational');

/**
 * Parses a priority the way Falco does: case-insensitive, `info` accepted as
 * an alias of Informational. Returns undefined for anything else.
 */
export function parsePriority(text: string): Priority | undefined {
  return BY_LOWER.get(text.trim().toLowerCase());
}

/** Falco's enum value: 0 = Emergency … 7 = Debug. */
export function priorityRank(p: Priority): number {
  return PRIORITIES.indexOf(p);
}

/** True when `p` is at least as severe as `minimum` (Falco's `priority <= min_priority`). */
export function isAtLeast(p: Priority, minimum: Priority): boolean {
  return priorityRank(p) <= priorityRank(minimum);
}
