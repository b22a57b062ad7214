import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { parseRetryAfter } from '@peregrine/sinks';

const gzip = promisify(gzipCallback);

/** TLS towards the hub; the same keys as the sinks' `settings.tls`. */
export interface HubTlsOptions {
  /** PEM CA bundle that signed the hub's certificate (added to the system CAs). */
  readonly caFile?: string;
  /** PEM client certificate, when the hub requires mutual TLS (`tls.requireClientCert`). */
  readonly certFile?: string;
  /** PEM private key of certFile. */
  readonly keyFile?: string;
  /** Verify the hub's certificate and name. false is for tests only. @defaultValue true */
  readonly checkCert?: boolean;
}

export interface HubClientOptions {
  /** The hub's base URL (`http://hub:2801`); `/v1/alerts` is appended unless the URL already ends with it. */
  readonly url: string;
  /** Sent as `Authorization: Bearer <token>` (the hub's `auth.tokens`). */
  readonly token?: string;
  /** gzip request bodies. @defaultValue true */
  readonly gzip?: boolean;
  readonly tls?: HubTlsOptions;
  /** A request without an answer by then is abandoned and retried. @defaultValue 10000 */
  readonly requestTimeoutMs?: number;
}

/** What the hub made of one batch. */
export type HubAnswer =
  /** 2xx: every alert of the batch is queued in the hub. */
  | { readonly kind: 'accepted' }
  /** The hub is away or busy (network error, timeout, 408, 429, 5xx) or does not take our token (401/403): send again later. */
  | { readonly kind: 'retry'; readonly reason: string; readonly retryAfterMs?: number }
  /** 413: the body is above the hub's bodyLimitBytes; send smaller batches. */
  | { readonly kind: 'too-large'; readonly reason: string }
  /**
   * Any other 4xx: the hub refuses the batch (it accepts all or nothing).
   * `alertIndex` is the alert it named (`alert [i]: …`, or the NDJSON line),
   * when it named one: the others may be sent again without it.
   */
  | { readonly kind: 'refused'; readonly status: number; readonly reason: string; readonly alertIndex?: number };

/** The most response body kept for a reason. */
const MAX_KEPT_BODY = 16 * 1024;

/** `url` with `/v1/alerts` appended (unless it is already there). */
export function alertsEndpoint(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`hub output: url ${JSON.stringify(url)} is not an absolute URL; use e.g. http://127.0.0.1:2801`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`hub output: url must start with http:// or https://, got ${JSON.stringify(url)}`);
  if (/\/v1\/alerts\/?$/.test(parsed.pathname)) return parsed;
  parsed.pathname = `${parsed.pathname.replace(/\/+$/, '')}/v1/alerts`;
  return parsed;
}

/**
 * Which alert of a batch a 400 from the hub names: its body is
 * `{"error": "invalid_alert", "message": "alert [3]: rule: is required"}`,
 * or for NDJSON that does not parse `line 4 is not valid JSON: …`.
 */
export function refusedAlertIndex(body: string, batchSize: number): number | undefined {
  let message: string;
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message !== 'string') return undefined;
    message = parsed.message;
  } catch {
    return undefined;
  }
  const named = /^alert \[(\d+)\]: /.exec(message);
  const line = /^line (\d+) is not valid JSON/.exec(message);
  const index = named ? Number(named[1]) : line ? Number(line[1]) - 1 : undefined;
  return index !== undefined && index >= 0 && index < batchSize ? index : undefined;
}

/** The hub's `message` (or the body, shortened) for a log line. */
function reasonOf(status: number, body: string): string {
  let text = body;
  try {
    const parsed = JSON.parse(body) as { message?: unknown; error?: unknown };
    if (typeof parsed.message === 'string') text = parsed.message;
  } catch {
    // not JSON: keep the text
  }
  text = text.replace(/\s+/g, ' ').trim();
  if (text.length > 500) text = `${text.slice(0, 500)}…`;
  return `HTTP ${status}${text ? `: ${text}` : ''}`;
}

