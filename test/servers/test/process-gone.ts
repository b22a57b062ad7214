// What the smoke tests check after stop(): no process of the server is left.
import assert from 'node:assert/strict';

/** True while any process is in process group `pgid` (the starters run each server as a group). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

export function assertGroupGone(pgid: number, what: string): void {
  assert.ok(pgid > 0, `${what}: no pid`);
  assert.equal(groupAlive(pgid), false, `${what}: processes of group ${pgid} are still running after stop()`);
}
