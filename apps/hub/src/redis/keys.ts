import { createHash } from 'node:crypto';

/**
 * Every Redis name the hub uses. All keys start with the configured prefix,
 * a `{…}` hash tag, so they share one Cluster slot and Lua/MULTI may span
 * them (BullMQ's own keys get the same prefix).
 */
export class HubKeys {
  constructor(readonly prefix: string) {}

  /** BullMQ queue name of a destination (BullMQ forbids `:` in names). */
  queueName(destination: string): string {
    return `dest-${destination}`;
  }

  deadLetter(destination: string): string {
    return `${this.prefix}:deadletter:${destination}`;
  }

  /** Holds the uuid of the alert that opened the current throttle window. */
  throttleWindow(destination: string, key: string): string {
    return `${this.prefix}:throttle:${destination}:${digest(key)}`;
  }

  /** uuids of alerts suppressed since the last delivered one with this key. */
  throttleSuppressed(destination: string, key: string): string {
    return `${this.prefix}:suppressed:${destination}:${digest(key)}`;
  }

  /** The decision already taken for one alert (so a retried job decides the same way). */
  throttleDecision(destination: string, uuid: string): string {
    return `${this.prefix}:admitted:${destination}:${uuid}`;
  }
}

/** Keys from templates can be long or odd; a digest keeps Redis names bounded. */
function digest(key: string): string {
  return createHash('sha1').update(key).digest('base64url');
}
