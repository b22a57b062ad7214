import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareKafka } from '../kafka.ts';
import { prepareOpenSearch } from '../opensearch.ts';
import { javacCommand, serversCacheDir, serversSourceDir } from '../server-process.ts';
import { DEBIAN_IMAGE, DOCKER_CLI, dockerCliAsync } from './base-images.ts';
import { containerCacheDir } from './images.ts';

/**
 * Local stand-ins for the public images the lab's full profile uses (docker-compose.yml) or
 * its Dockerfiles build FROM, under the very names they use, for the test dockerd where
 * nothing can be pulled (base-images.ts does the same for debian, node, redis, distroless):
 *
 * - `apache/kafka:4.4.0`: the Kafka 4.4.0 jars test/servers already caches (Maven Central),
 *   the official image's layout, default KRaft configuration and KAFKA_* variables
 *   (standins/kafka.Dockerfile says what is and is not imitated);
 * - `opensearchproject/opensearch:2.19.6`: the OpenSearch 2.19.6 jars of test/servers with a
 *   small main (standins/opensearch/LabOpenSearch.java), settings from dotted variables,
 *   curl for the health check, no security plugin (standins/opensearch.Dockerfile);
 * - `golang:1.26-bookworm`: the host's Go toolchain (it builds the Lambda emulator in
 *   deploy/docker/responder-lambda.Dockerfile);
 * - `peregrine-standin/jre:17-bookworm` (no upstream image): Debian's OpenJDK 17 JRE and curl,
 *   the layer Kafka and OpenSearch share.
 *
 * Each carries a label with the hash of its inputs; a present image with the same hash is
 * reused, so a warm run costs a few `image inspect`s.
 */

export const KAFKA_IMAGE = 'apache/kafka:4.4.0';
export const OPENSEARCH_IMAGE = 'opensearchproject/opensearch:2.19.6';
export const GOLANG_IMAGE = 'golang:1.26-bookworm';
export const JRE_STANDIN_IMAGE = 'peregrine-standin/jre:17-bookworm';
const KEY_LABEL = 'org.peregrine.standin.key';
const STANDIN_DIR = fileURLToPath(new URL('./standins/', import.meta.url));
const GOROOT = '/usr/local/go';

export interface StandInStep {
  readonly image: string;
  readonly ms: number;
  readonly cached: boolean;
}

