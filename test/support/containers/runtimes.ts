import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CriTestClient } from './cri-client.ts';
import { DockerTestClient } from './docker-api.ts';
import { BUSYBOX_IMAGE, PAUSE_IMAGE, buildBusyboxImage, buildPauseImage } from './images.ts';

/**
 * Real container runtimes for tests: containerd (its CRI plugin) and dockerd
 * from Debian's packages (scripts/apt-packages.txt: containerd, runc,
 * busybox-static, containernetworking-plugins, docker.io), with the two
 * quirks of these machines handled (see ../shared/reference/containers-here.md):
 * `restrict_oom_score_adj = true` for CRI sandboxes, and a runc wrapper for
 * dockerd that drops capabilities absent from the bounding set.
 *
 * Containers live in machine-global places (cgroup trees /kubepods, /docker,
 * /k8s.io at the root of every hierarchy; /run/containerd; /run/docker), so
 * only one such environment may exist at a time: `startContainerRuntimes`
 * takes an exclusive flock on CONTAINERS_LOCK_FILE and holds it until
 * `stop()`. A run that died without `stop()` is cleaned up by the next start
 * (old daemons stopped by pid file, their containers removed through the
 * restarted daemons, which re-attach to the old shims).
 */

export const CONTAINERS_LOCK_FILE = '/tmp/peregrine-containers.lock';
/** Sockets, containerd state, dockerd exec-root, pid files (wiped by stop()). */
export const CONTAINERS_RUN_DIR = '/run/peregrine-containers';
/** containerd root, dockerd data-root, configs, logs (kept: imported images make the next start quick). */
export const CONTAINERS_DATA_DIR = '/var/tmp/peregrine-containers';
const BRIDGE = 'pgtest0';
const SUBNET = '10.88.77.0/24';
const RUNC_WRAPPER = fileURLToPath(new URL('./runc-wrapper.py', import.meta.url));
const CGROUP_TREES = ['kubepods', 'docker', 'k8s.io'];

export interface ContainerRuntimesOptions {
  /** Start dockerd too (on this containerd). @defaultValue true */
  readonly docker?: boolean;
  /** How long to wait for another suite's environment to go away. @defaultValue 600000 */
  readonly lockTimeoutMs?: number;
  /**
   * Runs once the lock is held, before the stale clean-up of an earlier run: lets a layer on
   * top (the Kubernetes node of kube-cluster.ts) stop what its own dead run left, e.g. a kubelet
   * that would recreate pods on the restarted containerd.
   */
  readonly onLocked?: () => Promise<void> | void;
}

export interface PodSpec {
  readonly name: string;
  readonly namespace: string;
  /** @defaultValue a random UUID */
  readonly uid?: string;
  readonly labels?: Record<string, string>;
  /** Privileged sandbox and container. @defaultValue false */
  readonly privileged?: boolean;
  /** Share the node's network namespace (no CNI). @defaultValue false: a pod network on our own bridge */
  readonly hostNetwork?: boolean;
  readonly container: {
    readonly name: string;
    readonly labels?: Record<string, string>;
    /** @defaultValue ['sleep', '3600'] */
    readonly command?: readonly string[];
  };
}

export interface RunningPod {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly sandboxId: string;
  /** Full 64-hex container id. */
  readonly containerId: string;
  readonly containerName: string;
  /** Host pid of the container's first process. */
  readonly pid: number;
}

export interface DockerContainerSpec {
  readonly name: string;
  readonly privileged?: boolean;
  readonly labels?: Record<string, string>;
  /** @defaultValue ['sleep', '3600'] */
  readonly command?: readonly string[];
}

export interface RunningDockerContainer {
  readonly name: string;
  /** Full 64-hex container id. */
  readonly id: string;
  readonly pid: number;
}

export interface ContainerRuntimes {
  readonly containerdSocket: string;
  /** Empty when started with `docker: false`. */
  readonly dockerSocket: string;
  readonly cri: CriTestClient;
  readonly docker: DockerTestClient | undefined;
  /** The image references the environment imported. */
  readonly images: { readonly busybox: string; readonly pause: string };
  /** Where the start-up time went, in ms (lock wait, image builds, daemons, imports, stale clean-up). */
  readonly startup: Readonly<Record<string, number>>;
  runPod(spec: PodSpec): Promise<RunningPod>;
  runDockerContainer(spec: DockerContainerSpec): Promise<RunningDockerContainer>;
  /** Removes every pod and container, stops the daemons, removes cgroup trees, mounts, the bridge, /run/containerd, /run/docker; releases the lock. */
  stop(): Promise<void>;
}

