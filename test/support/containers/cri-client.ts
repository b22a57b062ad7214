import { credentials, loadPackageDefinition } from '@grpc/grpc-js';
import type { Client, ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

const definition = loadSync(fileURLToPath(new URL('./cri-lifecycle.proto', import.meta.url)), {
  keepCase: true,
  longs: String,
  defaults: true,
});
type Callback = (error: ServiceError | null, response: Record<string, unknown>) => void;
type UnaryMethod = (request: unknown, options: { deadline: number }, callback: Callback) => void;
type RuntimeServiceCtor = new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => Client;
const runtimeV1 = (loadPackageDefinition(definition) as unknown as { runtime: { v1: { RuntimeService: RuntimeServiceCtor } } }).runtime.v1;

/** A CRI v1 client for the test set-up (run pods and containers), over a unix socket. */
export class CriTestClient {
  private readonly client: Client;

  constructor(readonly socketPath: string) {
    this.client = new runtimeV1.RuntimeService(`unix://${socketPath}`, credentials.createInsecure());
  }

  /** Calls one RuntimeService method by name (e.g. `RunPodSandbox`). */
  call<T = Record<string, unknown>>(method: string, request: unknown, timeoutMs = 60_000): Promise<T> {
    const fn = (this.client as unknown as Record<string, UnaryMethod>)[method];
    if (typeof fn !== 'function') throw new Error(`CRI test client: no method ${method} in cri-lifecycle.proto`);
    return new Promise((resolve, reject) => {
      fn.call(this.client, request, { deadline: Date.now() + timeoutMs }, (error, response) => {
        if (error) reject(new Error(`CRI ${method} on ${this.socketPath}: ${error.message}`));
        else resolve(response as T);
      });
    });
  }

  close(): void {
    this.client.close();
  }
}
