/**
 * Test support for the sensor: the probe tests' sysc helper (a small C
 * program doing exactly the syscalls it is told, built by
 * native/scripts/build.sh) is reused as is rather than copied.
 */
export { SYSC, requireBuilt, runHelper, type HelperRun } from '../../../native/test/support.ts';
