import { credentials, loadPackageDefinition, status as grpcStatus } from '@grpc/grpc-js';
import type { Client, ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { splitImageReference } from './image.ts';
import { shortContainerId } from './types.ts';
import type { ContainerInfo, ContainerMetadataProvider, ContainerType, LookupResult } from './types.ts';
import { keepShortLabels, podFieldsFromLabels } from './util.ts';

// Our own minimal CRI v1 definition (cri.proto next to this file).
const definition = loadSync(fileURLToPath(new URL('./cri.proto', import.meta.url)), { keepCase: true, longs: String, defaults: true });
type RuntimeServiceClient = new (address: string, creds: ReturnType<typeof credentials.createInsecure>, options?: Record<string, unknown>) => Client;
const RuntimeService = (loadPackageDefinition(definition) as unknown as { runtime: { v1: { RuntimeService: RuntimeServiceClient } } }).runtime.v1.RuntimeService;
type Unary = (request: unknown, options: { deadline: number }, callback: (error: ServiceError | null, response: unknown) => void) => void;

interface CriContainerStatus {
  id: string;
  metadata: { name: string } | null;
  state: number;
  created_at: string;
  started_at: string;
  image: { image: string } | null;
  image_ref: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

interface CriSandboxStatus {
  id: string;
  metadata: { name: string; uid: string; namespace: string } | null;
  created_at: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** The parts of ContainerStatus' verbose `info` JSON we read (containerd and cri-o shapes). */
interface CriVerboseInfo {
  sandboxID?: string;
  privileged?: boolean;
  config?: { image?: { image?: string }; linux?: { security_context?: { privileged?: boolean } } };
  runtimeSpec?: { annotations?: Record<string, string>; linux?: { security_context?: { privileged?: boolean } } };
}

export interface CriProviderOptions {
  /** Per call. @defaultValue 5000 (the plugin's CRI client timeout) */
  readonly timeoutMs?: number;
  /** Labels with longer values are left out (the plugin's `label_max_len`). @defaultValue 100 */
  readonly labelMaxLength?: number;
}

const CONTAINER_EXITED = 2;

/**
 * Container and pod metadata from a CRI v1 runtime (containerd, cri-o) over
 * gRPC on its unix socket: `ContainerStatus` (verbose) for the container,
 * `PodSandboxStatus` for its pod. The runtime type (containerd or cri-o) comes
 * from `Version`, as in the plugin.
 */
export class CriMetadataProvider implements ContainerMetadataProvider {
  readonly name: string;
  private readonly timeoutMs: number;
  private readonly labelMaxLength: number;
  private client: Client | undefined;
  private runtimeType: Promise<ContainerType> | undefined;

  constructor(
    readonly socketPath: string,
    options: CriProviderOptions = {},
  ) {
    this.name = `cri:${socketPath}`;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.labelMaxLength = options.labelMaxLength ?? 100;
  }

  async list(): Promise<string[] | undefined> {
    if (!existsSync(this.socketPath)) return undefined;
    const response = (await this.call('ListContainers', {})) as { containers: Array<{ id: string; state: number }> };
    return response.containers.filter((c) => c.state !== CONTAINER_EXITED).map((c) => c.id);
  }

  async inspect(id: string): Promise<LookupResult> {
    if (!existsSync(this.socketPath)) return { kind: 'absent' };
    const type = await this.type();
    let response: { status: CriContainerStatus | null; info: Record<string, string> };
    try {
      response = (await this.call('ContainerStatus', { container_id: id, verbose: true })) as typeof response;
    } catch (error) {
      if ((error as ServiceError).code !== grpcStatus.NOT_FOUND) throw error;
      // A pod's sandbox (pause) process has a container id of its own that only PodSandboxStatus knows.
      return this.inspectSandbox(id, type);
    }
    const status = response.status;
    if (!status) return { kind: 'not-found' };
    const verbose = parseVerbose(response.info.info);
    const labels = keepShortLabels(status.labels, this.labelMaxLength);
    const annotations = verbose.runtimeSpec?.annotations ?? {};
    const sandboxId = verbose.sandboxID ?? annotations['io.kubernetes.cri.sandbox-id'] ?? labels['io.kubernetes.sandbox.id'] ?? '';
    const image = imageOf(status, annotations);
    const { repository, tag } = splitImageReference(image);
    const info: ContainerInfo = {
      id: shortContainerId(status.id),
      fullId: status.id,
      type,
      ...(status.metadata?.name ? { name: status.metadata.name } : {}),
      ...(image ? { image } : {}),
      ...(repository ? { imageRepository: repository } : {}),
      ...(tag ? { imageTag: tag } : {}),
      privileged: privilegedOf(verbose),
      labels,
      ...podFieldsFromLabels(labels),
    };
    const createdAt = BigInt(status.created_at || '0');
    if (createdAt > 0n) info.startTs = createdAt;
    // Annotations containerd writes into the OCI spec: pod name/namespace/uid even without the sandbox call.
    if (annotations['io.kubernetes.cri.sandbox-name']) info.podName = annotations['io.kubernetes.cri.sandbox-name'];
    if (annotations['io.kubernetes.cri.sandbox-namespace']) info.podNamespace = annotations['io.kubernetes.cri.sandbox-namespace'];
    if (annotations['io.kubernetes.cri.sandbox-uid']) info.podUid = annotations['io.kubernetes.cri.sandbox-uid'];
    if (sandboxId !== '') {
      info.podSandboxId = sandboxId;
      const sandbox = await this.sandboxStatus(sandboxId);
      if (sandbox) Object.assign(info, this.podFields(sandbox));
    }
    return { kind: 'found', info };
  }

  private async inspectSandbox(id: string, type: ContainerType): Promise<LookupResult> {
    const sandbox = await this.sandboxStatus(id);
    if (!sandbox) return { kind: 'not-found' };
    const info: ContainerInfo = { id: shortContainerId(sandbox.id), fullId: sandbox.id, type, podSandboxId: sandbox.id, ...this.podFields(sandbox) };
    const createdAt = BigInt(sandbox.created_at || '0');
    if (createdAt > 0n) info.startTs = createdAt;
    return { kind: 'found', info };
  }

  private async sandboxStatus(id: string): Promise<CriSandboxStatus | undefined> {
    try {
      const response = (await this.call('PodSandboxStatus', { pod_sandbox_id: id, verbose: false })) as { status: CriSandboxStatus | null };
      return response.status ?? undefined;
    } catch (error) {
      if ((error as ServiceError).code === grpcStatus.NOT_FOUND) return undefined;
      throw error;
    }
  }

  private podFields(sandbox: CriSandboxStatus): Partial<ContainerInfo> {
    const fields: Partial<ContainerInfo> = { podLabels: keepShortLabels(sandbox.labels, this.labelMaxLength) };
    if (sandbox.metadata?.name) fields.podName = sandbox.metadata.name;
    if (sandbox.metadata?.namespace) fields.podNamespace = sandbox.metadata.namespace;
    if (sandbox.metadata?.uid) fields.podUid = sandbox.metadata.uid;
    return fields;
  }

  /** containerd or cri-o, from Version's runtime_name (asked once per connection). */
  private type(): Promise<ContainerType> {
    this.runtimeType ??= (this.call('Version', { version: 'v1' }) as Promise<{ runtime_name: string }>).then(
      (v) => (v.runtime_name === 'cri-o' ? 'cri-o' : 'containerd'),
      (error: unknown) => {
        this.runtimeType = undefined;
        throw error;
      },
    );
    return this.runtimeType;
  }

  private call(method: string, request: unknown): Promise<unknown> {
    this.client ??= new RuntimeService(`unix://${this.socketPath}`, credentials.createInsecure(), {
      // Give up on a dead socket quickly; the registry retries later.
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2_000,
    });
    const fn = (this.client as unknown as Record<string, Unary>)[method]!;
    return new Promise((resolve, reject) => {
      fn.call(this.client, request, { deadline: Date.now() + this.timeoutMs }, (error, response) => {
        if (error) {
          const wrapped = new Error(`${this.name}: ${method}: ${error.message}`) as Error & { code?: number };
          wrapped.code = error.code;
          reject(wrapped);
        } else resolve(response);
      });
    });
  }

  close(): void {
    this.client?.close();
    this.client = undefined;
    this.runtimeType = undefined;
  }
}

function parseVerbose(text: string | undefined): CriVerboseInfo {
  if (!text) return {};
  try {
    return JSON.parse(text) as CriVerboseInfo;
  } catch {
    return {};
  }
}

/** The plugin's order: the OCI spec's security context, then the CRI config's, then a top-level flag. */
function privilegedOf(verbose: CriVerboseInfo): boolean {
  return verbose.runtimeSpec?.linux?.security_context?.privileged ?? verbose.config?.linux?.security_context?.privileged ?? verbose.privileged ?? false;
}

/**
 * The image name as the plugin reports it: `image.image`, except that a
 * digest reference (`repo@sha256:…`) in image_ref names the repository, and an
 * empty or bare-digest name falls back to the image-name annotations.
 */
function imageOf(status: CriContainerStatus, annotations: Record<string, string>): string {
  let image = status.image?.image ?? '';
  const digestAt = status.image_ref.indexOf('sha256:');
  let tagFromImage = false;
  if (digestAt > 0 && status.image_ref[digestAt - 1] === '@') {
    image = status.image_ref.slice(0, digestAt - 1);
    tagFromImage = true;
  }
  if (image === '' || image.startsWith('sha256')) {
    const named = annotations['io.kubernetes.cri.image-name'] ?? annotations['io.kubernetes.cri-o.Image'] ?? annotations['io.kubernetes.cri-o.ImageName'];
    if (named) return named;
  }
  if (tagFromImage) {
    const { tag } = splitImageReference(status.image?.image ?? '');
    if (tag) image = `${image}:${tag}`;
  }
  return image;
}
