import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, copyFileSync, chmodSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Container images built locally (nothing can be pulled on these machines), as
 * docker-archive tars that both `ctr images import` and Docker's image load
 * accept: a `manifest.json`, the image config JSON and one layer tar. Built
 * once and cached under `.cache/containers/` (git-ignored).
 */

/** The repository's `.cache/containers` folder. */
export const containerCacheDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../.cache/containers');

/** Names the images get (what `docker load` and `ctr -n k8s.io images import` register). */
export const BUSYBOX_IMAGE = 'docker.io/local/busybox:test';
export const PAUSE_IMAGE = 'docker.io/local/pause:3.6';

export interface LocalImage {
  /** Full reference, e.g. `docker.io/local/busybox:test`. */
  readonly reference: string;
  /** The docker-archive tar. */
  readonly archive: string;
}

// The pause process of a CRI sandbox: waits for a signal, reaps children. Ours, a few lines of C.
const PAUSE_SOURCE = `#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static void stop(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
  signal(SIGINT, stop);
  signal(SIGTERM, stop);
  signal(SIGCHLD, reap);
  for (;;) pause();
}
`;

/** Builds (or reuses) the busybox image: /bin/busybox from busybox-static, its applet links, /etc/passwd and /etc/group. */
export function buildBusyboxImage(): LocalImage {
  return cachedImage('busybox', BUSYBOX_IMAGE, (root) => {
    const busybox = '/bin/busybox';
    if (!existsSync(busybox)) throw new Error(`${busybox} is missing: install Debian's busybox-static (apt-get install -y busybox-static; scripts/apt-packages.txt lists it)`);
    const version = execFileSync(busybox, ['--help'], { encoding: 'utf8' }).split('\n')[0] ?? '';
    if (!/static|BusyBox/.test(version)) throw new Error(`${busybox} is not BusyBox: ${version}`);
    for (const folder of ['bin', 'etc', 'tmp', 'root', 'proc', 'sys', 'dev']) mkdirSync(join(root, folder), { recursive: true });
    copyFileSync(busybox, join(root, 'bin/busybox'));
    chmodSync(join(root, 'bin/busybox'), 0o755);
    chmodSync(join(root, 'tmp'), 0o1777);
    for (const applet of execFileSync(busybox, ['--list'], { encoding: 'utf8' }).split('\n')) {
      if (applet === '' || applet === 'busybox' || applet.includes('/')) continue;
      symlinkSync('busybox', join(root, 'bin', applet));
    }
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
    return { Cmd: ['/bin/sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] };
  });
}

/** Builds (or reuses) the pause image for CRI sandboxes: a static C program at /pause. */
export function buildPauseImage(): LocalImage {
  return cachedImage('pause', PAUSE_IMAGE, (root, work) => {
    const source = join(work, 'pause.c');
    writeFileSync(source, PAUSE_SOURCE);
    try {
      execFileSync('gcc', ['-static', '-Os', '-s', '-o', join(root, 'pause'), source], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      throw new Error(`cannot build the pause binary with gcc -static (install gcc and libc6-dev): ${(error as Error).message}`);
    }
    return { Entrypoint: ['/pause'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] };
  });
}

/**
 * Writes `<cache>/<name>.tar` once: `fill` populates the root filesystem and
 * returns the image's `config` section. The tar is written to a temp name and
 * renamed, so a half-built archive is never reused.
 */
function cachedImage(name: string, reference: string, fill: (root: string, work: string) => Record<string, unknown>): LocalImage {
  const archive = join(containerCacheDir, `${name}.tar`);
  if (existsSync(archive)) return { reference, archive };
  mkdirSync(containerCacheDir, { recursive: true });
  const work = mkdtempSync(join(containerCacheDir, `build-${name}-`));
  try {
    const root = join(work, 'rootfs');
    const out = join(work, 'archive');
    mkdirSync(root);
    mkdirSync(out);
    const config = fill(root, work);
    const layer = join(work, 'layer.tar');
    // Fixed owner and mtime: the same inputs give the same layer digest.
    execFileSync('tar', ['-C', root, '--numeric-owner', '--owner=0', '--group=0', '--mtime=@0', '--sort=name', '-cf', layer, '.']);
    const layerDigest = createHash('sha256').update(readFileSync(layer)).digest('hex');
    mkdirSync(join(out, layerDigest));
    renameSync(layer, join(out, layerDigest, 'layer.tar'));
    const imageConfig = JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '1970-01-01T00:00:00Z',
      config,
      rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
      history: [{ created: '1970-01-01T00:00:00Z', created_by: `peregrine test support: ${name}` }],
    });
    const configDigest = createHash('sha256').update(imageConfig).digest('hex');
    writeFileSync(join(out, `${configDigest}.json`), imageConfig);
    // Docker's loader wants the short name in RepoTags; containerd normalizes it back to docker.io/…
    const repoTag = reference.replace(/^docker\.io\//, '');
    writeFileSync(join(out, 'manifest.json'), JSON.stringify([{ Config: `${configDigest}.json`, RepoTags: [repoTag], Layers: [`${layerDigest}/layer.tar`] }]));
    const tmp = `${archive}.${process.pid}.tmp`;
    execFileSync('tar', ['-C', out, '--numeric-owner', '--owner=0', '--group=0', '-cf', tmp, '.']);
    renameSync(tmp, archive);
    return { reference, archive };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