export async function startContainerRuntimes(options: ContainerRuntimesOptions = {}): Promise<ContainerRuntimes> {
  const withDocker = options.docker !== false;
  const startup: Record<string, number> = {};
  let t = Date.now();
  const lap = (name: string) => {
    const now = Date.now();
    startup[name] = now - t;
    t = now;
  };
  const begin = t;
  const lock = await acquireLock(CONTAINERS_LOCK_FILE, options.lockTimeoutMs ?? 600_000);
  lap('lock');
  const paths = layout();
  let containerd: ChildProcess | undefined;
  let dockerd: ChildProcess | undefined;
  let cri: CriTestClient | undefined;
  let docker: DockerTestClient | undefined;
  try {
    await options.onLocked?.();
    lap('onLocked');
    await stopByPidFile(paths.dockerdPid);
    await stopByPidFile(paths.containerdPid);
    lap('staleDaemons');
    const pause = buildPauseImage();
    const busybox = buildBusyboxImage();
    lap('images');
    for (const dir of [paths.run, paths.data, paths.cniConf, paths.logs]) mkdirSync(dir, { recursive: true });
    writeContainerdConfig(paths);
    containerd = launch('containerd', ['--config', paths.containerdConfig], join(paths.logs, 'containerd.log'), paths.containerdPid);
    cri = new CriTestClient(paths.containerdSocket);
    await waitFor('containerd', containerd, paths.logs, 'containerd.log', 30_000, async () => {
      await cri!.call('Version', { version: 'v1' }, 2_000);
    });
    lap('containerd');
    importIntoContainerd(paths.containerdSocket, [pause.reference, busybox.reference], [pause.archive, busybox.archive]);
    lap('criImport');
    if (withDocker) {
      writeFileSync(paths.dockerConfig, '{}\n');
      dockerd = launch(
        'dockerd',
        [
          '--config-file', paths.dockerConfig,
          '--iptables=false', '--ip6tables=false', '--bridge=none', '--ip-masq=false',
          '--data-root', paths.dockerData, '--exec-root', paths.dockerExec, '--pidfile', paths.dockerdPid,
          '-H', `unix://${paths.dockerSocket}`, '--containerd', paths.containerdSocket,
          '--add-runtime', `peregrine-runc=${RUNC_WRAPPER}`, '--default-runtime', 'peregrine-runc',
          '--log-level', 'warn',
        ],
        join(paths.logs, 'dockerd.log'),
        undefined,
      );
      docker = new DockerTestClient(paths.dockerSocket);
      await waitFor('dockerd', dockerd, paths.logs, 'dockerd.log', 60_000, async () => {
        const ping = await docker!.call('GET', '/_ping', undefined, 2_000);
        if (ping.status !== 200) throw new Error(`ping ${ping.status}`);
      });
      lap('dockerd');
      const present = await docker.call('GET', `/images/${encodeURIComponent(busybox.reference)}/json`);
      if (present.status !== 200) await docker.loadImage(busybox.archive);
      lap('dockerLoad');
    }
    await removeEverything(cri, docker);
    lap('staleContainers');
    startup.total = Date.now() - begin;
  } catch (error) {
    const stopErrors = await teardown(paths, cri, docker, containerd, dockerd);
    lock.release();
    throw new Error(`cannot start the container runtimes: ${(error as Error).message}${stopErrors.length ? `\n(clean-up also failed: ${stopErrors.join('; ')})` : ''}`);
  }
  const criClient = cri;
  const dockerClient = docker;
  let stopped = false;
  return {
    containerdSocket: paths.containerdSocket,
    dockerSocket: withDocker ? paths.dockerSocket : '',
    cri: criClient,
    docker: dockerClient,
    images: { busybox: BUSYBOX_IMAGE, pause: PAUSE_IMAGE },
    startup,
    runPod: (spec) => runPod(criClient, paths, spec),
    runDockerContainer: (spec) => {
      if (!dockerClient) throw new Error('runDockerContainer: the environment was started with docker: false');
      return runDockerContainer(dockerClient, spec);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const errors = await teardown(paths, criClient, dockerClient, containerd, dockerd);
      lock.release();
      if (errors.length > 0) throw new Error(`container environment clean-up was incomplete:\n- ${errors.join('\n- ')}`);
    },
  };
}

