// A real Kubernetes cluster for the tests, on this machine only (see
// ../shared/reference/kubernetes-here.md):
// - `startTestKubeApi()`: etcd + kube-apiserver on 127.0.0.1 with RBAC, static tokens and
//   service-account token signing (TokenRequest). Nothing machine-global: several may run at once.
// - `startTestKubeNode()`: the same plus a real single node: kubelet on the testkit's containerd
//   (CRI), kube-scheduler and kube-controller-manager. Pods really run; deleting one kills its
//   processes. Holds the containers lock (one container environment per machine) until `stop()`.
//
// Whatever a run leaves behind when it is SIGKILLed (processes, mounts, cgroups, iptables chains,
// changed sysctls, the node's link) is recorded in an instance file under KUBE_RUN_DIR and cleaned
// up by the next start.
import { execFile, execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { startContainerRuntimes, unmountUnder } from './containers/runtimes.ts';
import type { ContainerRuntimes } from './containers/runtimes.ts';
import { prepareKubeBinaries } from './kube-binaries.ts';
import type { KubeBinaries } from './kube-binaries.ts';
import { freeLoopbackPort } from './redis.ts';
import { residentBytes, serverLogFile, sleep, spawnServer, waitForReady } from './server-process.ts';
import type { ServerProcess } from './server-process.ts';

/** Instance folders (certificates, tokens, kubeconfigs, etcd data) and instance files. */
export const KUBE_RUN_DIR = '/run/peregrine-kube';
/** The kubelet's --root-dir (pod volumes are mounted below it). */
export const KUBELET_ROOT_DIR = '/var/lib/peregrine-kubelet';
/** The kubelet's podLogsDir (its default would be /var/log/pods). */
export const KUBE_POD_LOGS_DIR = '/var/log/peregrine-pods';
/** The node's name and its address on a link the node start creates (kubelet refuses loopback). */
export const KUBE_NODE_NAME = 'peregrine-node';
export const KUBE_NODE_IP = '10.88.76.1';
const NODE_LINK = 'pgkube0';
const SERVICE_CIDR = '10.96.0.0/16';
const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const INSTANCES_DIR = join(KUBE_RUN_DIR, 'instances');
/** Host sysctls the kubelet sets at start (saved before, restored at teardown). */
const KUBELET_SYSCTLS = ['vm.overcommit_memory', 'vm.panic_on_oom', 'kernel.panic', 'kernel.panic_on_oops', 'kernel.keys.root_maxkeys', 'kernel.keys.root_maxbytes'];
/** Places the kubelet uses whatever its flags say. */
const KUBELET_FIXED_DIRS = ['/var/lib/kubelet', '/var/log/containers', '/var/log/pods'];

export interface StaticTokenUser {
  readonly name: string;
  /** @defaultValue [] (a user with no groups: only what RBAC grants it by name) */
  readonly groups?: readonly string[];
}

export interface TestKubeApiOptions {
  /** More users with static tokens (their tokens are in `staticTokens`). */
  readonly staticUsers?: readonly StaticTokenUser[];
  /** @defaultValue 90000 */
  readonly readyTimeoutMs?: number;
}

export interface TestKubeNodeOptions extends TestKubeApiOptions {
  /** How long to wait for another container environment to go away. @defaultValue 600000 */
  readonly lockTimeoutMs?: number;
}

export interface KubeProcessInfo {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
}

export interface TestKube {
  readonly mode: 'api' | 'node';
  /** `https://127.0.0.1:<port>` */
  readonly server: string;
  /** The API server's self-signed serving certificate (with its CA): what clients trust. */
  readonly caFile: string;
  /** A `system:masters` token and a kubeconfig file using it. */
  readonly adminToken: string;
  readonly adminKubeconfig: string;
  /** name -> token for `options.staticUsers`. */
  readonly staticTokens: Readonly<Record<string, string>>;
  /** The instance folder (removed by stop()). */
  readonly dir: string;
  readonly binaries: KubeBinaries;
  readonly processes: readonly KubeProcessInfo[];
  /** Where the start-up time went, in ms. */
  readonly startup: Readonly<Record<string, number>>;
  /** A client-node KubeConfig for a bearer token (default: the admin's). */
  kubeConfig(token?: string): KubeConfig;
  /** Writes a kubeconfig file for a bearer token; returns its path. */
  writeKubeconfig(path: string, token: string): string;
  /** Mints a token for a ServiceAccount through TokenRequest. @defaultValue expirationSeconds 3600 */
  serviceAccountToken(namespace: string, serviceAccount: string, options?: { readonly expirationSeconds?: number; readonly audiences?: readonly string[] }): Promise<string>;
  /**
   * Creates a namespace and makes sure its `default` ServiceAccount exists (the pod admission
   * needs it): created here in API-only mode, awaited from the controller-manager on a node.
   */
  createNamespace(name: string, labels?: Readonly<Record<string, string>>): Promise<void>;
  /** Runs the built kubectl (admin unless `token`); resolves with stdout, rejects with stderr. */
  kubectl(args: readonly string[], options?: { readonly token?: string; readonly input?: string }): Promise<string>;
  /** Resident memory of each process, in bytes. */
  residentBytes(): Record<string, number>;
  /** Stops everything and removes what the start created; idempotent. */
  stop(): Promise<void>;
}

export interface TestKubeNode extends TestKube {
  readonly mode: 'node';
  readonly nodeName: string;
  readonly nodeIp: string;
  /** The containerd under the kubelet (its `cri` client sees the pods' containers). */
  readonly runtimes: ContainerRuntimes;
  /** Local images in containerd's k8s.io namespace; use with `imagePullPolicy: Never`. */
  readonly images: { readonly busybox: string; readonly pause: string };
  /**
   * The kubelet's sysctls as they were before this node started, read under the
   * containers lock (so no other test node had changed them): what stop() restores.
   */
  readonly hostSysctlsBefore: Readonly<Record<string, string>>;
}

/** What a running instance recorded, so that a later start can clean up after a SIGKILL. */
interface InstanceRecord {
  ownerPid: number;
  ownerStartTime: string;
  dir: string;
  processes: Array<{ name: string; pid: number; exe: string }>;
  node?: { sysctls: Record<string, string>; createdDirs: string[] };
}

/** etcd + kube-apiserver on loopback. */
export async function startTestKubeApi(options: TestKubeApiOptions = {}): Promise<TestKube> {
  const started = Date.now();
  const startup: Record<string, number> = {};
  const binaries = await prepareKubeBinaries();
  startup.binaries = Date.now() - started;
  await reapDeadInstances({ node: false });
  const instance = await startControlPlane(binaries, 'api', options, startup);
  startup.total = Date.now() - started;
  return instance.api;
}

/** A one-node cluster: control plane + kubelet on the testkit's containerd + scheduler + controller-manager. */
export async function startTestKubeNode(options: TestKubeNodeOptions = {}): Promise<TestKubeNode> {
  const started = Date.now();
  const startup: Record<string, number> = {};
  const binaries = await prepareKubeBinaries();
  startup.binaries = Date.now() - started;
  await reapDeadInstances({ node: false });
  // The lock covers everything machine-global; the hook runs under it before containerd's own
  // stale clean-up, so a kubelet left running cannot recreate pods on the new containerd.
  const runtimes = await startContainerRuntimes({
    docker: false,
    lockTimeoutMs: options.lockTimeoutMs,
    onLocked: () => reapDeadInstances({ node: true }),
  });
  startup.containerd = Date.now() - started - startup.binaries;
  let instance: ControlPlane | undefined;
  const nodeProcesses: ServerProcess[] = [];
  // Read under the containers lock, after the dead runs' clean-up: the host's own values.
  const sysctls = readSysctls();
  try {
    const createdDirs = KUBELET_FIXED_DIRS.filter((dir) => !existsSync(dir));
    instance = await startControlPlane(binaries, 'node', options, startup, { sysctls, createdDirs });
    const cp = instance;
    const t = Date.now();
    createNodeLink();
    for (const dir of [KUBELET_ROOT_DIR, KUBE_POD_LOGS_DIR]) mkdirSync(dir, { recursive: true });
    const resolvConf = join(cp.dir, 'resolv.conf');
    writeFileSync(resolvConf, '# no cluster DNS in the test cluster\n');
    const kubeletConfig = join(cp.dir, 'kubelet.yaml');
    const kubeletPort = await freeLoopbackPort();
    writeFileSync(kubeletConfig, kubeletConfiguration(runtimes.containerdSocket, resolvConf, kubeletPort));
    const launch = (name: string, binary: string, args: string[]) => {
      const server = spawnServer(binary, { args, logFile: serverLogFile(`kube-${cp.id}-${name}`) });
      nodeProcesses.push(server);
      cp.track(name, server, binary);
      return server;
    };
    launch('kube-controller-manager', binaries.kubeControllerManager, [
      `--kubeconfig=${cp.kubeconfigs.controllerManager}`,
      `--service-account-private-key-file=${cp.saKey}`,
      `--root-ca-file=${cp.caFile}`,
      '--use-service-account-credentials=true',
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      '--secure-port=0',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--v=1',
    ]);
    launch('kube-scheduler', binaries.kubeScheduler, [
      `--kubeconfig=${cp.kubeconfigs.scheduler}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      '--secure-port=0',
      '--v=1',
    ]);
    const kubelet = launch('kubelet', binaries.kubelet, [
      `--config=${kubeletConfig}`,
      `--kubeconfig=${cp.kubeconfigs.kubelet}`,
      `--root-dir=${KUBELET_ROOT_DIR}`,
      `--cert-dir=${join(KUBELET_ROOT_DIR, 'pki')}`,
      `--hostname-override=${KUBE_NODE_NAME}`,
      `--node-ip=${KUBE_NODE_IP}`,
      '--v=1',
    ]);
    const core = cp.api.kubeConfig().makeApiClient(CoreV1Api);
    await waitForReady(kubelet, `node ${KUBE_NODE_NAME} Ready`, options.readyTimeoutMs ?? 90_000, async () => {
      for (const server of nodeProcesses) {
        const exit = server.exited();
        if (exit !== undefined) throw new Error(`${server.logFile} exited (${exit})`);
      }
      const node = await core.readNode({ name: KUBE_NODE_NAME });
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
    });
    startup.nodeReady = Date.now() - t;
    startup.total = Date.now() - started;
  } catch (error) {
    const errors = await stopNode(instance, nodeProcesses, runtimes);
    throw new Error(`cannot start the Kubernetes test node: ${(error as Error).message}${errors.length ? `\n(clean-up also failed: ${errors.join('; ')})` : ''}`);
  }
  const cp = instance;
  let stopped = false;
  return {
    ...cp.api,
    mode: 'node',
    nodeName: KUBE_NODE_NAME,
    nodeIp: KUBE_NODE_IP,
    runtimes,
    images: runtimes.images,
    hostSysctlsBefore: sysctls,
    async stop() {
      if (stopped) return;
      stopped = true;
      const errors = await stopNode(cp, nodeProcesses, runtimes);
      if (errors.length > 0) throw new Error(`Kubernetes test node clean-up was incomplete:\n- ${errors.join('\n- ')}`);
    },
  };
}

/** Node teardown in the reference's order: kubelet and controllers, pods, control plane, host state, containerd. */
async function stopNode(cp: ControlPlane | undefined, nodeProcesses: ServerProcess[], runtimes: ContainerRuntimes): Promise<string[]> {
  const errors: string[] = [];
  for (const server of [...nodeProcesses].reverse()) await server.stop(10_000).catch((e: Error) => errors.push(`${server.logFile}: ${e.message}`));
  errors.push(...(await removeCriPods(runtimes)));
  if (cp) errors.push(...(await cp.stopProcesses()));
  errors.push(...cleanNodeHost(cp?.record.node));
  await runtimes.stop().catch((e: Error) => errors.push(e.message));
  if (cp) cp.removeFiles();
  return errors;
}

async function removeCriPods(runtimes: ContainerRuntimes): Promise<string[]> {
  const errors: string[] = [];
  try {
    const { items } = await runtimes.cri.call<{ items: Array<{ id: string }> }>('ListPodSandbox', {});
    for (const pod of items) {
      await runtimes.cri.call('StopPodSandbox', { pod_sandbox_id: pod.id }).catch((e: Error) => errors.push(e.message));
      await runtimes.cri.call('RemovePodSandbox', { pod_sandbox_id: pod.id }).catch((e: Error) => errors.push(e.message));
    }
  } catch (error) {
    errors.push(`CRI pods: ${(error as Error).message}`);
  }
  return errors;
}

interface ControlPlane {
  readonly id: string;
  readonly dir: string;
  readonly caFile: string;
  readonly saKey: string;
  readonly kubeconfigs: { readonly controllerManager: string; readonly scheduler: string; readonly kubelet: string };
  readonly record: InstanceRecord;
  readonly api: TestKube;
  track(name: string, server: ServerProcess, binary: string): void;
  stopProcesses(): Promise<string[]>;
  removeFiles(): void;
}

let instanceCounter = 0;

async function startControlPlane(
  binaries: KubeBinaries,
  mode: 'api' | 'node',
  options: TestKubeApiOptions,
  startup: Record<string, number>,
  node?: InstanceRecord['node'],
): Promise<ControlPlane> {
  let t = Date.now();
  const id = `${process.pid}-${++instanceCounter}`;
  const dir = join(KUBE_RUN_DIR, id);
  const pki = join(dir, 'pki');
  mkdirSync(pki, { recursive: true });
  mkdirSync(INSTANCES_DIR, { recursive: true });
  const record: InstanceRecord = { ownerPid: process.pid, ownerStartTime: processStartTime(process.pid) ?? '', dir, processes: [], ...(node ? { node } : {}) };
  const recordFile = join(INSTANCES_DIR, `${id}.json`);
  const saveRecord = () => writeFileSync(recordFile, JSON.stringify(record, null, 2));
  saveRecord();
  const servers: Array<{ name: string; server: ServerProcess }> = [];
  const track = (name: string, server: ServerProcess, binary: string) => {
    servers.push({ name, server });
    record.processes.push({ name, pid: server.pid, exe: binary });
    saveRecord();
  };
  const stopProcesses = async (): Promise<string[]> => {
    const errors: string[] = [];
    // API server before etcd; whatever is left in reverse start order.
    for (const { name, server } of [...servers].reverse()) await server.stop(10_000).catch((e: Error) => errors.push(`${name}: ${e.message}`));
    return errors;
  };
  const removeFiles = () => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(recordFile, { force: true });
  };
  try {
    // Credentials: static tokens per identity, an RSA pair for service-account tokens.
    const token = () => randomBytes(24).toString('hex');
    const adminToken = token();
    const identities = {
      controllerManager: { user: 'system:kube-controller-manager', token: token(), groups: [] as string[] },
      scheduler: { user: 'system:kube-scheduler', token: token(), groups: [] as string[] },
      kubelet: { user: `system:node:${KUBE_NODE_NAME}`, token: token(), groups: ['system:nodes'] },
    };
    const staticTokens: Record<string, string> = {};
    const tokenLines = [`${adminToken},admin,uid-admin,"system:masters"`];
    for (const [key, identity] of Object.entries(identities)) tokenLines.push(`${identity.token},${identity.user},uid-${key}${identity.groups.length ? `,"${identity.groups.join(',')}"` : ''}`);
    for (const user of options.staticUsers ?? []) {
      if (!/^[A-Za-z0-9:._@-]+$/.test(user.name)) throw new Error(`staticUsers: user name ${JSON.stringify(user.name)} must be letters, digits and :._@- only (it goes into a CSV file)`);
      staticTokens[user.name] = token();
      const groups = user.groups ?? [];
      tokenLines.push(`${staticTokens[user.name]},${user.name},uid-${user.name}${groups.length ? `,"${groups.join(',')}"` : ''}`);
    }
    const tokensFile = join(dir, 'tokens.csv');
    writeFileSync(tokensFile, `${tokenLines.join('\n')}\n`, { mode: 0o600 });
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const saKey = join(dir, 'sa.key');
    const saPub = join(dir, 'sa.pub');
    writeFileSync(saKey, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
    writeFileSync(saPub, publicKey.export({ type: 'spki', format: 'pem' }));
    startup.credentials = Date.now() - t;
    t = Date.now();

    const etcdClientPort = await freeLoopbackPort();
    const etcdPeerPort = await freeLoopbackPort();
    const etcdMetricsPort = await freeLoopbackPort();
    const etcd = spawnServer(binaries.etcd, {
      args: [
        '--name=peregrine-test',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${etcdClientPort}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdClientPort}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-cluster=peregrine-test=http://127.0.0.1:${etcdPeerPort}`,
        `--listen-metrics-urls=http://127.0.0.1:${etcdMetricsPort}`,
        // Test data: durability across power loss buys nothing and fsync is slow on a busy disk.
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      logFile: serverLogFile(`kube-${id}-etcd`),
    });
    track('etcd', etcd, binaries.etcd);
    await waitForReady(etcd, 'etcd', options.readyTimeoutMs ?? 90_000, async () => {
      const answer = await fetch(`http://127.0.0.1:${etcdClientPort}/health`);
      const body = (await answer.json()) as { health?: string };
      return body.health === 'true' ? true : undefined;
    });
    startup.etcd = Date.now() - t;
    t = Date.now();

    const port = await freeLoopbackPort();
    const certDir = pki;
    const apiserver = spawnServer(binaries.kubeApiserver, {
      args: [
        `--etcd-servers=http://127.0.0.1:${etcdClientPort}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${port}`,
        `--cert-dir=${certDir}`,
        `--token-auth-file=${tokensFile}`,
        `--authorization-mode=${mode === 'node' ? 'Node,RBAC' : 'RBAC'}`,
        `--service-account-issuer=${ISSUER}`,
        `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saKey}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        '--allow-privileged=true',
        // Without it, exec/logs resolve the node name through DNS, which does not know it.
        '--kubelet-preferred-address-types=InternalIP,Hostname',
        // The `kubernetes` Service cannot point at a loopback address (the endpoint reconciler
        // would log a refusal every 10 s); nothing here routes to it without kube-proxy.
        '--endpoint-reconciler-type=none',
        '--profiling=false',
        '--v=1',
      ],
      logFile: serverLogFile(`kube-${id}-apiserver`),
    });
    track('kube-apiserver', apiserver, binaries.kubeApiserver);
    const caFile = join(certDir, 'apiserver.crt');
    const server = `https://127.0.0.1:${port}`;
    await waitForReady(apiserver, `kube-apiserver on ${server}`, options.readyTimeoutMs ?? 90_000, async () => {
      if (!existsSync(caFile)) return undefined;
      const status = await httpsGet(`${server}/readyz`, caFile, adminToken);
      return status === 200 ? true : undefined;
    });
    startup.apiserver = Date.now() - t;

    const kubeconfigText = (userToken: string) => kubeconfigYaml(server, caFile, userToken);
    const adminKubeconfig = join(dir, 'admin.kubeconfig');
    writeFileSync(adminKubeconfig, kubeconfigText(adminToken), { mode: 0o600 });
    const kubeconfigs = {
      controllerManager: join(dir, 'controller-manager.kubeconfig'),
      scheduler: join(dir, 'scheduler.kubeconfig'),
      kubelet: join(dir, 'kubelet.kubeconfig'),
    };
    for (const key of Object.keys(kubeconfigs) as Array<keyof typeof kubeconfigs>) writeFileSync(kubeconfigs[key], kubeconfigText(identities[key].token), { mode: 0o600 });

    const kubeConfig = (userToken: string = adminToken) => {
      const config = new KubeConfig();
      config.loadFromOptions({
        clusters: [{ name: 'peregrine-test', server, caFile, skipTLSVerify: false }],
        users: [{ name: 'user', token: userToken }],
        contexts: [{ name: 'peregrine-test', cluster: 'peregrine-test', user: 'user' }],
        currentContext: 'peregrine-test',
      });
      return config;
    };
    let stopped = false;
    const api: TestKube = {
      mode,
      server,
      caFile,
      adminToken,
      adminKubeconfig,
      staticTokens,
      dir,
      binaries,
      get processes() {
        return servers.map(({ name, server: s }) => ({ name, pid: s.pid, logFile: s.logFile }));
      },
      startup,
      kubeConfig,
      writeKubeconfig(path, userToken) {
        writeFileSync(path, kubeconfigText(userToken), { mode: 0o600 });
        return path;
      },
      async serviceAccountToken(namespace, serviceAccount, tokenOptions = {}) {
        const core = kubeConfig().makeApiClient(CoreV1Api);
        const answer = await core.createNamespacedServiceAccountToken({
          name: serviceAccount,
          namespace,
          body: { spec: { audiences: [...(tokenOptions.audiences ?? [])], expirationSeconds: tokenOptions.expirationSeconds ?? 3600 } },
        });
        const minted = answer.status?.token;
        if (!minted) throw new Error(`TokenRequest for ${namespace}/${serviceAccount} returned no token`);
        return minted;
      },
      async createNamespace(name, labels = {}) {
        const core = kubeConfig().makeApiClient(CoreV1Api);
        await core.createNamespace({ body: { metadata: { name, labels: { ...labels } } } });
        if (mode === 'api') {
          await core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: 'default' } } });
          return;
        }
        const deadline = Date.now() + 60_000;
        for (;;) {
          try {
            await core.readNamespacedServiceAccount({ namespace: name, name: 'default' });
            return;
          } catch (error) {
            if (Date.now() > deadline) throw new Error(`namespace ${name}: the controller-manager did not create its default ServiceAccount within 60 s (${(error as Error).message})`);
          }
          await sleep(100);
        }
      },
      kubectl(args, kubectlOptions = {}) {
        const kubeconfig = kubectlOptions.token ? api.writeKubeconfig(join(dir, `kubectl-${randomBytes(4).toString('hex')}.kubeconfig`), kubectlOptions.token) : adminKubeconfig;
        return new Promise((resolvePromise, reject) => {
          const child = execFile(binaries.kubectl, [`--kubeconfig=${kubeconfig}`, ...args], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
            if (kubeconfig !== adminKubeconfig) rmSync(kubeconfig, { force: true });
            if (error) reject(new Error(`kubectl ${args.join(' ')}: ${stderr.trim() || error.message}`));
            else resolvePromise(stdout);
          });
          child.stdin?.end(kubectlOptions.input ?? '');
        });
      },
      residentBytes() {
        return Object.fromEntries(servers.map(({ name, server: s }) => [name, residentBytes(s.pid)]));
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        const errors = await stopProcesses();
        removeFiles();
        if (errors.length > 0) throw new Error(`Kubernetes test API server clean-up was incomplete:\n- ${errors.join('\n- ')}`);
      },
    };
    return { id, dir, caFile, saKey, kubeconfigs, record, api, track, stopProcesses, removeFiles };
  } catch (error) {
    await stopProcesses();
    removeFiles();
    throw error;
  }
}

