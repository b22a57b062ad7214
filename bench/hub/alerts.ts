// The alert every bench/hub phase sends: a Falco alert as Falco's http_output
// posts it, ~600 bytes, varying a little with its sequence number.

/** Alert number `seq`, without a uuid (the hub assigns one). */
export function falcoAlert(seq: number): Record<string, unknown> {
  return {
    hostname: 'node-1',
    output: `06:13:20.123456789: Warning Shell spawned in a container (user=root container=web-${seq % 97} shell=bash)`,
    output_fields: { 'container.name': `web-${seq % 97}`, 'k8s.ns.name': 'shop', 'k8s.pod.name': `web-${seq % 97}`, 'proc.name': 'bash', 'proc.pid': seq, 'user.name': 'root' },
    priority: 'Warning',
    rule: 'Terminal shell in container',
    source: 'syscall',
    tags: ['container', 'shell'],
    time: '2024-06-10T06:13:20.123456789Z',
  };
}

/** Alert number `seq` with a uuid derived from it (for phases that match arrivals by uuid). */
export function falcoAlertWithUuid(seq: number): Record<string, unknown> {
  return { uuid: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`, ...falcoAlert(seq) };
}
