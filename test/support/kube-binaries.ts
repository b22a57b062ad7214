// The Kubernetes test cluster's binaries: etcd and kube-apiserver, kubelet, kube-scheduler,
// kube-controller-manager, kubectl, built from Go modules by scripts/kube/build.sh (wrapper
// modules in scripts/kube/etcd and scripts/kube/kubernetes; see
// ../shared/reference/kubernetes-here.md). Built once per machine into .cache/kube/<versions>/
// (≈ 5–6 min cold on 2 cores, ≈ 5 GB of Go caches where Go keeps them); later runs reuse it.
import { join } from 'node:path';
import { ensureBuilt, inputsHash, repoRoot, runCommand } from './server-process.ts';

export const kubeVersion = 'v1.36.3';
export const etcdVersion = 'v3.6.16';

const moduleDir = join(repoRoot, 'scripts', 'kube');
const buildInputs = ['build.sh', 'etcd/go.mod', 'etcd/go.sum', 'kubernetes/go.mod', 'kubernetes/go.sum'].map((f) => join(moduleDir, f));

/** Absolute paths of the built binaries. */
export interface KubeBinaries {
  readonly dir: string;
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubelet: string;
  readonly kubeScheduler: string;
  readonly kubeControllerManager: string;
  readonly kubectl: string;
}

/** Where the binaries of these versions live (built or not). */
export function kubeBinariesDir(): string {
  return join(repoRoot, '.cache', 'kube', `kubernetes-${kubeVersion}-etcd-${etcdVersion}`);
}

/**
 * Builds the binaries unless the cache is current (its stamp hashes the wrapper modules and
 * the build script, so a changed go.sum rebuilds). Safe to call from several test files at once.
 */
export async function prepareKubeBinaries(): Promise<KubeBinaries> {
  const dir = kubeBinariesDir();
  await ensureBuilt(dir, inputsHash(buildInputs, [kubeVersion, etcdVersion]), `Kubernetes ${kubeVersion} and etcd ${etcdVersion}`, async (out) => {
    await runCommand('bash', [join(moduleDir, 'build.sh'), join(out, 'bin')], {
      what: `building Kubernetes ${kubeVersion} and etcd ${etcdVersion} from Go modules (scripts/kube/build.sh)`,
      fix: 'it needs Go >= 1.26 on PATH (install Go from go.dev), the Go module proxy, ≈ 2 GB of free RAM and ≈ 6 GB of disk for Go caches',
    });
  });
  const bin = join(dir, 'bin');
  return {
    dir: bin,
    etcd: join(bin, 'etcd'),
    kubeApiserver: join(bin, 'kube-apiserver'),
    kubelet: join(bin, 'kubelet'),
    kubeScheduler: join(bin, 'kube-scheduler'),
    kubeControllerManager: join(bin, 'kube-controller-manager'),
    kubectl: join(bin, 'kubectl'),
  };
}
