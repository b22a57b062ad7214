// Real test servers shared by suites.
export { startTestRedis, freeLoopbackPort } from './redis.ts';
export type { TestRedis, TestRedisOptions } from './redis.ts';
export { startHttpReceiver } from './http-receiver.ts';
export type { HttpReceiver, ReceivedRequest, Answer } from './http-receiver.ts';
export { KeepAliveClient, postMany } from './load.ts';
export type { PostResult } from './load.ts';
export { makeTestCertificates } from './certificates.ts';
