/**
 * Polls `check` until it holds, failing after `timeoutMs` with "<what> not reached within N ms".
 * A deadline, not a timing assertion: it only bounds how long a test waits for a condition.
 * Also reachable as '@peregrine/testkit/eventually', without loading the testkit index.
 */
export async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
