// Containers: cgroup path → container id, runtime metadata providers, and the async registry.
export { matchCgroupPath, matchProcCgroup, parseProcCgroup, containerIdForCgroupPath, DEFAULT_CONTAINERD_NAMESPACES } from './cgroup.ts';
export type { CgroupMatch, CgroupMatchOptions, ProcCgroupLine } from './cgroup.ts';
export { splitImageReference } from './image.ts';
export { HOST_CONTAINER, SHORT_ID_LENGTH, shortContainerId } from './types.ts';
export type { ContainerInfo, ContainerType, ContainerMetadataProvider, LookupResult } from './types.ts';
export { DockerMetadataProvider } from './docker.ts';
export type { DockerProviderOptions } from './docker.ts';
export { CriMetadataProvider } from './cri.ts';
export type { CriProviderOptions } from './cri.ts';
export { ContainerRegistry, DEFAULT_DOCKER_SOCKETS, DEFAULT_CRI_SOCKETS } from './registry.ts';
export type { ContainerRegistryOptions, ContainerRegistryStats, EngineSockets } from './registry.ts';