function readTlsFile(key: string, path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`hub output: cannot read tls.${key} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Posts NDJSON batches to the hub's `POST /v1/alerts` over one keep-alive agent. Never throws for an answer. */
export class HubClient {
  readonly endpoint: URL;
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;
  private readonly headers: Record<string, string>;
  private readonly gzip: boolean;
  private readonly timeoutMs: number;

  constructor(options: HubClientOptions) {
    this.endpoint = alertsEndpoint(options.url);
    this.gzip = options.gzip ?? true;
    this.timeoutMs = options.requestTimeoutMs ?? 10_000;
    if (!(Number.isInteger(this.timeoutMs) && this.timeoutMs > 0)) throw new Error(`hub output: requestTimeoutMs must be a whole number of ms > 0, got ${options.requestTimeoutMs}`);
    const https = this.endpoint.protocol === 'https:';
    const tls = options.tls;
    if (tls !== undefined && !https) throw new Error(`hub output: tls options are set but the url ${this.endpoint.origin} is not https://`);
    if ((tls?.certFile === undefined) !== (tls?.keyFile === undefined)) throw new Error('hub output: tls.certFile and tls.keyFile go together (mutual TLS needs both)');
    const ca = readTlsFile('caFile', tls?.caFile);
    this.agent = https
      ? new HttpsAgent({
          keepAlive: true,
          // A private CA is added to Node's roots, so a hub with a public certificate still works.
          ca: ca === undefined ? undefined : [...rootCertificates, ca.toString('utf8')],
          cert: readTlsFile('certFile', tls?.certFile),
          key: readTlsFile('keyFile', tls?.keyFile),
          rejectUnauthorized: tls?.checkCert ?? true,
        })
      : new HttpAgent({ keepAlive: true });
    this.send = https ? httpsRequest : httpRequest;
    this.headers = {
      'content-type': 'application/x-ndjson',
      'user-agent': 'peregrine-sensor',
      ...(this.gzip ? { 'content-encoding': 'gzip' } : {}),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    };
  }

  /** Sends alerts (one JSON text each) as one NDJSON request. */
  async post(alertJson: readonly string[]): Promise<HubAnswer> {
    const text = Buffer.from(`${alertJson.join('\n')}\n`, 'utf8');
    const body = this.gzip ? await gzip(text, { level: 6 }) : text;
    return new Promise<HubAnswer>((resolve) => {
      let settled = false;
      const finish = (answer: HubAnswer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(answer);
      };
      const req = this.send(this.endpoint, { method: 'POST', agent: this.agent, headers: { ...this.headers, 'content-length': String(body.length) } }, (res: IncomingMessage) => {
        const kept: Buffer[] = [];
        let keptBytes = 0;
        res.on('data', (chunk: Buffer) => {
          if (keptBytes < MAX_KEPT_BODY) {
            kept.push(chunk);
            keptBytes += chunk.length;
          }
        });
        res.on('end', () => {
          const header = res.headers['retry-after'];
          finish(classify(res.statusCode ?? 0, Buffer.concat(kept).toString('utf8'), Array.isArray(header) ? header[0] : header, alertJson.length));
        });
        res.on('error', (e) => finish({ kind: 'retry', reason: `response cut off: ${e.message}` }));
      });
      const timer = setTimeout(() => {
        req.destroy();
        finish({ kind: 'retry', reason: `no answer within ${this.timeoutMs} ms` });
      }, this.timeoutMs);
      req.on('error', (e: NodeJS.ErrnoException) => finish({ kind: 'retry', reason: e.code ? `${e.code}: ${e.message}` : e.message }));
      req.end(body);
    });
  }

  /** Closes idle connections. */
  close(): void {
    this.agent.destroy();
  }
}

function classify(status: number, body: string, retryAfter: string | undefined, batchSize: number): HubAnswer {
  if (status >= 200 && status < 300) return { kind: 'accepted' };
  const reason = reasonOf(status, body);
  if (status === 408 || status === 429 || status >= 500 || status === 401 || status === 403) {
    const ms = parseRetryAfter(retryAfter);
    // A Retry-After too large to be a number is ignored (the backoff applies).
    return ms !== undefined && Number.isFinite(ms) ? { kind: 'retry', reason, retryAfterMs: ms } : { kind: 'retry', reason };
  }
  if (status === 413) return { kind: 'too-large', reason };
  const alertIndex = status === 400 ? refusedAlertIndex(body, batchSize) : undefined;
  return alertIndex === undefined ? { kind: 'refused', status, reason } : { kind: 'refused', status, reason, alertIndex };
}
