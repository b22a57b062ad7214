import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOCKER_CLI, dockerCliAsync } from './base-images.ts';

/**
 * The compose lab (docker-compose.yml at the repository root) driven by Debian's
 * docker-compose 1.29 against the test dockerd: building this repository's images
 * from deploy/docker/*.Dockerfile (reused while their inputs are unchanged) and
 * running `docker-compose` with the right daemon and variables.
 */

export const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const KEY_LABEL = 'org.peregrine.build.key';

/** The images of docker-compose.yml built from this repository, by compose service. */
export const LAB_IMAGES = {
  hub: { tag: 'peregrine/hub:lab', dockerfile: 'deploy/docker/hub.Dockerfile' },
  sensor: { tag: 'peregrine/sensor:lab', dockerfile: 'deploy/docker/sensor.Dockerfile' },
  receiver: { tag: 'peregrine/lab-receiver:lab', dockerfile: 'deploy/docker/receiver.Dockerfile' },
  // The full profile's: built FROM golang (lab-standins.ts), node and distroless.
  responder: { tag: 'peregrine/responder-lambda:lab', dockerfile: 'deploy/docker/responder-lambda.Dockerfile' },
} as const;
export type LabImageName = keyof typeof LAB_IMAGES;

/** What .dockerignore keeps out of the build context (kept in step with it by a test). */
const CONTEXT_EXCLUDED = [/(^|\/)node_modules\//, /^\.cache\//, /^\.git\//, /^native\/build\//, /\.log$/, /^dump\.rdb$/, /^tmp\//, /^bench\//, /^docs\//,
  /^docker-compose\.yml$/, /^(README|BENCHMARKS|DEVELOPERS)\.md$/, /^deploy\/docker\/README\.md$/, /^deploy\/lab\/[^/]+\.(yaml|env)$/, /^deploy\/lab\/rules\//,
  /\.test\.ts$/, /^test\/e2e\//];

/**
 * A hash of the build context (the repository's files, tracked and untracked but not
 * ignored, minus what .dockerignore excludes) and of the base images: equal hashes give
 * equal images, so a present image with the hash in its label is reused.
 */
export function buildContextKey(baseImageIds: readonly string[]): string {
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: repoRoot, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    .split('\0')
    .filter((f) => f !== '' && !CONTEXT_EXCLUDED.some((re) => re.test(f)))
    .sort();
  const hash = createHash('sha256');
  for (const file of files) {
    const full = join(repoRoot, file);
    let stat;
    try {
      stat = statSync(full);
    } catch {
      continue; // deleted in the work tree
    }
    if (!stat.isFile()) continue;
    hash.update(file).update('\0').update(String(stat.mode & 0o111)).update('\0').update(readFileSync(full)).update('\0');
  }
  for (const id of baseImageIds) hash.update(id).update('\0');
  return hash.digest('hex').slice(0, 24);
}

export function imageId(dockerSocket: string, reference: string): string | undefined {
  try {
    return execFileSync(DOCKER_CLI, ['-H', `unix://${dockerSocket}`, 'image', 'inspect', '--format', '{{.Id}}', reference], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

function imageLabel(dockerSocket: string, reference: string): string | undefined {
  try {
    return execFileSync(DOCKER_CLI, ['-H', `unix://${dockerSocket}`, 'image', 'inspect', '--format', `{{ index .Config.Labels "${KEY_LABEL}" }}`, reference], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

export interface BuiltImage {
  readonly name: LabImageName;
  readonly tag: string;
  /** Uncompressed size as the engine reports it (`docker image inspect .Size`). */
  readonly bytes: number;
  readonly buildMs: number;
  readonly cached: boolean;
}

/**
 * Builds (or reuses) the lab's images from the repository's Dockerfiles with the build
 * context at the repository root, exactly as `docker compose build` does (host network
 * for the build, no BuildKit: compose 1.29's builder).
 */
export async function buildLabImages(dockerSocket: string, baseImages: readonly string[], names: readonly LabImageName[] = ['receiver', 'hub', 'sensor']): Promise<BuiltImage[]> {
  const baseIds = baseImages.map((ref) => imageId(dockerSocket, ref) ?? `missing:${ref}`);
  const contextKey = buildContextKey(baseIds);
  const built: BuiltImage[] = [];
  for (const name of names) {
    const { tag, dockerfile } = LAB_IMAGES[name];
    const key = `${contextKey}-${createHash('sha256').update(readFileSync(join(repoRoot, dockerfile))).digest('hex').slice(0, 8)}`;
    const start = Date.now();
    const cached = imageLabel(dockerSocket, tag) === key;
    if (!cached) {
      await dockerCliAsync(dockerSocket, ['build', '--network=host', '--label', `${KEY_LABEL}=${key}`, '-f', dockerfile, '-t', tag, '.'], { cwd: repoRoot });
    }
    const bytes = Number(execFileSync(DOCKER_CLI, ['-H', `unix://${dockerSocket}`, 'image', 'inspect', '--format', '{{.Size}}', tag], { encoding: 'utf8' }).trim());
    built.push({ name, tag, bytes, buildMs: Date.now() - start, cached });
  }
  return built;
}

export interface ComposeResult {
  readonly code: number;
  readonly output: string;
}

/** Runs Debian's docker-compose 1.29 on docker-compose.yml against the given daemon. */
export function compose(dockerSocket: string, args: readonly string[], variables: Readonly<Record<string, string>> = {}, timeoutMs = 600_000): Promise<ComposeResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('docker-compose', ['-f', join(repoRoot, 'docker-compose.yml'), ...args], {
      cwd: repoRoot,
      env: {
        ...process.env,
        DOCKER_HOST: `unix://${dockerSocket}`,
        // Compose 1.29 builds through docker-py (no BuildKit, whose frontend image cannot be pulled here).
        COMPOSE_DOCKER_CLI_BUILD: '0',
        DOCKER_BUILDKIT: '0',
        ...variables,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (c: Buffer) => {
      output = (output + c.toString()).slice(-40_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run docker-compose (apt-get install -y docker-compose): ${e.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? -1, output });
    });
  });
}

/** Same, failing with the output unless it exits 0. */
export async function composeOk(dockerSocket: string, args: readonly string[], variables: Readonly<Record<string, string>> = {}, timeoutMs?: number): Promise<string> {
  const result = await compose(dockerSocket, args, variables, timeoutMs);
  if (result.code !== 0) throw new Error(`docker-compose ${args.join(' ')} exited ${result.code}:\n${result.output.slice(-8000)}`);
  return result.output;
}
