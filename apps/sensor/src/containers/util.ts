import type { ContainerInfo } from './types.ts';

/** Drops labels whose value is longer than `max` (the plugin's `label_max_len`, default 100). */
export function keepShortLabels(labels: Record<string, string>, max: number): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels)) if (typeof value === 'string' && value.length <= max) kept[key] = value;
  return kept;
}

/** Pod name/namespace/uid from the `io.kubernetes.pod.*` labels kubelet puts on every container. */
export function podFieldsFromLabels(labels: Record<string, string>): Pick<ContainerInfo, 'podName' | 'podNamespace' | 'podUid'> {
  const fields: Pick<ContainerInfo, 'podName' | 'podNamespace' | 'podUid'> = {};
  const name = labels['io.kubernetes.pod.name'];
  const namespace = labels['io.kubernetes.pod.namespace'];
  const uid = labels['io.kubernetes.pod.uid'];
  if (name) fields.podName = name;
  if (namespace) fields.podNamespace = namespace;
  if (uid) fields.podUid = uid;
  return fields;
}

/** `2024-05-01T10:11:12.123456789Z` (RFC 3339, any fraction, Z or offset) → epoch nanoseconds; undefined for Docker's zero time or junk. */
export function rfc3339ToEpochNs(text: string): bigint | undefined {
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(text);
  if (!match) return undefined;
  const wholeSecondsMs = Date.parse(`${match[1]}${match[3]}`);
  if (Number.isNaN(wholeSecondsMs) || wholeSecondsMs <= 0) return undefined;
  const fraction = (match[2] ?? '').slice(0, 9).padEnd(9, '0');
  return BigInt(wholeSecondsMs) * 1_000_000n + BigInt(fraction);
}
