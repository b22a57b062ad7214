/**
 * The last step of a command's process: `code` becomes the exit code, and if
 * anything still holds the event loop `graceMs` after the command finished its
 * own orderly shutdown, the process exits anyway and says what was left open.
 *
 * Why: a stopped hub must not linger until its orchestrator SIGKILLs it, and
 * a library can leave a timer or socket behind after we closed it. Seen here:
 * a hub on a Redis Cluster that had closed everything it owns still held a
 * socket to one Cluster node (ioredis/BullMQ's), about one stop in 400 of
 * apps/hub/test/recovery.test.ts's rounds, and never exited. In the normal
 * case nothing is open: the process ends at once and this timer (unref'd)
 * never fires.
 */
export function exitAfterShutdown(code: number, graceMs = 2000): void {
  process.exitCode = code;
  const timer = setTimeout(() => {
    const open = handlesKeepingAlive();
    process.stderr.write(`peregrine: finished, but ${open.length} handle(s) were still open ${graceMs} ms later (${summarize(open)}); exiting with code ${code}\n`);
    process.exit(code);
  }, graceMs);
  timer.unref();
}

/**
 * What holds the event loop: referenced timers (Node's getActiveResourcesInfo
 * lists only those) and referenced handles other than stdio (that list also
 * has stdio, so handles are read from the undocumented list, if there is one).
 */
function handlesKeepingAlive(): string[] {
  const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate');
  const list = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles?.() ?? [];
  const stdio = new Set<unknown>([process.stdin, process.stdout, process.stderr]);
  const handles = list
    .filter((h) => !stdio.has(h) && (h as { hasRef?: () => boolean }).hasRef?.() !== false)
    .map((h) => {
      const name = (h as object).constructor?.name ?? 'handle';
      const socket = h as { remoteAddress?: string; remotePort?: number };
      return socket.remoteAddress === undefined ? name : `${name} to ${socket.remoteAddress}:${socket.remotePort}`;
    });
  return [...timers, ...handles];
}

/** "Timeout ×2, Socket to 127.0.0.1:6379" */
function summarize(handles: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const h of handles) counts.set(h, (counts.get(h) ?? 0) + 1);
  return [...counts].map(([name, n]) => (n === 1 ? name : `${name} ×${n}`)).join(', ') || 'none listed';
}
