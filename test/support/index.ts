// Real test servers shared by suites.
export { startTestRedis, freeLoopbackPort } from './redis.ts';
export type { TestRedis, TestRedisOptions } from './redis.ts';
export { startHttpReceiver } from './http-receiver.ts';
export type { HttpReceiver, ReceivedRequest, Answer } from './http-receiver.ts';
export { KeepAliveClient, postMany } from './load.ts';
export type { PostResult } from './load.ts';
export { makeTestCertificates } from './certificates.ts';
export { startContainerRuntimes, CONTAINERS_LOCK_FILE, CONTAINERS_RUN_DIR, CONTAINERS_DATA_DIR } from './containers/runtimes.ts';
export type { ContainerRuntimes, ContainerRuntimesOptions, PodSpec, RunningPod, DockerContainerSpec, RunningDockerContainer } from './containers/runtimes.ts';
export { buildBusyboxImage, buildPauseImage, containerCacheDir, BUSYBOX_IMAGE, PAUSE_IMAGE } from './containers/images.ts';
export type { LocalImage } from './containers/images.ts';
export { CriTestClient } from './containers/cri-client.ts';
export { DockerTestClient } from './containers/docker-api.ts';
