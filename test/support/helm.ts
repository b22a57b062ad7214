// helm for the chart tests (helm/peregrine): built from Go modules by scripts/kube/build-helm.sh
// (wrapper module scripts/kube/helm, the pattern of the Kubernetes binaries in kube-binaries.ts),
// once per machine into .cache/kube/helm-<version>/ (≈ 2 min cold on 2 cores); later runs reuse it.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBaseImageStandIns, dockerCliAsync, DEBIAN_IMAGE, DISTROLESS_IMAGE, NODE_IMAGE, REDIS_IMAGE } from './containers/base-images.ts';
import { buildContextKey, buildLabImages, imageId } from './containers/lab.ts';
import { startContainerRuntimes } from './containers/runtimes.ts';
import { ensureBuilt, inputsHash, repoRoot, runCommand } from './server-process.ts';

export const helmVersion = 'v4.3.2';

const moduleDir = join(repoRoot, 'scripts', 'kube');
const buildInputs = ['build-helm.sh', 'helm/go.mod', 'helm/go.sum'].map((f) => join(moduleDir, f));

/** The chart of this repository. */
export const peregrineChartDir = join(repoRoot, 'helm', 'peregrine');

/** Where helm of this version lives (built or not). */
export function helmBinaryDir(): string {
  return join(repoRoot, '.cache', 'kube', `helm-${helmVersion}`);
}

/**
 * Builds helm unless the cache is current (the stamp hashes the wrapper module and the build
 * script). Safe to call from several test files at once. Returns the binary's path.
 */
export async function prepareHelm(): Promise<string> {
  const dir = helmBinaryDir();
  await ensureBuilt(dir, inputsHash(buildInputs, [helmVersion]), `helm ${helmVersion}`, async (out) => {
    await runCommand('bash', [join(moduleDir, 'build-helm.sh'), join(out, 'bin')], {
      what: `building helm ${helmVersion} from Go modules (scripts/kube/build-helm.sh)`,
      fix: 'it needs Go >= 1.26 on PATH (install Go from go.dev), the Go module proxy and ≈ 1.5 GB of free RAM',
    });
  });
  return join(dir, 'bin', 'helm');
}

export interface HelmResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs helm with a private HOME/cache/config (so the user's repositories and plugins play no
 * part) and an optional kubeconfig; resolves with the exit code and output, never rejects for
 * a non-zero exit.
 */
