// Shared by the Kubernetes test-cluster smoke tests and their fixture.
import { CoreV1Api } from '@kubernetes/client-node';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { TestKube, TestKubeNode } from '../../support/index.ts';

/** A one-replica Deployment of the local busybox image (never pulled) that logs a line and sleeps. */
export function busyboxDeployment(name: string, image: string): V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          // busybox sh as PID 1 would ignore SIGTERM; the trap makes deletion quick.
          terminationGracePeriodSeconds: 5,
          containers: [{ name: 'main', image, imagePullPolicy: 'Never', command: ['sh', '-c', `trap 'exit 0' TERM; echo ${name} started; while true; do sleep 1; done`] }],
        },
      },
    },
  };
}

/** Polls until `count` pods match `selector`, all Running with a running container, none terminating. */
export async function waitForRunningPods(kube: TestKube, namespace: string, selector: string, count: number, timeoutMs: number, exclude: ReadonlySet<string> = new Set()): Promise<V1Pod[]> {
  const core = kube.kubeConfig().makeApiClient(CoreV1Api);
  const deadline = Date.now() + timeoutMs;
  let last: V1Pod[] = [];
  for (;;) {
    last = (await core.listNamespacedPod({ namespace, labelSelector: selector })).items;
    const running = last.filter(
      (p) =>
        !exclude.has(p.metadata?.uid ?? '') &&
        p.metadata?.deletionTimestamp === undefined &&
        p.status?.phase === 'Running' &&
        (p.status.containerStatuses ?? []).some((c) => c.state?.running !== undefined && c.containerID),
    );
    if (running.length === count) return running;
    if (Date.now() > deadline) {
      const summary = last.map((p) => `${p.metadata?.name} ${p.metadata?.uid} ${p.status?.phase} ${JSON.stringify(p.status?.containerStatuses?.map((c) => c.state))}`).join('\n');
      throw new Error(`no ${count} running pod(s) ${selector} in ${namespace} within ${timeoutMs} ms; pods:\n${summary || '(none)'}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The host pid of a pod's first container, from containerd's CRI (the kubelet's runtime). */
export async function containerHostPid(kube: TestKubeNode, pod: V1Pod): Promise<{ pid: number; containerId: string }> {
  const containerId = (pod.status?.containerStatuses?.[0]?.containerID ?? '').replace(/^containerd:\/\//, '');
  if (!/^[0-9a-f]{64}$/.test(containerId)) throw new Error(`pod ${pod.metadata?.name} has no containerd container id (${containerId})`);
  const status = await kube.runtimes.cri.call<{ info: Record<string, string> }>('ContainerStatus', { container_id: containerId, verbose: true });
  const pid = Number((JSON.parse(status.info.info ?? '{}') as { pid?: number }).pid ?? 0);
  if (!(pid > 0)) throw new Error(`CRI has no pid for container ${containerId}`);
  return { pid, containerId };
}
