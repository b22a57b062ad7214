/** Environment variable through which the primary hands its hub processes the Redis URL (e.g. of the embedded redis-server). */
export const HUB_REDIS_URL_ENV = 'PEREGRINE_HUB_REDIS_URL';

/** Hub process → primary: "send me the /metrics text summed over every hub process". */
export const METRICS_REQUEST = 'peregrine:hub-metrics-request';
/** Primary → hub process: the answer to a METRICS_REQUEST with the same id. */
export const METRICS_REPLY = 'peregrine:hub-metrics-reply';

export interface MetricsRequest {
  readonly type: typeof METRICS_REQUEST;
  readonly id: number;
}

export interface MetricsReply {
  readonly type: typeof METRICS_REPLY;
  readonly id: number;
  readonly text?: string;
  readonly error?: string;
}

export function isMetricsRequest(message: unknown): message is MetricsRequest {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === METRICS_REQUEST;
}

export function isMetricsReply(message: unknown): message is MetricsReply {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === METRICS_REPLY;
}