interface Paths {
  run: string;
  data: string;
  logs: string;
  containerdConfig: string;
  containerdSocket: string;
  containerdPid: string;
  cniConf: string;
  dockerConfig: string;
  dockerSocket: string;
  dockerdPid: string;
  dockerData: string;
  dockerExec: string;
}

function layout(): Paths {
  const run = CONTAINERS_RUN_DIR;
  const data = CONTAINERS_DATA_DIR;
  return {
    run,
    data,
    logs: join(data, 'logs'),
    containerdConfig: join(data, 'containerd.toml'),
    containerdSocket: join(run, 'containerd.sock'),
    containerdPid: join(run, 'containerd.pid'),
    cniConf: join(data, 'cni'),
    dockerConfig: join(data, 'daemon.json'),
    dockerSocket: join(run, 'docker.sock'),
    dockerdPid: join(run, 'dockerd.pid'),
    dockerData: join(data, 'docker'),
    dockerExec: join(run, 'docker-exec'),
  };
}

/** containerd's own default config with our root/state/socket, sandbox image, the OOM quirk and CNI folders. */
function writeContainerdConfig(paths: Paths): void {
  let config = execFileSync('containerd', ['config', 'default'], { encoding: 'utf8' });
  const replace = (pattern: RegExp, value: string, what: string) => {
    if (!pattern.test(config)) throw new Error(`containerd config default has no ${what} line (containerd version changed?)`);
    config = config.replace(pattern, value);
  };
  replace(/^root = .*$/m, `root = "${join(paths.data, 'containerd')}"`, 'root');
  replace(/^state = .*$/m, `state = "${join(paths.run, 'containerd-state')}"`, 'state');
  replace(/^(\[grpc\]\n(?:.*\n)*?\s*)address = .*$/m, `$1address = "${paths.containerdSocket}"`, '[grpc] address');
  replace(/restrict_oom_score_adj = false/, 'restrict_oom_score_adj = true', 'restrict_oom_score_adj');
  replace(/sandbox_image = .*/, `sandbox_image = "${PAUSE_IMAGE}"`, 'sandbox_image');
  replace(/bin_dir = "\/opt\/cni\/bin"/, 'bin_dir = "/usr/lib/cni"', 'CNI bin_dir');
  replace(/conf_dir = "\/etc\/cni\/net.d"/, `conf_dir = "${paths.cniConf}"`, 'CNI conf_dir');
  writeFileSync(paths.containerdConfig, config);
  const conflist = {
    cniVersion: '0.4.0',
    name: 'peregrine-test',
    plugins: [
      {
        type: 'bridge',
        bridge: BRIDGE,
        isGateway: true,
        ipMasq: false,
        // Without a route pods have none at all (kube-proxy'd ClusterIPs need one).
        ipam: { type: 'host-local', ranges: [[{ subnet: SUBNET }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: join(paths.data, 'cni-ipam') },
      },
    ],
  };
  writeFileSync(join(paths.cniConf, '10-peregrine-test.conflist'), JSON.stringify(conflist, null, 2));
}

function importIntoContainerd(socket: string, references: string[], archives: string[]): void {
  const listed = new Set(execFileSync('ctr', ['--address', socket, '-n', 'k8s.io', 'images', 'ls', '-q'], { encoding: 'utf8' }).split('\n'));
  references.forEach((reference, i) => {
    if (listed.has(reference)) return;
    execFileSync('ctr', ['--address', socket, '-n', 'k8s.io', 'images', 'import', archives[i]!], { stdio: ['ignore', 'pipe', 'pipe'] });
  });
  const after = new Set(execFileSync('ctr', ['--address', socket, '-n', 'k8s.io', 'images', 'ls', '-q'], { encoding: 'utf8' }).split('\n'));
  for (const reference of references) if (!after.has(reference)) throw new Error(`ctr images import did not register ${reference} (have: ${[...after].join(', ')})`);
}

async function runPod(cri: CriTestClient, paths: Paths, spec: PodSpec): Promise<RunningPod> {
  const uid = spec.uid ?? randomUUID();
  const privileged = spec.privileged === true;
  // NamespaceMode: POD = 0, CONTAINER = 1, NODE = 2.
  const namespaceOptions = { network: spec.hostNetwork ? 2 : 0, pid: 1, ipc: 0 };
  const logDirectory = join(paths.data, 'pod-logs', uid);
  mkdirSync(logDirectory, { recursive: true });
  const sandboxConfig = {
    metadata: { name: spec.name, uid, namespace: spec.namespace, attempt: 0 },
    ...(spec.hostNetwork ? {} : { hostname: spec.name }),
    log_directory: logDirectory,
    labels: spec.labels ?? {},
    annotations: {},
    linux: { cgroup_parent: `/kubepods/besteffort/pod${uid}`, security_context: { namespace_options: namespaceOptions, privileged } },
  };
  const { pod_sandbox_id: sandboxId } = await cri.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: sandboxConfig });
  const { container_id: containerId } = await cri.call<{ container_id: string }>('CreateContainer', {
    pod_sandbox_id: sandboxId,
    config: {
      metadata: { name: spec.container.name, attempt: 0 },
      image: { image: BUSYBOX_IMAGE },
      command: [...(spec.container.command ?? ['sleep', '3600'])],
      labels: spec.container.labels ?? {},
      log_path: `${spec.container.name}.log`,
      linux: { security_context: { privileged, namespace_options: namespaceOptions } },
    },
    sandbox_config: sandboxConfig,
  });
  await cri.call('StartContainer', { container_id: containerId });
  const status = await cri.call<{ info: Record<string, string> }>('ContainerStatus', { container_id: containerId, verbose: true });
  const pid = Number((JSON.parse(status.info.info ?? '{}') as { pid?: number }).pid ?? 0);
  if (!(pid > 0)) throw new Error(`CRI container ${containerId} has no pid in its verbose status`);
  return { name: spec.name, namespace: spec.namespace, uid, sandboxId, containerId, containerName: spec.container.name, pid };
}