function kubeconfigYaml(server: string, caFile: string, token: string): string {
  // JSON is YAML: no quoting questions.
  return `${JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'peregrine-test', cluster: { server, 'certificate-authority': caFile } }],
      users: [{ name: 'user', user: { token } }],
      contexts: [{ name: 'peregrine-test', context: { cluster: 'peregrine-test', user: 'user' } }],
      'current-context': 'peregrine-test',
    },
    null,
    2,
  )}\n`;
}

function kubeletConfiguration(containerdSocket: string, resolvConf: string, port: number): string {
  return `${JSON.stringify(
    {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      address: KUBE_NODE_IP,
      port,
      readOnlyPort: 0,
      healthzPort: 0,
      cgroupDriver: 'cgroupfs',
      // This machine has hybrid cgroup v1, which 1.36 refuses by default.
      failCgroupV1: false,
      failSwapOn: false,
      // PID 1 is not systemd and CAP_SYS_RESOURCE is missing: leave the oom score alone.
      oomScoreAdj: 0,
      containerRuntimeEndpoint: `unix://${containerdSocket}`,
      resolvConf,
      clusterDNS: [],
      // Local images cannot be pulled again: never collect them.
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      evictionHard: { 'memory.available': '10Mi', 'nodefs.available': '1%', 'nodefs.inodesFree': '1%', 'imagefs.available': '1%' },
      podLogsDir: KUBE_POD_LOGS_DIR,
      // The kubelet serves only on the node address of the link this start created (never an outward one).
      authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
      authorization: { mode: 'AlwaysAllow' },
      serializeImagePulls: false,
      syncFrequency: '10s',
      nodeStatusUpdateFrequency: '2s',
    },
    null,
    2,
  )}\n`;
}

function httpsGet(url: string, caFile: string, token: string): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const req = request(url, { ca: readFileSync(caFile), headers: { authorization: `Bearer ${token}` }, timeout: 5_000 }, (res) => {
      res.resume();
      resolvePromise(res.statusCode ?? 0);
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', reject);
    req.end();
  });
}

function createNodeLink(): void {
  // No `dummy` link type in this kernel; a bridge without ports holds an address just as well.
  if (existsSync(`/sys/class/net/${NODE_LINK}`)) execFileSync('ip', ['link', 'del', NODE_LINK], { stdio: 'pipe' });
  execFileSync('ip', ['link', 'add', NODE_LINK, 'type', 'bridge'], { stdio: 'pipe' });
  execFileSync('ip', ['addr', 'add', `${KUBE_NODE_IP}/32`, 'dev', NODE_LINK], { stdio: 'pipe' });
  execFileSync('ip', ['link', 'set', NODE_LINK, 'up'], { stdio: 'pipe' });
}

function readSysctls(): Record<string, string> {
  const values: Record<string, string> = {};
  for (const name of KUBELET_SYSCTLS) {
    try {
      values[name] = readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim();
    } catch {
      // Not on this kernel: nothing to restore.
    }
  }
  return values;
}

/** Undoes what the kubelet did to the host; every step runs, failures are returned. */
function cleanNodeHost(node: InstanceRecord['node'] | undefined): string[] {
  const errors: string[] = [];
  errors.push(...unmountUnder([KUBELET_ROOT_DIR, ...KUBELET_FIXED_DIRS]));
  const dirs = [KUBELET_ROOT_DIR, KUBE_POD_LOGS_DIR, ...(node?.createdDirs ?? [])];
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch (error) {
      errors.push(`rm -rf ${dir}: ${(error as Error).message}`);
    }
  }
  // A /var/lib/kubelet that was there before: only the socket the kubelet put there is ours.
  rmSync('/var/lib/kubelet/device-plugins/kubelet.sock', { force: true });
  errors.push(...removeKubeIptablesChains());
  for (const [name, value] of Object.entries(node?.sysctls ?? {})) {
    try {
      writeFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, value);
    } catch (error) {
      errors.push(`restore sysctl ${name}=${value}: ${(error as Error).message}`);
    }
  }
  try {
    if (existsSync(`/sys/class/net/${NODE_LINK}`)) execFileSync('ip', ['link', 'del', NODE_LINK], { stdio: 'pipe' });
  } catch (error) {
    errors.push(`ip link del ${NODE_LINK}: ${(error as Error).message}`);
  }
  return errors;
}

/**
 * Removes every KUBE-* chain (the kubelet's KUBE-FIREWALL, which drops non-loopback traffic to
 * 127/8, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT; kube-proxy's if one ran) and the jumps into
 * them, for IPv4 and IPv6, in every iptables flavour present. Nothing else here uses KUBE-*.
 */
function removeKubeIptablesChains(): string[] {
  const errors: string[] = [];
  const tools = ['iptables', 'ip6tables', 'iptables-legacy', 'ip6tables-legacy'].filter((tool) => ['/usr/sbin', '/sbin', '/usr/bin'].some((d) => existsSync(join(d, tool))));
  for (const tool of tools) {
    for (const table of ['filter', 'nat', 'mangle']) {
      let rules: string;
      try {
        rules = execFileSync(tool, ['-w', '5', '-t', table, '-S'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } catch {
        continue; // table or flavour not available
      }
      const chains = [...rules.matchAll(/^-N (KUBE-\S+)$/gm)].map((m) => m[1]!);
      if (chains.length === 0 && !/-j KUBE-/.test(rules)) continue;
      const outer = new Set([...rules.matchAll(/^-A (\S+) .*-j KUBE-\S+/gm)].map((m) => m[1]!).filter((chain) => !chain.startsWith('KUBE-')));
      for (const chain of outer) {
        // Delete by rule number, highest first (rule texts may hold quoted comments).
        const listing = execFileSync(tool, ['-w', '5', '-t', table, '-L', chain, '-n', '--line-numbers'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        const numbers = listing
          .split('\n')
          .map((line) => line.trim().split(/\s+/))
          .filter((f) => /^\d+$/.test(f[0] ?? '') && (f[1] ?? '').startsWith('KUBE-'))
          .map((f) => Number(f[0]))
          .sort((a, b) => b - a);
        for (const n of numbers) {
          try {
            execFileSync(tool, ['-w', '5', '-t', table, '-D', chain, String(n)], { stdio: 'pipe' });
          } catch (error) {
            errors.push(`${tool} -t ${table} -D ${chain} ${n}: ${(error as Error).message}`);
          }
        }
      }
      for (const op of ['-F', '-X']) {
        for (const chain of chains) {
          try {
            execFileSync(tool, ['-w', '5', '-t', table, op, chain], { stdio: 'pipe' });
          } catch (error) {
            errors.push(`${tool} -t ${table} ${op} ${chain}: ${(error as Error).message}`);
          }
        }
      }
    }
  }
  return errors;
}

/** The start time of a process (field 22 of /proc/pid/stat), to tell a reused pid apart. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Cleans up after instances whose owner process is gone (SIGKILLed test runs): kills their
 * processes (when the pid still runs the recorded binary) and removes their folders. Host state
 * of a node (mounts, iptables, sysctls, link) is cleaned only with `node: true`, i.e. under the
 * containers lock; until then its record stays.
 */
async function reapDeadInstances({ node }: { node: boolean }): Promise<void> {
  let files: string[];
  try {
    files = readdirSync(INSTANCES_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    return;
  }
  for (const file of files) {
    const path = join(INSTANCES_DIR, file);
    let record: InstanceRecord;
    try {
      record = JSON.parse(readFileSync(path, 'utf8')) as InstanceRecord;
    } catch {
      continue; // being written by its owner right now
    }
    const owner = processStartTime(record.ownerPid);
    if (owner !== undefined && owner === record.ownerStartTime) continue;
    await killRecordedProcesses(record.processes);
    if (record.node && !node) {
      record.processes = [];
      writeFileSync(path, JSON.stringify(record, null, 2));
      continue;
    }
    if (record.node) {
      const errors = cleanNodeHost(record.node);
      if (errors.length > 0) throw new Error(`cannot clean up after the dead Kubernetes test node ${file}:\n- ${errors.join('\n- ')}`);
    }
    rmSync(record.dir, { recursive: true, force: true });
    rmSync(path, { force: true });
  }
}

/** SIGKILLs each recorded process still running its recorded binary (a reused pid runs something else) and waits until they are gone. */
async function killRecordedProcesses(processes: InstanceRecord['processes']): Promise<void> {
  const runsRecordedBinary = (proc: InstanceRecord['processes'][number]) => {
    try {
      return readlinkSync(`/proc/${proc.pid}/exe`) === proc.exe;
    } catch {
      return false;
    }
  };
  const alive = () => processes.filter(runsRecordedBinary);
  for (const proc of alive()) {
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
  const deadline = Date.now() + 15_000;
  while (alive().length > 0) {
    if (Date.now() > deadline) throw new Error(`processes of a dead Kubernetes test instance survive SIGKILL: ${alive().map((p) => `${p.name} ${p.pid}`).join(', ')}`);
    await sleep(50);
  }
}