function inspectFormat(dockerSocket: string, reference: string, format: string): string | undefined {
  try {
    return execFileSync(DOCKER_CLI, ['-H', `unix://${dockerSocket}`, 'image', 'inspect', '--format', format, reference], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

/** The hash of files (names, modes and contents) and extra strings. */
function hashInputs(files: readonly string[], extra: readonly string[]): string {
  const hash = createHash('sha256');
  for (const file of [...files].sort()) {
    hash.update(file).update('\0').update(String(statSync(file).mode & 0o111)).update('\0').update(readFileSync(file)).update('\0');
  }
  for (const part of extra) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 16);
}

/** Every file below a directory (recursive). */
function filesBelow(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

/** A directory of jars summarised by name and size (the jars are immutable Maven releases). */
function jarListing(dir: string): string {
  return readdirSync(dir)
    .sort()
    .map((name) => `${name}:${statSync(join(dir, name)).size}`)
    .join(',');
}

/** Builds `tag` from a fresh context unless an image with the same key label is present. */
async function buildStandIn(dockerSocket: string, tag: string, key: string, fillContext: (context: string) => void): Promise<StandInStep> {
  const start = Date.now();
  if (inspectFormat(dockerSocket, tag, `{{ index .Config.Labels "${KEY_LABEL}" }}`) === key) return { image: tag, ms: Date.now() - start, cached: true };
  mkdirSync(containerCacheDir, { recursive: true });
  const context = mkdtempSync(join(containerCacheDir, 'ctx-standin-'));
  try {
    fillContext(context);
    await dockerCliAsync(dockerSocket, ['build', '--network=host', '--label', `${KEY_LABEL}=${key}`, '-t', tag, context]);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  return { image: tag, ms: Date.now() - start, cached: false };
}

/** The stand-in's OpenSearch main, compiled with the host's javac against the cached jars. */
function compiledOpenSearchMain(libDir: string): { dir: string; key: string } {
  // The node itself is test/servers' PluginNode, shared with the OpenSearch test server.
  const sources = [join(STANDIN_DIR, 'opensearch', 'LabOpenSearch.java'), join(serversSourceDir, 'java', 'testservers', 'PluginNode.java')];
  const key = hashInputs(sources, [jarListing(libDir)]);
  const dir = join(containerCacheDir, `opensearch-standin-classes-${key}`);
  try {
    statSync(join(dir, 'standin', 'LabOpenSearch.class'));
    return { dir, key };
  } catch {
    // not compiled yet
  }
  const tmp = `${dir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  execFileSync(javacCommand(), ['-d', tmp, '-cp', `${libDir}/*`, ...sources], { stdio: ['ignore', 'pipe', 'pipe'] });
  rmSync(dir, { recursive: true, force: true });
  cpSync(tmp, dir, { recursive: true });
  rmSync(tmp, { recursive: true, force: true });
  return { dir, key };
}

/**
 * Builds (or reuses) the full profile's stand-ins: the JRE layer, Kafka, OpenSearch and Go.
 * Needs the Debian stand-in (buildBaseImageStandIns) and, the first time, Maven (the jars,
 * through test/servers' own preparation) and Go on the host.
 */
export async function buildLabServiceStandIns(dockerSocket: string): Promise<StandInStep[]> {
  const debianId = inspectFormat(dockerSocket, DEBIAN_IMAGE, '{{.Id}}');
  if (!debianId) throw new Error(`${DEBIAN_IMAGE} is not in the test dockerd: call buildBaseImageStandIns first`);
  const steps: StandInStep[] = [];
  const t = Date.now();
  await prepareKafka();
  await prepareOpenSearch();
  steps.push({ image: 'test/servers jars (Kafka, OpenSearch)', ms: Date.now() - t, cached: true });

  const jreDockerfile = join(STANDIN_DIR, 'jre.Dockerfile');
  steps.push(
    await buildStandIn(dockerSocket, JRE_STANDIN_IMAGE, hashInputs([jreDockerfile], [debianId]), (context) => copyFileSync(jreDockerfile, join(context, 'Dockerfile'))),
  );
  const jreId = inspectFormat(dockerSocket, JRE_STANDIN_IMAGE, '{{.Id}}')!;

  const kafkaLib = join(serversCacheDir, 'kafka', 'lib');
  const kafkaDockerfile = join(STANDIN_DIR, 'kafka.Dockerfile');
  const kafkaFiles = filesBelow(join(STANDIN_DIR, 'kafka'));
  steps.push(
    await buildStandIn(dockerSocket, KAFKA_IMAGE, hashInputs([kafkaDockerfile, ...kafkaFiles], [jreId, jarListing(kafkaLib)]), (context) => {
      copyFileSync(kafkaDockerfile, join(context, 'Dockerfile'));
      cpSync(kafkaLib, join(context, 'libs'), { recursive: true });
      cpSync(join(STANDIN_DIR, 'kafka'), join(context, 'kafka'), { recursive: true });
    }),
  );

  const openSearchLib = join(serversCacheDir, 'opensearch', 'lib');
  const openSearchDockerfile = join(STANDIN_DIR, 'opensearch.Dockerfile');
  const openSearchFiles = filesBelow(join(STANDIN_DIR, 'opensearch'));
  const main = compiledOpenSearchMain(openSearchLib);
  steps.push(
    await buildStandIn(dockerSocket, OPENSEARCH_IMAGE, hashInputs([openSearchDockerfile, ...openSearchFiles], [jreId, jarListing(openSearchLib), main.key]), (context) => {
      copyFileSync(openSearchDockerfile, join(context, 'Dockerfile'));
      cpSync(openSearchLib, join(context, 'lib'), { recursive: true });
      cpSync(main.dir, join(context, 'standin'), { recursive: true });
      cpSync(join(STANDIN_DIR, 'opensearch'), join(context, 'opensearch'), { recursive: true });
    }),
  );

  const golangDockerfile = join(STANDIN_DIR, 'golang.Dockerfile');
  let goVersion: string;
  try {
    goVersion = readFileSync(join(GOROOT, 'VERSION'), 'utf8');
  } catch {
    throw new Error(`no Go toolchain in ${GOROOT}: the ${GOLANG_IMAGE} stand-in copies the host's (install Go >= 1.26 from go.dev into /usr/local/go)`);
  }
  steps.push(
    await buildStandIn(dockerSocket, GOLANG_IMAGE, hashInputs([golangDockerfile], [debianId, goVersion]), (context) => {
      copyFileSync(golangDockerfile, join(context, 'Dockerfile'));
      // Tests and docs of the toolchain are not needed to build.
      execFileSync('tar', ['-C', '/usr/local', '--exclude=go/test', '--exclude=go/doc', '--exclude=go/api', '-cf', join(context, 'go.tar'), 'go']);
    }),
  );
  return steps;
}

/** Every image this module builds. */
export const LAB_SERVICE_STANDINS: readonly string[] = [JRE_STANDIN_IMAGE, KAFKA_IMAGE, OPENSEARCH_IMAGE, GOLANG_IMAGE];