async function runDockerContainer(docker: DockerTestClient, spec: DockerContainerSpec): Promise<RunningDockerContainer> {
  const created = (await docker.ok('POST', `/containers/create?name=${encodeURIComponent(spec.name)}`, {
    Image: BUSYBOX_IMAGE,
    Cmd: [...(spec.command ?? ['sleep', '3600'])],
    Labels: spec.labels ?? {},
    HostConfig: { Privileged: spec.privileged === true, NetworkMode: 'none' },
  })) as { Id: string };
  await docker.ok('POST', `/containers/${created.Id}/start`);
  const inspected = (await docker.ok('GET', `/containers/${created.Id}/json`)) as { State: { Pid: number } };
  return { name: spec.name, id: created.Id, pid: inspected.State.Pid };
}

/** Removes every pod/container the daemons know (everything in them is ours: private roots). */
async function removeEverything(cri: CriTestClient | undefined, docker: DockerTestClient | undefined): Promise<string[]> {
  const errors: string[] = [];
  if (docker) {
    try {
      const list = (await docker.ok('GET', '/containers/json?all=1')) as Array<{ Id: string }>;
      for (const c of list) {
        const answer = await docker.call('DELETE', `/containers/${c.Id}?force=1&v=1`);
        if (answer.status >= 300 && answer.status !== 404) errors.push(`docker rm ${c.Id}: ${answer.status} ${JSON.stringify(answer.body)}`);
      }
    } catch (error) {
      errors.push(`docker containers: ${(error as Error).message}`);
    }
  }
  if (cri) {
    try {
      const { containers } = await cri.call<{ containers: Array<{ id: string }> }>('ListContainers', {});
      for (const c of containers) {
        await cri.call('StopContainer', { container_id: c.id, timeout: 0 }).catch((e: Error) => errors.push(e.message));
        await cri.call('RemoveContainer', { container_id: c.id }).catch((e: Error) => errors.push(e.message));
      }
      const { items } = await cri.call<{ items: Array<{ id: string }> }>('ListPodSandbox', {});
      for (const pod of items) {
        await cri.call('StopPodSandbox', { pod_sandbox_id: pod.id }).catch((e: Error) => errors.push(e.message));
        await cri.call('RemovePodSandbox', { pod_sandbox_id: pod.id }).catch((e: Error) => errors.push(e.message));
      }
    } catch (error) {
      errors.push(`CRI pods: ${(error as Error).message}`);
    }
  }
  return errors;
}

