// A minimal AWS Lambda custom runtime for Node handlers, run by the Runtime Interface
// Emulator as the function's bootstrap (test/support/lambda.ts starts it):
//   aws-lambda-rie … node test/servers/lambda/runtime.mjs <module path>#<export name>
// It loads the handler (TypeScript too, through tsx), then loops on the Runtime API
// (2018-06-01): GET /runtime/invocation/next, call the handler, POST the result to
// /invocation/{id}/response or the error to /invocation/{id}/error.
import http from 'node:http';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

const runtimeApi = process.env.AWS_LAMBDA_RUNTIME_API;
if (!runtimeApi) {
  console.error('runtime.mjs: AWS_LAMBDA_RUNTIME_API is not set: run it under aws-lambda-rie (test/support/lambda.ts)');
  process.exit(2);
}
const [host, port] = runtimeApi.split(':');
// One connection, reused: the emulator serves one invocation at a time anyway.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One HTTP call to the Runtime API; no timeout, because `next` is a long poll. */
function call(method, path, body, headers = {}) {
  return new Promise((done, fail) => {
    const request = http.request(
      { host, port: Number(port), method, path: `/2018-06-01/runtime${path}`, agent, headers: { 'content-type': 'application/json', ...headers } },
      (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => done({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', fail);
      },
    );
    request.on('error', fail);
    request.end(body);
  });
}

/** Lambda's error document: what the caller gets back as the payload. */
function errorBody(error) {
  const err = error instanceof Error ? error : new Error(String(error));
  return JSON.stringify({ errorType: err.name || 'Error', errorMessage: err.message, stackTrace: (err.stack ?? '').split('\n').slice(1).map((line) => line.trim()) });
}

async function loadHandler(spec) {
  const hash = spec ? spec.lastIndexOf('#') : -1;
  if (!spec || hash <= 0) throw new Error(`runtime.mjs: the handler must be "<module path>#<export name>", got ${JSON.stringify(spec)}`);
  const file = resolve(spec.slice(0, hash));
  const exportName = spec.slice(hash + 1);
  register();
  const module = await import(pathToFileURL(file).href);
  const handler = module[exportName];
  if (typeof handler !== 'function') throw new Error(`runtime.mjs: ${file} has no exported function ${JSON.stringify(exportName)} (exports: ${Object.keys(module).join(', ') || 'none'})`);
  return handler;
}

/** Calls an async handler, or a callback-style one (three parameters). */
function invoke(handler, event, context) {
  if (handler.length >= 3) {
    return new Promise((done, fail) => {
      const result = handler(event, context, (error, value) => (error ? fail(error) : done(value)));
      if (result && typeof result.then === 'function') result.then(done, fail);
    });
  }
  return Promise.resolve().then(() => handler(event, context));
}

// The emulator appends the handler as the bootstrap's last argument (and sets _HANDLER).
const handlerSpec = process.argv[2] ?? process.env._HANDLER;
let handler;
try {
  handler = await loadHandler(handlerSpec);
} catch (error) {
  console.error(error);
  await call('POST', '/init/error', errorBody(error), { 'lambda-runtime-function-error-type': 'Runtime.ImportModuleError' }).catch(() => undefined);
  process.exit(1);
}

for (;;) {
  let next;
  try {
    next = await call('GET', '/invocation/next');
  } catch (error) {
    // The emulator is gone (stopped): nothing left to serve.
    console.error(`runtime.mjs: Runtime API unreachable (${error.message}); exiting`);
    process.exit(0);
  }
  if (next.status !== 200) {
    console.error(`runtime.mjs: invocation/next answered ${next.status}: ${next.body}`);
    await new Promise((done) => setTimeout(done, 100));
    continue;
  }
  const requestId = String(next.headers['lambda-runtime-aws-request-id'] ?? '');
  const deadline = Number(next.headers['lambda-runtime-deadline-ms'] ?? Date.now() + 300_000);
  const context = {
    awsRequestId: requestId,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'function',
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION ?? '$LATEST',
    invokedFunctionArn: String(next.headers['lambda-runtime-invoked-function-arn'] ?? ''),
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '128',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try {
    const event = next.body === '' ? null : JSON.parse(next.body);
    const result = await invoke(handler, event, context);
    await call('POST', `/invocation/${requestId}/response`, JSON.stringify(result ?? null));
  } catch (error) {
    await call('POST', `/invocation/${requestId}/error`, errorBody(error), { 'lambda-runtime-function-error-type': 'Runtime.UnhandledError' });
  }
}
