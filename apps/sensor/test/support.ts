/**
 * Test support for the sensor: the probe tests' sysc helper (a small C
 * program doing exactly the syscalls it is told, built by
 * native/scripts/build.sh) is reused as is rather than copied.
 */
import { readFileSync } from 'node:fs';

export { SYSC, requireBuilt, runHelper, type HelperRun } from '../../../native/test/support.ts';

/**
 * This test process's name as the kernel reports it (/proc/self/comm), which the sensor seeds
 * from /proc: "node" on Node 20, "MainThread" on Node 24 (it names its main thread with
 * PR_SET_NAME, and the main thread's name is the process's).
 */
export const SELF_COMM = readFileSync('/proc/self/comm', 'utf8').trim();
