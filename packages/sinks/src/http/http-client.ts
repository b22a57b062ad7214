import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { z } from 'zod';
import type { DeliveryResult } from '../sink.ts';
import { resultFromError, resultFromStatus } from './status-result.ts';

export interface HttpRequest {
  readonly method: 'POST' | 'PUT';
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Client-side TLS towards a receiver: private CA, client certificate (mutual TLS), or no verification. */
export const clientTlsSettings = z
  .object({
    caFile: z.string().min(1).optional().describe('PEM CA bundle that signed the receiver\'s certificate (added to the system CAs). Falcosidekick: mutualtlsfilespath/ca.crt.'),
    certFile: z.string().min(1).optional().describe('PEM client certificate, for receivers that require mutual TLS. Falcosidekick: *.mutualtls.'),
    keyFile: z.string().min(1).optional().describe('PEM private key of certFile.'),
    checkCert: z.boolean().default(true).describe('Verify the receiver\'s certificate and name. false is for tests only. Falcosidekick: *.checkcert.'),
  })
  .strict()
  .superRefine((tls, ctx) => {
    if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'certFile and keyFile go together (mutual TLS needs both)' });
    for (const key of ['caFile', 'certFile', 'keyFile'] as const) {
      const path = tls[key];
      if (path === undefined) continue;
      try {
        readFileSync(path);
      } catch (e) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: [key], message: `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      }
    }
  })
  .optional()
  .describe('TLS options for an https:// receiver (private CA, mutual TLS).');

export type ClientTls = z.output<typeof clientTlsSettings>;

/** The longest response body kept (for a failure reason); the rest is read and dropped. */
const MAX_KEPT_BODY = 4096;

/**
 * One receiver URL over node:http(s) with a keep-alive agent: a sink's
 * requests reuse connections, and it costs a fraction of fetch's CPU per
 * request (no WHATWG streams), which matters at tens of thousands of alerts/s.
 * Maps every outcome to a DeliveryResult; never throws.
 */
export class HttpClient {
  private readonly url: URL;
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;

  constructor(
    /** Names the destination in failure reasons. */
    private readonly what: string,
    url: string,
    tls?: ClientTls,
  ) {
    this.url = new URL(url);
    this.send = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    this.agent = keepAliveAgent(this.url, tls);
  }

  /** Sends one request; `signal` (the hub's) and `timeoutMs` both end it as retryable. */
  request(request: HttpRequest, signal: AbortSignal, timeoutMs: number): Promise<DeliveryResult> {
    const { what } = this;
    if (signal.aborted) return Promise.resolve(resultFromError(what, signal.reason, signal));
    return new Promise<DeliveryResult>((resolve) => {
      let settled = false;
      const finish = (result: DeliveryResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const body = Buffer.from(request.body, 'utf8');
      const req = this.send(this.url, { method: request.method, agent: this.agent, headers: { ...request.headers, 'content-length': String(body.length) } }, (res: IncomingMessage) => {
        const kept: Buffer[] = [];
        let keptBytes = 0;
        res.on('data', (chunk: Buffer) => {
          if (keptBytes < MAX_KEPT_BODY) {
            kept.push(chunk);
            keptBytes += chunk.length;
          }
        });
        res.on('end', () => {
          const retryAfter = res.headers['retry-after'];
          finish(resultFromStatus(what, { status: res.statusCode ?? 0, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, body: Buffer.concat(kept).toString('utf8') }));
        });
        res.on('error', (error) => finish(resultFromError(what, error)));
      });
      const onAbort = () => {
        req.destroy();
        finish(resultFromError(what, signal.reason, signal));
      };
      const timer = setTimeout(() => {
        req.destroy();
        finish({ kind: 'retryable', reason: `${what}: no answer within ${timeoutMs} ms` });
      }, timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('error', (error) => finish(resultFromError(what, error)));
      req.end(body);
    });
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.agent.destroy();
  }
}

/** A keep-alive agent for a receiver URL, with the client TLS options for https. */
export function keepAliveAgent(url: URL | string, tls?: ClientTls): HttpAgent {
  const https = new URL(url).protocol === 'https:';
  if (!https) return new HttpAgent({ keepAlive: true });
  return new HttpsAgent({
    keepAlive: true,
    // A private CA is added to Node's bundled roots, so a receiver with a public certificate still works.
    ca: tls?.caFile === undefined ? undefined : [...rootCertificates, readFileSync(tls.caFile, 'utf8')],
    cert: tls?.certFile === undefined ? undefined : readFileSync(tls.certFile),
    key: tls?.keyFile === undefined ? undefined : readFileSync(tls.keyFile),
    rejectUnauthorized: tls?.checkCert ?? true,
  });
}
