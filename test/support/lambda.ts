// A real AWS Lambda invoke endpoint on 127.0.0.1 for the tests: the AWS Lambda Runtime
// Interface Emulator (built once with `go install` into .cache/servers/lambda-rie/bin) running
// a Node handler through our custom runtime loop (test/servers/lambda/runtime.mjs).
//
// The emulator's limits, which tests must live with (verified on it):
// - it serves one function, named `function`: POST /2015-03-31/functions/function/invocations;
// - `X-Amz-Invocation-Type: Event` is ignored: every call runs synchronously and answers 200;
// - a handler error comes back as 200 with the error document as payload and NO
//   `X-Amz-Function-Error` header;
// - two concurrent invocations crash it: invoke with concurrency 1.
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freeLoopbackPort } from './redis.ts';
import {
  acceptsConnections,
  ensureBuilt,
  inputsHash,
  repoRoot,
  runCommand,
  serverLogFile,
  serversCacheDir,
  serversSourceDir,
  spawnServer,
  waitForReady,
} from './server-process.ts';

/** The module version of the emulator: its v1.x tags are not valid Go semver, the proxy serves pseudo-versions. */
export const lambdaEmulatorVersion = 'v0.0.0-20261030222936-bef5c4ba774d';
const emulatorPackage = 'github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie';
const cacheDir = join(serversCacheDir, 'lambda-rie');
const binDir = join(cacheDir, 'bin');
const emulatorBinary = join(binDir, 'aws-lambda-rie');
const runtimeLoop = join(serversSourceDir, 'lambda', 'runtime.mjs');

/** The only function name the emulator serves. */
export const emulatedFunctionName = 'function';

/** A running emulator; `stop()` ends it and the handler's runtime process. */
export interface TestLambda {
  /** `http://127.0.0.1:port`: the endpoint override for `@aws-sdk/client-lambda`. */
  readonly endpoint: string;
  /** The full invoke URL, for plain HTTP: POST the event as JSON, read the result. */
  readonly invokeUrl: string;
  /** Always `function` (see `emulatedFunctionName`). */
  readonly functionName: string;
  readonly port: number;
  readonly pid: number;
  readonly logFile: string;
  stop(): Promise<void>;
}

export interface TestLambdaOptions {
  /** The handler module (JavaScript or TypeScript), absolute or relative to the repository root. */
  readonly handlerModule: string;
  /** The exported function to call. @defaultValue 'handler' */
  readonly handlerExport?: string;
  /** Extra environment for the handler (the emulator passes its own environment on). */
  readonly env?: Readonly<Record<string, string>>;
  /** The function's timeout (AWS_LAMBDA_FUNCTION_TIMEOUT). @defaultValue 30 */
  readonly timeoutSeconds?: number;
  /** Give up (and say where the log is) after this long. @defaultValue 30 s */
  readonly readyTimeoutMs?: number;
}

/**
 * Builds the emulator with `go install` (first run: modules from the Go proxy into Go's own
 * caches, the binary into .cache/servers/lambda-rie/bin). Does nothing when it is current.
 */
export async function prepareLambdaEmulator(): Promise<void> {
  const hash = inputsHash([], [emulatorPackage, lambdaEmulatorVersion]);
  await ensureBuilt(cacheDir, hash, 'the Lambda Runtime Interface Emulator', async () => {
    mkdirSync(binDir, { recursive: true });
    await runCommand('go', ['install', `${emulatorPackage}@${lambdaEmulatorVersion}`], {
      env: { ...process.env, GOBIN: binDir },
      what: 'building the Lambda Runtime Interface Emulator (go install)',
      fix: 'it needs Go >= 1.21 on PATH (Debian bookworm has 1.19: install Go from go.dev)',
    });
  });
}

/** Starts the emulator for one handler and waits until it accepts connections. */
export async function startTestLambda(options: TestLambdaOptions): Promise<TestLambda> {
  await prepareLambdaEmulator();
  const handlerModule = resolve(repoRoot, options.handlerModule);
  if (!existsSync(handlerModule)) throw new Error(`startTestLambda: handler module ${handlerModule} does not exist`);
  const port = await freeLoopbackPort();
  let runtimeApiPort = await freeLoopbackPort();
  while (runtimeApiPort === port) runtimeApiPort = await freeLoopbackPort();
  const server = spawnServer(emulatorBinary, {
    args: [
      '--runtime-interface-emulator-address',
      `127.0.0.1:${port}`,
      // Its default (127.0.0.1:9001) would clash between two emulators.
      '--runtime-api-address',
      `127.0.0.1:${runtimeApiPort}`,
      '--log-level',
      'warn',
      process.execPath,
      runtimeLoop,
      // The emulator treats the last argument as the handler.
      `${handlerModule}#${options.handlerExport ?? 'handler'}`,
    ],
    env: emulatorEnvironment(options),
    logFile: serverLogFile(`lambda-${port}`),
  });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitForReady(server, `Lambda emulator on ${endpoint}`, options.readyTimeoutMs ?? 30_000, async () => ((await acceptsConnections(port)) ? true : undefined));
  return {
    endpoint,
    invokeUrl: `${endpoint}/2015-03-31/functions/${emulatedFunctionName}/invocations`,
    functionName: emulatedFunctionName,
    port,
    pid: server.pid,
    logFile: server.logFile,
    stop: () => server.stop(5_000),
  };
}

function emulatorEnvironment(options: TestLambdaOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env, AWS_LAMBDA_FUNCTION_TIMEOUT: String(options.timeoutSeconds ?? 30) };
  // Present at all (even empty), it switches the emulator to its "managed instances" mode.
  delete env.AWS_LAMBDA_MAX_CONCURRENCY;
  return env;
}
