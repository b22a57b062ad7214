/**
 * @peregrine/sensor — the per-node sensor: process, fd and container state
 * rebuilt from probe events, the syscall-event field extractor over those
 * tables, event sources (live probe, capture file), the rules pipeline, and
 * the alert outputs (stdout, file, hub) with their on-disk spool.
 */
export {};
