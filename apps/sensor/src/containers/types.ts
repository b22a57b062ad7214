/** What kind of runtime runs a container; `host` is every process outside one. */
export type ContainerType = 'docker' | 'containerd' | 'cri-o' | 'podman' | 'host';

/**
 * A container as the `container.*` and `k8s.*` fields see it. `id` is the
 * 12-character id Falco prints (or `host`); everything else is optional
 * because it comes from the runtime's API, asynchronously, and a field the
 * sensor cannot know is missing rather than invented.
 */
export interface ContainerInfo {
  /** `container.id`: the first 12 characters of the runtime's id, or `host`. */
  id: string;
  /** `container.full_id`: the runtime's whole id, when known. */
  fullId?: string;
  name?: string;
  /** `container.image` as the runtime reports it (e.g. `docker.io/library/busybox:1.36`). */
  image?: string;
  imageRepository?: string;
  imageTag?: string;
  privileged?: boolean;
  /** When the runtime created/started the container, epoch nanoseconds. */
  startTs?: bigint;
  podName?: string;
  podNamespace?: string;
  podUid?: string;
  podLabels?: Record<string, string>;
  /** The container's own labels (Docker `Config.Labels`, CRI container labels). */
  labels?: Record<string, string>;
  /** The pod sandbox id (CRI), when the container belongs to a pod. */
  podSandboxId?: string;
  type: ContainerType;
}

/** Result of one metadata lookup against one runtime socket. */
export type LookupResult =
  | { readonly kind: 'found'; readonly info: ContainerInfo }
  /** The runtime answered and does not know this id. */
  | { readonly kind: 'not-found' }
  /** Nothing listens on the socket (no such runtime on this node): not an error. */
  | { readonly kind: 'absent' };

/** One runtime API endpoint (one socket) that can describe containers. */
export interface ContainerMetadataProvider {
  /** e.g. `docker:/var/run/docker.sock`; used in logs. */
  readonly name: string;
  /**
   * Full ids of the containers the runtime has now (running or created), or
   * `undefined` when nothing listens on the socket. Throws on other errors.
   */
  list(): Promise<string[] | undefined>;
  /** Looks one container up by its full id (or a unique prefix). Throws on errors other than "absent". */
  inspect(id: string): Promise<LookupResult>;
  close(): void;
}

/** The host pseudo-container (Falco's `container.id = host`, `container.name = host`). */
export const HOST_CONTAINER: Readonly<ContainerInfo> = Object.freeze({ id: 'host', name: 'host', type: 'host' });

/** Falco reports the first 12 characters of a container id. */
export const SHORT_ID_LENGTH = 12;

export function shortContainerId(id: string): string {
  return id.length > SHORT_ID_LENGTH ? id.slice(0, SHORT_ID_LENGTH) : id;
}