export function runHelm(helm: string, args: readonly string[], options: { readonly kubeconfig?: string; readonly timeoutMs?: number } = {}): Promise<HelmResult> {
  const home = mkdtempSync(join(tmpdir(), 'peregrine-helm-home-'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
  };
  if (options.kubeconfig) env.KUBECONFIG = options.kubeconfig;
  return new Promise((resolvePromise, reject) => {
    execFile(helm, [...args], { env, maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 600_000 }, (error, stdout, stderr) => {
      rmSync(home, { recursive: true, force: true });
      const code = error ? (typeof (error as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? Number((error as { code: number }).code) : -1) : 0;
      if (error && code === -1 && !stderr) return reject(new Error(`cannot run ${helm} ${args.join(' ')}: ${error.message}`));
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** Same, failing with helm's output unless it exits 0; resolves with stdout. */
export async function helmOk(helm: string, args: readonly string[], options: { readonly kubeconfig?: string; readonly timeoutMs?: number } = {}): Promise<string> {
  const result = await runHelm(helm, args, options);
  if (result.code !== 0) throw new Error(`helm ${args.join(' ')} exited ${result.code}:\n${result.stderr.slice(-8000)}\n${result.stdout.slice(-4000)}`);
  return result.stdout;
}

/** `helm template` of the chart with values files and --set pairs; resolves with the manifests. */
export function helmTemplate(
  helm: string,
  options: { readonly release?: string; readonly namespace?: string; readonly valuesFiles?: readonly string[]; readonly values?: Readonly<Record<string, unknown>>; readonly set?: readonly string[]; readonly extraArgs?: readonly string[] } = {},
): Promise<string> {
  const args = ['template', options.release ?? 'peregrine', peregrineChartDir, '--namespace', options.namespace ?? 'peregrine'];
  let scratch: string | undefined;
  for (const file of options.valuesFiles ?? []) args.push('--values', file);
  if (options.values) {
    scratch = mkdtempSync(join(tmpdir(), 'peregrine-helm-values-'));
    const file = join(scratch, 'values.json');
    writeFileSync(file, JSON.stringify(options.values));
    args.push('--values', file);
  }
  for (const pair of options.set ?? []) args.push('--set', pair);
  args.push(...(options.extraArgs ?? []));
  return helmOk(helm, args).finally(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });
}

/** This repository's images for the chart, as docker-archive tars (`ctr -n k8s.io images import`). */
export interface ChartImages {
  /** Image references as the chart's values name them (repository:tag). */
  readonly sensor: string;
  readonly hub: string;
  readonly responder: string;
  readonly receiver: string;
  readonly redis: string;
  /** One tar per image, cached under .cache/helm/images/ by image id. */
  readonly archives: readonly string[];
  /** ms per step and whether images were reused. */
  readonly timings: Readonly<Record<string, number>>;
}

const RESPONDER_IMAGE = { tag: 'peregrine/responder:lab', dockerfile: 'deploy/docker/responder.Dockerfile' } as const;

/**
 * Builds (or reuses) the images the chart runs from this repository's Dockerfiles under the
 * test dockerd (base images from the local stand-ins, as the lab test does), and saves each as a
 * tar. Takes the machine-wide containers lock for the build only: call it before starting the
 * Kubernetes node, which takes the same lock.
 */
export async function prepareChartImages(options: { readonly lockTimeoutMs?: number } = {}): Promise<ChartImages> {
  const timings: Record<string, number> = {};
  let t = Date.now();
  const runtimes = await startContainerRuntimes({ lockTimeoutMs: options.lockTimeoutMs ?? 1_800_000 });
  timings.runtimesMs = Date.now() - t;
  try {
    const socket = runtimes.dockerSocket;
    t = Date.now();
    const standIns = await buildBaseImageStandIns(socket);
    timings.baseImagesMs = Date.now() - t;
    timings.baseImagesCached = standIns.steps.every((s) => s.cached) ? 1 : 0;
    t = Date.now();
    const bases = [DEBIAN_IMAGE, NODE_IMAGE, REDIS_IMAGE, DISTROLESS_IMAGE];
    const built = await buildLabImages(socket, bases, ['receiver', 'hub', 'sensor']);
    timings.labImagesMs = Date.now() - t;
    timings.labImagesCached = built.every((b) => b.cached) ? 1 : 0;
    // The responder is not part of the compose core: built here the same way (context key label).
    t = Date.now();
    const key = `${buildContextKey(bases.map((ref) => imageId(socket, ref) ?? `missing:${ref}`))}-${createHash('sha256').update(readFileSync(join(repoRoot, RESPONDER_IMAGE.dockerfile))).digest('hex').slice(0, 8)}`;
    let current = '';
    try {
      current = (await dockerCliAsync(socket, ['image', 'inspect', '--format', '{{ index .Config.Labels "org.peregrine.build.key" }}', RESPONDER_IMAGE.tag])).trim();
    } catch {
      current = '';
    }
    if (current !== key) {
      await dockerCliAsync(socket, ['build', '--network=host', '--label', `org.peregrine.build.key=${key}`, '-f', RESPONDER_IMAGE.dockerfile, '-t', RESPONDER_IMAGE.tag, '.'], { cwd: repoRoot });
    }
    timings.responderImageMs = Date.now() - t;
    t = Date.now();
    const refs = { sensor: 'peregrine/sensor:lab', hub: 'peregrine/hub:lab', receiver: 'peregrine/lab-receiver:lab', responder: RESPONDER_IMAGE.tag, redis: REDIS_IMAGE };
    const dir = join(repoRoot, '.cache', 'helm', 'images');
    mkdirSync(dir, { recursive: true });
    const archives: string[] = [];
    for (const ref of Object.values(refs)) {
      const id = imageId(socket, ref);
      if (!id) throw new Error(`image ${ref} is missing after the build`);
      const archive = join(dir, `${ref.replace(/[^A-Za-z0-9.-]+/g, '_')}-${id.replace(/^sha256:/, '').slice(0, 16)}.tar`);
      if (!existsSync(archive)) {
        await dockerCliAsync(socket, ['save', '-o', `${archive}.part`, ref]);
        renameSync(`${archive}.part`, archive);
      }
      archives.push(archive);
    }
    timings.saveMs = Date.now() - t;
    return { ...refs, archives, timings };
  } finally {
    await runtimes.stop();
  }
}

/** Imports docker-archive tars into containerd's `k8s.io` namespace (where the kubelet looks). */
export async function importImagesForKubelet(containerdSocket: string, archives: readonly string[]): Promise<void> {
  for (const archive of archives) {
    await new Promise<void>((resolvePromise, reject) => {
      execFile('ctr', ['--address', containerdSocket, '-n', 'k8s.io', 'images', 'import', archive], { maxBuffer: 16 * 1024 * 1024, timeout: 600_000 }, (error, _stdout, stderr) => {
        if (error) reject(new Error(`ctr images import ${archive}: ${stderr || error.message}`));
        else resolvePromise();
      });
    });
  }
}
