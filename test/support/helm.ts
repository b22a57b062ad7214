// helm for the chart tests (helm/peregrine): built from Go modules by scripts/kube/build-helm.sh
// (wrapper module scripts/kube/helm, the pattern of the Kubernetes binaries in kube-binaries.ts),
// once per machine into .cache/kube/helm-<version>/ (≈ 2 min cold on 2 cores); later runs reuse it.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