/** Every clean-up step runs even when an earlier one fails; the failures are returned. */
async function teardown(
  paths: Paths,
  cri: CriTestClient | undefined,
  docker: DockerTestClient | undefined,
  containerd: ChildProcess | undefined,
  dockerd: ChildProcess | undefined,
): Promise<string[]> {
  const errors = await removeEverything(cri, docker);
  cri?.close();
  await stopChild(dockerd).catch((e: Error) => errors.push(`dockerd: ${e.message}`));
  await stopByPidFile(paths.dockerdPid).catch((e: Error) => errors.push(`dockerd: ${e.message}`));
  await stopChild(containerd).catch((e: Error) => errors.push(`containerd: ${e.message}`));
  await stopByPidFile(paths.containerdPid).catch((e: Error) => errors.push(`containerd: ${e.message}`));
  errors.push(...unmountUnder([paths.run, paths.data, '/run/docker', '/run/containerd']));
  errors.push(...removeCgroupTrees());
  try {
    if (existsSync(`/sys/class/net/${BRIDGE}`)) execFileSync('ip', ['link', 'del', BRIDGE], { stdio: 'pipe' });
  } catch (error) {
    errors.push(`ip link del ${BRIDGE}: ${(error as Error).message}`);
  }
  for (const dir of [paths.run, '/run/containerd', '/run/docker', join(paths.data, 'cni-ipam'), join(paths.data, 'pod-logs')]) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch (error) {
      errors.push(`rm -rf ${dir}: ${(error as Error).message}`);
    }
  }
  return errors;
}

/** Unmounts every mount point under the given folders, deepest first (netns bind mounts, overlay rootfs). */
export function unmountUnder(roots: string[]): string[] {
  const errors: string[] = [];
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => roots.some((root) => p === root || p.startsWith(`${root}/`)))
    .sort((a, b) => b.length - a.length);
  for (const point of new Set(points)) {
    try {
      execFileSync('umount', ['-l', point], { stdio: 'pipe' });
    } catch (error) {
      errors.push(`umount ${point}: ${(error as Error).message}`);
    }
  }
  return errors;
}

/** rmdir the container cgroup trees in every hierarchy, children first; a tree that still holds processes is reported. */
function removeCgroupTrees(): string[] {
  const errors: string[] = [];
  const base = '/sys/fs/cgroup';
  const hierarchies = existsSync(join(base, 'cgroup.procs')) ? [base] : readdirSync(base).map((h) => join(base, h));
  for (const hierarchy of hierarchies) {
    for (const tree of CGROUP_TREES) {
      const top = join(hierarchy, tree);
      if (!existsSync(top)) continue;
      const remove = (dir: string) => {
        for (const entry of readdirSync(dir)) {
          const child = join(dir, entry);
          if (statSync(child).isDirectory()) remove(child);
        }
        try {
          rmdirSync(dir);
        } catch (error) {
          const procs = existsSync(join(dir, 'cgroup.procs')) ? readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim().split('\n').filter(Boolean) : [];
          errors.push(`rmdir ${dir}: ${(error as NodeJS.ErrnoException).code}${procs.length ? ` (processes still in it: ${procs.join(' ')})` : ''}`);
        }
      };
      remove(top);
    }
  }
  return errors;
}

function launch(command: string, args: string[], logFile: string, pidFile: string | undefined): ChildProcess {
  const fd = openSync(logFile, 'w');
  const child = spawn(command, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  if (pidFile && child.pid) writeFileSync(pidFile, `${child.pid}\n`);
  return child;
}

async function waitFor(name: string, child: ChildProcess, logs: string, logName: string, timeoutMs: number, probe: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}):\n${tail(join(logs, logName))}`);
    try {
      await probe();
      return;
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${name} did not answer in ${timeoutMs} ms (${lastError}):\n${tail(join(logs, logName))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '(no log)';
  }
}

function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Stops a daemon left by an earlier run, by the pid in its pid file (if that pid is still that daemon). */
async function stopByPidFile(pidFile: string): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  rmSync(pidFile, { force: true });
  if (!(pid > 0) || !alive(pid)) return;
  const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  if (comm !== 'containerd' && comm !== 'dockerd') return; // the pid was reused by something else
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 15_000;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return existsSync(`/proc/${pid}/comm`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

/**
 * An exclusive flock held by a child (`flock FILE cat`): released when we
 * close its stdin, or by the kernel if this process dies.
 */
export async function acquireLock(file: string, timeoutMs: number): Promise<{ release(): void }> {
  const child = spawn('flock', ['-x', '-w', String(Math.ceil(timeoutMs / 1000)), file, 'sh', '-c', 'echo locked; exec cat'], { stdio: ['pipe', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('locked')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`could not lock ${file} within ${timeoutMs} ms (flock exit ${code}): another container environment is running`)));
    child.once('error', (e) => reject(new Error(`cannot run flock (util-linux): ${e.message}`)));
  });
  child.stdout.resume();
  // The lock must not keep the test process alive on its own.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
  return {
    release() {
      child.stdin.end();
    },
  };
}
